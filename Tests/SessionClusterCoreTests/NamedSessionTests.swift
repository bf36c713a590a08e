import SessionClusterCore
import Testing

/// Named sessions (Redis keys): they never expire by inactivity, are forgotten once they hold nothing for the
/// tombstone retention, and may be created again afterwards without a copy not yet purged elsewhere mistaking
/// the new first delta for one it has.
@Suite struct NamedSessionTests {
    let n1 = ReplicationCluster.node(1)
    let n2 = ReplicationCluster.node(2)
    let id = sessionID(7)

    static var settings: ReplicationSettings {
        var settings = ReplicationSettings.unitTest(.delta)
        settings.sweepIntervalMillis = 100
        settings.tombstoneRetentionMillis = 1_000
        return settings
    }

    func named(_ pairs: KeyValuePairs<String, String>) -> SessionChanges {
        var changes = setting(pairs)
        changes.setMaxInactive(seconds: 0)
        return changes
    }

    func removing(_ name: String) -> SessionChanges {
        var changes = SessionChanges()
        changes.remove(name)
        return changes
    }

    /// Access and commit on `node` (a write needs an access first).
    func write(_ cluster: inout ReplicationCluster, on node: NodeID, _ changes: SessionChanges) {
        cluster.access(id, on: node, token: nil, ticket: 1)
        cluster.commit(id, on: node, changes)
        cluster.deliverAll()
    }

    func sweep(_ cluster: inout ReplicationCluster, _ nodes: [NodeID], after millis: Int64) {
        cluster.advance(millis)
        for node in nodes { cluster.tick(node) }
        cluster.deliverAll()
    }

    @Test func anEmptyNamedSessionIsForgottenOnEveryHolderAfterTheRetention() {
        var cluster = ReplicationCluster(count: 3, settings: Self.settings)
        cluster.create(id, on: n1, named(["value": "v"]))
        cluster.deliverAll()
        write(&cluster, on: n2, removing("value"))
        #expect(cluster.copies(of: id).count == 3)
        sweep(&cluster, cluster.ids, after: 500)
        #expect(cluster.copies(of: id).count == 3, "kept for the retention")
        sweep(&cluster, cluster.ids, after: 700)
        #expect(cluster.copies(of: id).isEmpty)
        #expect(cluster.ids.allSatisfy { cluster[$0].counters.emptyPurged == 1 })
    }

    @Test func aNamedSessionHoldingSomethingAndAnEmptyHTTPSessionStay() {
        var cluster = ReplicationCluster(count: 2, settings: Self.settings)
        cluster.create(id, on: n1, named(["value": "v"]))
        let http = sessionID(8)
        cluster.create(http, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        cluster.access(http, on: n1, token: nil, ticket: 2)
        cluster.commit(http, on: n1, removing("user"))
        cluster.deliverAll()
        sweep(&cluster, cluster.ids, after: 5_000)
        #expect(cluster.holders(of: id).count == 2, "a key that holds a value never expires by inactivity")
        #expect(cluster.holders(of: http).count == 2, "an HTTP session is not a named one: it lives to its deadline")
    }

    @Test func aNamedSessionCreatedAgainAfterItsPurgeReachesACopyNotYetPurged() throws {
        var cluster = ReplicationCluster(count: 2, settings: Self.settings)
        cluster.create(id, on: n1, named(["value": "old"]))
        cluster.deliverAll()
        write(&cluster, on: n1, removing("value"))
        sweep(&cluster, [n1], after: 1_200)  // n1 purges; n2's sweep has not come round yet
        #expect(cluster[n1].session(id) == nil)
        #expect(cluster[n2].session(id)?.version[n1] == 2)

        // Created again from counter 1, the first delta reuses dot (n1, 1): n2 takes it for one it has.
        var reused = cluster
        reused.create(id, on: n1, named(["value": "new"]))
        reused.deliverAll()
        #expect(reused[n2].session(id)?.content.liveAttributes["value"] == nil)

        // From a counter above every earlier one (what a node does for a named session), n2 applies it.
        var fresh = cluster
        let commit = fresh.nodes[n1]!.create(id, changes: named(["value": "new"]), now: fresh.now, firstCounter: 1_000)
        fresh.route(commit.directives, from: n1)
        fresh.deliverAll()
        #expect(fresh[n2].session(id)?.content.liveAttributes["value"] == Array("new".utf8))
        #expect(fresh[n2].session(id)?.version[n1] == 1_000)
    }
}
