import Testing

@testable import SessionClusterCore

/// `ReplicationInstance.restore`: copies from a node's snapshot are joined like copies from a peer.
@Suite struct RestoreTests {
    let n1 = ReplicationCluster.node(1)
    let n2 = ReplicationCluster.node(2)
    let n3 = ReplicationCluster.node(3)

    /// Two sessions on both nodes; the snapshot n1 would write; then n2 writes one and logs the other out.
    func olderSnapshot(_ cluster: inout ReplicationCluster) -> (snapshot: [Session], kept: SessionID, ended: SessionID)
    {
        let kept = sessionID(1)
        let ended = sessionID(2)
        cluster.create(kept, on: n1, setting(["cart": "old"]))
        cluster.create(ended, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        let snapshot = cluster[n1].heldCopies()
        cluster.commit(kept, on: n2, setting(["cart": "new"]))
        var logout = SessionChanges()
        logout.invalidate()
        cluster.commit(ended, on: n2, logout)
        cluster.deliverAll()
        return (snapshot, kept, ended)
    }

    @Test func heldCopiesListSessionsAndTombstones() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        let (_, kept, ended) = olderSnapshot(&cluster)
        let copies = cluster[n2].heldCopies()
        #expect(Set(copies.map(\.id)) == [kept, ended])
        #expect(copies.first { $0.id == ended }?.isValid == false)
    }

    @Test func anOlderSnapshotNeverOverridesNewerCopiesOrEnds() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        let (snapshot, kept, ended) = olderSnapshot(&cluster)
        let before = [cluster[n2].session(kept), cluster[n2].session(ended)]
        let outcome = cluster.nodes[n2]!.restore(snapshot, now: cluster.now)
        #expect(outcome.restored == 2)
        #expect([cluster[n2].session(kept), cluster[n2].session(ended)] == before)
        #expect(cluster[n2].session(kept)?.attribute("cart") == Array("new".utf8))
        #expect(cluster[n2].session(ended)?.isValid == false)
    }

    @Test func aRestartedNodeRestoresThenReconcilesWithItsPeer() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        let (snapshot, kept, ended) = olderSnapshot(&cluster)
        cluster.remove(n1)
        cluster.setMembers(of: n2, to: [n2])
        cluster.deliverAll()
        // n1 comes back as a new incarnation (n3) from its older file, before it knows any peer.
        cluster.addNode(3)
        let outcome = cluster.nodes[n3]!.restore(snapshot, now: cluster.now)
        #expect(outcome.restored == 2 && outcome.directives.isEmpty)
        #expect(cluster[n3].session(kept)?.attribute("cart") == Array("old".utf8))
        cluster.setMembers(of: n3, to: [n2, n3])
        cluster.setMembers(of: n2, to: [n2, n3])
        cluster.deliverAll()
        for node in [n2, n3] {
            #expect(cluster[node].session(kept)?.attribute("cart") == Array("new".utf8))
            #expect(cluster[node].session(ended)?.isValid == false)
        }
    }

    @Test func whatExpiredWhileDownIsDropped() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        let (_, kept, ended) = olderSnapshot(&cluster)
        let snapshot = cluster[n2].heldCopies()
        let settings = ReplicationSettings.unitTest()
        // Past the session's deadline: the valid copy is dropped; the tombstone is kept until its purge time.
        let later = cluster.now.adding(millis: settings.defaultMaxInactiveSeconds * 1_000 + 1_000)
        var fresh = ReplicationInstance(settings: settings, me: n3, key: "n3", now: later)
        let outcome = fresh.restore(snapshot, now: later)
        #expect(outcome.expired == 1 && outcome.restored == 1)
        #expect(fresh.session(kept) == nil && fresh.session(ended)?.isValid == false)
        // Past the tombstone's retention too: nothing is left.
        let muchLater = later.adding(millis: settings.tombstoneRetentionMillis + 1_000)
        var empty = ReplicationInstance(settings: settings, me: n3, key: "n3", now: muchLater)
        let none = empty.restore(snapshot, now: muchLater)
        #expect(none.restored == 0 && none.expired == 1 && none.purged == 1)
    }

    @Test func backupModeRestoresAsPrimaryBeforeTheRingIsKnown() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest(.backup))
        let id = sessionID(7)
        cluster.create(id, on: n1, setting(["user": "bob"]))
        cluster.deliverAll()
        let snapshot = cluster.ids.flatMap { cluster[$0].heldCopies() }
        var fresh = ReplicationInstance(settings: .unitTest(.backup), me: n3, key: "n3", now: cluster.now)
        let outcome = fresh.restore(snapshot, now: cluster.now)
        #expect(outcome.restored == 2, "primary's and backup's copies, joined into one")
        #expect(fresh.copyCount == 1)
        #expect(fresh.session(id)?.attribute("user") == Array("bob".utf8))
        #expect(fresh.primaryCount == 1)
    }
}

extension RestoreTests {
    /// Right after joining, before any state transfer: the first access to a restored copy asks the peer, so the
    /// newer write is served and the logged-out session is not found — never the snapshot's older state.
    @Test(arguments: [ReplicationMode.delta, .backup])
    func aRestoredCopyIsConfirmedByAPeerBeforeItIsServed(mode: ReplicationMode) {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest(mode))
        let (snapshot, kept, ended) = olderSnapshot(&cluster)
        cluster.remove(n1)
        cluster.setMembers(of: n2, to: [n2])
        cluster.deliverAll()
        cluster.addNode(3)
        _ = cluster.nodes[n3]!.restore(snapshot, now: cluster.now)
        cluster.setMembers(of: n3, to: [n2, n3])
        cluster.setMembers(of: n2, to: [n2, n3])
        // Nothing delivered yet: the transfer has not run.
        let first = cluster.access(ended, on: n3, token: nil, ticket: 1)
        #expect(!first.contains { if case .accessReady = $0 { true } else { false } })
        let second = cluster.access(kept, on: n3, token: nil, ticket: 2)
        #expect(!second.contains { if case .accessReady = $0 { true } else { false } })
        cluster.deliverAll()
        let outputs = cluster.outputs[n3] ?? []
        #expect(outputs.contains { if case .accessFailed(1, .notFound) = $0 { true } else { false } })
        let served = outputs.compactMap { directive -> Session? in
            if case .accessReady(2, let session, _) = directive { return session }
            return nil
        }
        #expect(served.first?.attribute("cart") == Array("new".utf8))
    }

    @Test func aOneNodeClusterServesItsRestoredCopiesAtOnce() {
        var cluster = ReplicationCluster(count: 1, settings: .unitTest())
        let id = sessionID(9)
        cluster.create(id, on: n1, setting(["user": "carol"]))
        let snapshot = cluster[n1].heldCopies()
        var fresh = ReplicationInstance(settings: .unitTest(), me: n3, key: "n3", now: cluster.now)
        fresh.rosterIsOnlyMe = true  // a one-node cluster: nobody else can hold a newer copy
        _ = fresh.restore(snapshot, now: cluster.now)
        let directives = fresh.access(id, token: nil, ticket: 1, now: cluster.now)
        #expect(directives.contains { if case .accessReady(1, _, _) = $0 { true } else { false } })
    }

    /// Restarted while its peers run on, a node has not heard them yet in its first moments: a restored copy
    /// is not served then (a fresh-eyes finding: a logged-out session answered 200 for 250 ms), but answered
    /// unavailable until a peer confirms it — or until membership settled with no peer, when the copy is the best
    /// there is.
    @Test func aRestoredCopyIsNotServedBeforeMembershipSettledOrAPeerConfirmed() {
        var cluster = ReplicationCluster(count: 1, settings: .unitTest())
        let id = sessionID(9)
        cluster.create(id, on: n1, setting(["user": "carol"]))
        let snapshot = cluster[n1].heldCopies()
        var fresh = ReplicationInstance(settings: .unitTest(), me: n3, key: "n3", now: cluster.now)
        fresh.adoptMembershipTiming(settleMillis: 3_000, retentionMillis: 60_000)
        _ = fresh.restore(snapshot, now: cluster.now)
        let early = fresh.access(id, token: nil, ticket: 1, now: cluster.now.adding(millis: 250))
        #expect(early.contains { if case .accessFailed(1, .unavailable) = $0 { true } else { false } })
        #expect(!early.contains { if case .accessReady = $0 { true } else { false } })
        let settled = fresh.access(id, token: nil, ticket: 2, now: cluster.now.adding(millis: 3_000))
        #expect(settled.contains { if case .accessReady(2, _, _) = $0 { true } else { false } })
    }
}
