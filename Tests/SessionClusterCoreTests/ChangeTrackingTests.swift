import Testing

@testable import SessionClusterCore

/// What the append log of persistence `log` mode takes from the core (`trackChanges`, `takeChangedCopies`): every
/// copy whose version changed, by any path, and nothing else.
@Suite struct ChangeTrackingTests {
    let n1 = ReplicationCluster.node(1)
    let n2 = ReplicationCluster.node(2)

    @Test func untrackedNodesRecordNothing() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        cluster.create(sessionID(1), on: n1, setting(["cart": "one"]))
        #expect(cluster.nodes[n1]!.takeChangedCopies().isEmpty)
    }

    @Test func localWritesPeerDeltasAndEndsAreRecordedOncePerTake() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        cluster.nodes[n1]!.trackChanges()
        cluster.nodes[n2]!.trackChanges()
        let (a, b) = (sessionID(1), sessionID(2))
        cluster.create(a, on: n1, setting(["cart": "one"]))
        cluster.create(b, on: n1, setting(["user": "bob"]))
        cluster.commit(a, on: n1, setting(["cart": "two"]))
        // Two changes of `a` since the last take: one copy, in its latest state.
        let local = cluster.nodes[n1]!.takeChangedCopies()
        #expect(Set(local.map(\.id)) == [a, b] && local.count == 2)
        #expect(local.first { $0.id == a }?.attribute("cart") == bytes("two"))
        #expect(cluster.nodes[n1]!.takeChangedCopies().isEmpty)
        // The peer records what it merged from n1's deltas.
        cluster.deliverAll()
        #expect(Set(cluster.nodes[n2]!.takeChangedCopies().map(\.id)) == [a, b])
        // A logout on the peer: a tombstone, recorded on both sides.
        var logout = SessionChanges()
        logout.invalidate()
        cluster.commit(b, on: n2, logout)
        cluster.deliverAll()
        for node in [n1, n2] {
            let copies = cluster.nodes[node]!.takeChangedCopies()
            #expect(copies.map(\.id) == [b] && copies.first?.isValid == false)
        }
    }

    @Test func aReadThatChangesNoVersionIsNotRecorded() {
        var cluster = ReplicationCluster(count: 1, settings: .unitTest())
        cluster.nodes[n1]!.trackChanges()
        let id = sessionID(1)
        cluster.create(id, on: n1, setting(["cart": "one"]))
        _ = cluster.nodes[n1]!.takeChangedCopies()
        // A read right after the write: no access refresh is due, no delta, nothing to log.
        cluster.commit(id, on: n1, SessionChanges())
        #expect(cluster.nodes[n1]!.takeChangedCopies().isEmpty)
    }
}
