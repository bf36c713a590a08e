import SessionClusterCore
import Testing

/// Every request gets a definite answer: no completion lost, no 503 from a healthy cluster, and "lost" (401)
/// instead of 503 forever once no live member can hold a session.
@Suite struct AvailabilityTests {
    let n1 = ReplicationCluster.node(1)
    let n2 = ReplicationCluster.node(2)
    let n3 = ReplicationCluster.node(3)
    let id = sessionID(1)

    // MARK: Sync commits with no one to wait for

    @Test(arguments: [ReplicationMode.delta, .backup])
    func syncCommitOfALoneNodeIsAcknowledgedAtOnce(mode: ReplicationMode) {
        var cluster = ReplicationCluster(count: 1, settings: .unitTest(mode, ack: .sync))
        cluster.nodes[n1]!.rosterIsOnlyMe = true  // a one-node cluster file: alone from the start
        let created = cluster.create(id, on: n1, setting(["user": "alice"]))
        // No commit id: nothing will complete later, so no caller can miss a completion.
        #expect(created.outcome == .committed)
        #expect(created.awaiting == nil)
        #expect(created.directives.isEmpty)
        #expect(cluster[n1].counters.syncAcknowledged == 1)
        #expect(cluster[n1].isQuiet)
    }

    @Test(arguments: [ReplicationMode.delta, .backup])
    func syncCommitOfTheLastSurvivorIsAcknowledgedAtOnce(mode: ReplicationMode) throws {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest(mode, ack: .sync))
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        cluster.remove(n2)
        cluster.setMembers(of: n1, to: [n1])
        let write = cluster.commit(id, on: n1, setting(["cart": "1"]))
        #expect(write.awaiting == nil)
        #expect(!write.directives.contains { if case .commitCompleted = $0 { true } else { false } })
        #expect(cluster[n1].isQuiet)
    }

    /// A node that just started and has heard from no peer yet may not be alone: a `sync` commit then waits for
    /// the peers to appear (the delta goes to them), or for membership to settle with nobody. Acknowledged at
    /// once before, it let a rotation made there be served under the old id elsewhere (`delta-sync-4004709`).
    @Test func syncCommitBeforeAnyPeerWasHeardFromWaitsForThePeers() throws {
        var cluster = ReplicationCluster(count: 1, settings: .unitTest(.delta, ack: .sync))
        cluster.addNode(2)
        let created = cluster.create(id, on: n1, setting(["user": "alice"]))
        let commit = try #require(created.awaiting, "acknowledged before anyone could be asked")
        cluster.setMembers(of: n2, to: [n1, n2])
        cluster.setMembers(of: n1, to: [n1, n2])
        cluster.deliverAll()
        #expect(cluster.outputs[n1]?.contains(.commitCompleted(commit, acknowledged: true)) == true)
        #expect(cluster[n2].session(id)?.attribute("user") == bytes("alice"))
    }

    @Test func syncCommitOfANodeStillAloneWhenMembershipSettledIsAcknowledged() throws {
        var cluster = ReplicationCluster(count: 1, settings: .unitTest(.delta, ack: .sync))
        let created = cluster.create(id, on: n1, setting(["user": "alice"]))
        let commit = try #require(created.awaiting)
        cluster.advance(3_000)
        cluster.tick(n1)
        #expect(cluster.outputs[n1]?.contains(.commitCompleted(commit, acknowledged: true)) == true)
        #expect(cluster[n1].counters.syncTimedOut == 0)
    }

    // MARK: Backup mode: acknowledgements after the session moved

    @Test func backupWriteIsAcknowledgedByTheNodeItWasPassedOnTo() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest(.backup, ack: .sync))
        let backup = try #require(cluster.ring.backup(of: id, primary: n1))
        let third = [n2, n3].first { $0 != backup }!
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        cluster.outputs = [:]

        // n1 writes for its backup; before the delta arrives, `third` takes the session over with n1 as backup.
        let write = cluster.commit(id, on: n1, setting(["cart": "1"]))
        let commitID = try #require(write.awaiting)
        let taken = Placement(epoch: 2, primary: third, backup: n1)
        cluster.receive(.placement(id, taken), at: backup, from: third)
        #expect(cluster[backup].session(id) == nil, "the former backup handed its copy on")

        // The former backup passes the delta to the primary it knows; that primary's acknowledgement counts.
        cluster.deliverAll()
        #expect(cluster.outputs[n1]?.contains(.commitCompleted(commitID, acknowledged: true)) == true)
        #expect(cluster[n1].isQuiet)
        #expect(cluster[third].session(id)?.version.covers(write.version) == true)
    }

    // MARK: Backup mode: placement of a copy whose snapshot was lost

    @Test func copyCreatedByADeltaKnowsItsPlacementAndIsPromoted() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest(.backup))
        let backup = try #require(cluster.ring.backup(of: id, primary: n1))
        let third = [n2, n3].first { $0 != backup }!
        cluster.create(id, on: n1, setting(["user": "alice"]))
        _ = cluster.take { if case .snapshot = $0.message { true } else { false } }  // lost on the way
        cluster.deliverAll()
        #expect(cluster[backup].placement(of: id) == Placement(epoch: 1, primary: n1, backup: backup))

        cluster.remove(n1)
        cluster.setMembers(of: backup, to: [backup, third])
        cluster.setMembers(of: third, to: [backup, third])
        cluster.deliverAll()
        #expect(cluster[backup].placement(of: id)?.primary == backup, "the orphaned copy got a primary")
        #expect(cluster.holders(of: id) == [backup, third].sorted())
    }

    // MARK: Fetches: a session that moved while it was asked for

    @Test func fetchAsksAgainWhenEveryCandidateSaidNotHere() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest(.backup))
        let owners = cluster.ring.owners(of: id)
        let (creator, outsider) = (owners[1], owners[2])
        let created = cluster.create(id, on: creator, setting(["user": "alice"]))
        cluster.deliverAll()
        cluster.outputs = [:]

        // First pass: each holder answers "not here" (as if the session were moving between them meanwhile).
        cluster.access(id, on: outsider, token: created.version, ticket: 7)
        for _ in 0..<2 {
            let asked = cluster.take { $0.from == outsider }
            let fetch = try #require(asked.first)
            guard case .fetch(let request, _, _) = fetch.message else {
                Issue.record("expected a fetch, got \(fetch.message)")
                return
            }
            cluster.receive(.fetchReply(request, id, nil, nil), at: outsider, from: fetch.to)
        }
        #expect(cluster.outputs[outsider] == nil, "no 503 after one pass of 'not here' in a healthy cluster")
        #expect(cluster.inFlight.contains { $0.from == outsider && $0.message.isFetch }, "a second pass")

        cluster.deliverAll()
        #expect(cluster.outputs[outsider]?.first?.isAccessReady == true)
    }

    // MARK: Lost, not 503 forever

    @Test(arguments: [ReplicationMode.delta, .backup])
    func tokenOfAPreviousClusterIsLostOnceMembershipSettled(mode: ReplicationMode) {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest(mode))
        // Every node restarted: the token names incarnations no live member knows, and nobody holds the session.
        let oldToken = VersionVector([NodeID(rawValue: 901): 4, NodeID(rawValue: 902): 2])
        cluster.access(id, on: n1, token: oldToken, ticket: 1)
        cluster.deliverAll()
        #expect(cluster.outputs[n1] == [.accessFailed(1, .unavailable)], "too early to know every live member")

        cluster.outputs = [:]
        cluster.advance(3_000)
        cluster.access(id, on: n1, token: oldToken, ticket: 2)
        cluster.deliverAll()
        #expect(cluster.outputs[n1] == [.event(.sessionLost(id)), .accessFailed(2, .lost)])
        #expect(cluster[n1].counters.sessionsLost == 1)
    }

    @Test func sessionOfAMemberCutOffByTimeoutStaysUnavailableUntilForgotten() {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest(.backup))
        cluster.create(id, on: n3, setting(["user": "alice"]))
        let token = cluster[n3].session(id)!.version
        _ = cluster.take { _ in true }  // n3's copies never leave: it is cut off at once
        cluster.advance(3_000)
        // n3 dead by timeout (not known gone): it may be behind a partition, holding the session.
        cluster.setMembers(of: n1, to: [n1, n2])
        cluster.access(id, on: n1, token: token, ticket: 1)
        cluster.deliverAll(where: { $0.to != n3 })
        #expect(cluster.outputs[n1] == [.accessFailed(1, .unavailable)])

        cluster.outputs = [:]
        cluster.advance(60_000)
        cluster.access(id, on: n1, token: token, ticket: 2)
        cluster.deliverAll(where: { $0.to != n3 })
        #expect(cluster.outputs[n1] == [.event(.sessionLost(id)), .accessFailed(2, .lost)])
    }
}

extension AvailabilityTests {
    @Test func tokenOfAMemberAPeerRemembersAsDeadStaysUnavailable() {
        // This node started into a partition: it never saw the writer, but a peer's gossip says it went silent.
        var cluster = ReplicationCluster(count: 2, settings: .unitTest(.backup))
        let hidden = NodeID(rawValue: 77)
        cluster.nodes[n1]!.onHeardUnreachable(hidden, now: cluster.now)
        cluster.advance(3_000)
        cluster.access(id, on: n1, token: VersionVector([hidden: 2]), ticket: 1)
        cluster.deliverAll()
        #expect(cluster.outputs[n1] == [.accessFailed(1, .unavailable)])
    }
}

extension ReplicationMessage {
    var isFetch: Bool {
        if case .fetch = self { true } else { false }
    }
}

extension ReplicationDirective {
    var isAccessReady: Bool {
        if case .accessReady = self { true } else { false }
    }
}

/// A node that starts into a partition cannot tell a live writer it never heard from from an incarnation before a
/// restart; the roster (the cluster file's nodes) tells it whom it has not heard from yet.
extension AvailabilityTests {
    @Test func noLostWhileAnExpectedMemberIsMissing() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest(.backup))
        // n3 is in the roster but out of reach; the token names a writer n1 never heard of (n3's incarnation).
        cluster.nodes[n1]!.expectedPeerNames = ["n2", "n3"]
        let writer = NodeID(rawValue: 903)
        cluster.access(id, on: n1, token: VersionVector([writer: 2]), ticket: 0)
        cluster.deliverAll()
        #expect(cluster.outputs[n1] == [.accessFailed(0, .unavailable)], "too early to know every live member")

        // Settled, and the writer unknown for as long: without the roster this was "lost".
        cluster.outputs = [:]
        cluster.advance(3_000)
        cluster.access(id, on: n1, token: VersionVector([writer: 2]), ticket: 1)
        cluster.deliverAll()
        #expect(cluster.outputs[n1] == [.accessFailed(1, .unavailable)], "n3 may hold it behind a partition")

        // Long enough after start (the retention of a dead member) the roster no longer holds the answer back.
        cluster.outputs = [:]
        cluster.advance(60_000)
        cluster.access(id, on: n1, token: VersionVector([writer: 2]), ticket: 2)
        cluster.deliverAll()
        #expect(cluster.outputs[n1] == [.event(.sessionLost(id)), .accessFailed(2, .lost)])
    }

    @Test func lostOnceEveryExpectedMemberIsLive() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest(.backup))
        cluster.nodes[n1]!.expectedPeerNames = ["n2"]
        let token = VersionVector([NodeID(rawValue: 903): 2])
        cluster.access(id, on: n1, token: token, ticket: 1)
        cluster.deliverAll()
        #expect(cluster.outputs[n1] == [.accessFailed(1, .unavailable)], "too early to know every live member")

        cluster.outputs = [:]
        cluster.advance(3_000)
        cluster.access(id, on: n1, token: token, ticket: 2)
        cluster.deliverAll()
        #expect(cluster.outputs[n1] == [.event(.sessionLost(id)), .accessFailed(2, .lost)])
    }
}

/// A holder cut off while a session ended keeps a live copy; a node that heard of the end but holds no copy
/// (backup mode: it is not a holder) answers that copy with a tombstone, so the session ends everywhere.
extension AvailabilityTests {
    /// n-holder ends the session while its backup misses the invalidation; an outsider hears of it. Returns the
    /// backup (holding a stale live copy) and the outsider.
    private func endWhileBackupIsCutOff(_ cluster: inout ReplicationCluster) throws -> (NodeID, NodeID) {
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        let placement = try #require(cluster[n1].placement(of: id))
        let backup = try #require(placement.backup)
        let outsider = try #require(cluster.ids.first { !placement.holders.contains($0) })
        var logout = SessionChanges()
        logout.invalidate()
        cluster.commit(id, on: placement.primary, logout)
        let sent = cluster.take { _ in true }
        let ending = try #require(
            sent.first {
                if case .delta(let delta, _) = $0.message { delta.patch.invalidation != nil } else { false }
            })
        cluster.receive(ending.message, at: outsider, from: placement.primary)
        cluster.deliverAll()
        try #require(cluster[backup].session(id)?.isValid == true, "the backup missed the end")
        return (backup, outsider)
    }

    @Test func aSnapshotOfAnEndedSessionIsAnsweredWithATombstone() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest(.backup))
        let (backup, outsider) = try endWhileBackupIsCutOff(&cluster)
        let stale = try #require(cluster[backup].session(id))
        cluster.receive(.snapshot(stale, cluster[backup].placement(of: id)), at: outsider, from: backup)
        cluster.deliverAll()
        #expect(cluster[backup].session(id)?.isValid == false)
        #expect(cluster.holders(of: id).isEmpty)
    }

    @Test func aDigestListingAnEndedSessionIsAnsweredWithATombstone() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest(.backup))
        let (backup, outsider) = try endWhileBackupIsCutOff(&cluster)
        let stale = try #require(cluster[backup].session(id))
        let entry = DigestEntry(sessionID: id, version: stale.version, placement: cluster[backup].placement(of: id))
        cluster.receive(.digest(round: 1, [entry], last: true), at: outsider, from: backup)
        cluster.deliverAll()
        #expect(cluster[backup].session(id)?.isValid == false)
    }
}

/// A primary ends a session while cut off from the other holders, then hears a newer placement that leaves it out
/// (a takeover on the other side): its hand-off of the tombstone is lost too. Dropping the tombstone then left the
/// session valid at the holders once the partition healed (simulator seed `backup-async-4002908`).
extension AvailabilityTests {
    @Test func aTombstoneHandedOffWhileItsHoldersAreCutOffReachesThemByDigest() throws {
        var settings = ReplicationSettings.unitTest(.backup)
        settings.antiEntropyIntervalMillis = 100
        var cluster = ReplicationCluster(count: 3, settings: settings)
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        let placement = try #require(cluster[n1].placement(of: id))
        try #require(placement.primary == n1)
        let backup = try #require(placement.backup)
        let outsider = try #require(cluster.ids.first { !placement.holders.contains($0) })
        var logout = SessionChanges()
        logout.invalidate()
        cluster.commit(id, on: n1, logout)
        _ = cluster.take { $0.from == n1 }  // the partition: nothing of the end gets out
        let takeover = Placement(epoch: placement.epoch + 1, primary: outsider, backup: backup)
        cluster.receive(.placement(id, takeover), at: n1, from: outsider)
        _ = cluster.take { $0.from == n1 }  // nor does the hand-off
        try #require(cluster[backup].session(id)?.isValid == true, "the backup missed the end")
        #expect(cluster[n1].session(id)?.isValid == false, "the old primary keeps its tombstone")

        // The partition heals: anti-entropy lists the tombstone to the holders, who pull it.
        for _ in 0..<4 {
            cluster.advance(100)
            cluster.tick(n1)
            cluster.deliverAll()
        }
        #expect(cluster[backup].session(id)?.isValid == false)
        #expect(cluster.holders(of: id).isEmpty)
    }
}

/// A node keeps the tombstone of a session it no longer holds, and every holder its placement names crashes; the
/// copy that still serves the session is elsewhere (here the old backup, which missed the end and the takeover).
/// The tombstone was listed only to the named holders, so the session stayed valid there for good: a rotation
/// (change of id) heard only by a non-holder left the old id valid (simulator seed `backup-async-795957145834`).
/// It is listed to the session's owners on the ring too.
extension AvailabilityTests {
    @Test func aTombstoneWhoseNamedHoldersAreGoneReachesTheRingOwnersByDigest() throws {
        var settings = ReplicationSettings.unitTest(.backup)
        settings.antiEntropyIntervalMillis = 100
        // Five nodes. A session created on n1 (backup B) such that, once two of the others (X, Y) are gone, its
        // two ring owners among the three left are B and the last one (Z), not n1: n1 then has no role of its own
        // that would make it re-place the session, and only its digest can carry the end.
        var found: (ReplicationCluster, SessionID, Placement, NodeID, [NodeID], NodeID)?
        for seed in UInt64(1)...400 where found == nil {
            var cluster = ReplicationCluster(count: 5, settings: settings)
            let candidate = sessionID(1_000 + seed)
            cluster.create(candidate, on: n1, setting(["user": "alice"]))
            cluster.deliverAll()
            guard let placement = cluster[n1].placement(of: candidate), placement.primary == n1,
                let backup = placement.backup
            else { continue }
            for last in cluster.ids where last != n1 && last != backup {
                let ring = HashRing(
                    members: [n1, backup, last].map { HashRing.Member(id: $0, key: cluster.names[$0]!) })
                if !ring.owners(of: candidate, limit: 2).contains(n1) {
                    let gone = cluster.ids.filter { ![n1, backup, last].contains($0) }
                    found = (cluster, candidate, placement, backup, gone, last)
                    break
                }
            }
        }
        var (cluster, id, placement, backup, gone, last) = try #require(found)
        // n1 ends the session cut off from everyone, then hears of a takeover by X and Y.
        var logout = SessionChanges()
        logout.invalidate()
        cluster.commit(id, on: n1, logout)
        _ = cluster.take { $0.from == n1 }
        let takeover = Placement(epoch: placement.epoch + 2, primary: gone[0], backup: gone[1])
        cluster.receive(.placement(id, takeover), at: n1, from: gone[0])
        _ = cluster.take { _ in true }  // nothing of the end or of that takeover gets out
        // Meanwhile, on the other side, B took the session over with Z as its backup.
        let other = Placement(epoch: placement.epoch + 1, primary: backup, backup: last)
        cluster.receive(.placement(id, other), at: backup, from: last)
        cluster.receive(.placement(id, other), at: last, from: backup)
        cluster.deliverAll(where: { $0.to != n1 && $0.from != n1 })
        _ = cluster.take { _ in true }
        #expect(cluster[n1].session(id)?.isValid == false, "n1 keeps its tombstone")
        try #require(cluster[backup].session(id)?.isValid == true, "B missed the end")
        try #require(cluster[last].session(id)?.isValid == true, "Z holds a copy as B's backup")
        // X and Y crash before anything of it got out.
        for node in gone { cluster.remove(node) }
        for node in [n1, backup, last] { cluster.setMembers(of: node, to: [n1, backup, last]) }
        cluster.deliverAll()
        try #require(cluster[backup].session(id)?.isValid == true, "nothing told B of the end yet")

        // n1's anti-entropy (a peer per interval): the tombstone goes to the session's ring owners, who pull it.
        for _ in 0..<6 {
            cluster.advance(100)
            cluster.tick(n1)
            cluster.deliverAll()
        }
        #expect(cluster[backup].session(id)?.isValid != true, "the old id still serves the session at B")
        #expect(cluster[last].session(id)?.isValid != true, "the old id still serves the session at Z")
        #expect(cluster.holders(of: id).isEmpty)
    }
}

/// Gossip of a dead member that is an older incarnation of a live name (a restarted node's own previous one)
/// marks it gone for good: remembered as "out of reach" it held every lost answer back for a minute.
@Suite struct SupersededIncarnationTests {
    let now = Timestamp(millis: 1_700_000_000_000)

    func node(_ name: String, id: UInt64) -> NodeInstance {
        NodeInstance(
            cluster: "c", me: MemberInfo(id: NodeID(rawValue: id), name: name, replication: "r\(id)", http: ""),
            membership: MembershipSettings(), replication: .unitTest(.backup), now: now)
    }

    func gossip(dead: MemberInfo) -> Beacon {
        let sender = MemberInfo(id: NodeID(rawValue: 3), name: "n3", replication: "r3", http: "")
        return Beacon(
            cluster: "c", sender: sender, status: .alive, sequence: 1,
            members: [GossipEntry(member: dead, status: .dead)])
    }

    @Test func ownPreviousIncarnationGossipedDeadIsGoneNotUnreachable() {
        var restarted = node("n2", id: 22)
        let previous = MemberInfo(id: NodeID(rawValue: 21), name: "n2", replication: "r21", http: "")
        _ = restarted.onBeacon(gossip(dead: previous), now: now)
        #expect(restarted.replication.departedCount == 1)
        #expect(restarted.replication.debugAvailability(now: now).contains("unreachable [:]"))
    }

    @Test func anotherNameGossipedDeadStaysOutOfReach() {
        var restarted = node("n2", id: 22)
        let other = MemberInfo(id: NodeID(rawValue: 11), name: "n1", replication: "r11", http: "")
        _ = restarted.onBeacon(gossip(dead: other), now: now)
        #expect(restarted.replication.departedCount == 0)
        #expect(!restarted.replication.debugAvailability(now: now).contains("unreachable [:]"))
    }
}

extension AvailabilityTests {
    @Test func aLostSessionIsReportedOnceHoweverOftenItsCookieComesBack() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest(.backup))
        let oldToken = VersionVector([NodeID(rawValue: 901): 4])
        cluster.access(id, on: n1, token: oldToken, ticket: 1)
        cluster.deliverAll()
        cluster.advance(3_000)
        cluster.outputs = [:]
        for ticket in AccessTicket(2)...AccessTicket(6) {
            cluster.access(id, on: n1, token: oldToken, ticket: ticket)
            cluster.deliverAll()
        }
        let lost = cluster.outputs[n1]?.filter { if case .accessFailed(_, .lost) = $0 { true } else { false } }
        let events = cluster.outputs[n1]?.filter { $0 == .event(.sessionLost(id)) }
        #expect(lost?.count == 5, "every request is still answered lost")
        #expect(events?.count == 1)
        #expect(cluster[n1].counters.sessionsLost == 1)
    }
}

/// `sync` mode: a change of id (login on an existing session) is answered once the old id's end is acknowledged
/// too, not only the new session: the client was served its old id on another node moments after the answer
/// (simulator seed `delta-sync-6002549`).
@Suite struct SyncRotationTests {
    let n1 = ReplicationCluster.node(1)
    let id = sessionID(11)
    let newID = sessionID(12)

    @Test func aRotationWaitsForTheOldIdsEnd() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest(.delta, ack: .sync))
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        cluster.outputs = [:]
        cluster.access(id, on: n1, token: nil, ticket: 1)
        let result = cluster.changeID(of: id, to: newID, on: n1)
        let commit = try #require(result.awaiting)
        func completed() -> Bool {
            (cluster.outputs[n1] ?? []).contains {
                if case .commitCompleted(let done, _) = $0 { done == commit } else { false }
            }
        }
        // Everything about the new session first (its deltas and their acknowledgements), nothing of the end yet.
        let ending = cluster.take { envelope in
            if case .delta(let delta, _) = envelope.message { return delta.sessionID == id }
            return false
        }
        cluster.deliverAll()
        #expect(!completed(), "answered while the old id still lives on the peers")
        for envelope in ending { cluster.deliver(envelope) }
        cluster.deliverAll()
        #expect(completed())
        #expect(cluster.ids.allSatisfy { cluster[$0].session(id)?.isValid != true })
    }
}
