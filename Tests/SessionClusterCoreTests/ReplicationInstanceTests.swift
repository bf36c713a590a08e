import SessionClusterCore
import Testing

@Suite struct ReplicationInstanceTests {
    let n1 = ReplicationCluster.node(1)
    let n2 = ReplicationCluster.node(2)
    let n3 = ReplicationCluster.node(3)
    let id = sessionID(1)

    func stamp(_ at: Timestamp, _ node: NodeID, logical: UInt32 = 0) -> Stamp {
        Stamp(time: HLCTimestamp(wall: at.millis, logical: logical), node: node)
    }

    // MARK: Delta mode

    @Test func commitSendsTheDeltaToEveryPeer() {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest())
        let created = cluster.now
        let result = cluster.create(id, on: n1, setting(["user": "alice"]))

        let first = stamp(created, n1)
        let patch = SessionContent(
            createdAt: created, lastAccess: created, maxInactive: 1800, maxInactiveStamp: first,
            attributes: ["user": AttributeSlot(value: bytes("alice"), stamp: first)])
        let delta = SessionDelta(sessionID: id, dot: Dot(origin: n1, counter: 1), base: VersionVector(), patch: patch)
        #expect(result.outcome == .committed)
        #expect(result.version == VersionVector([n1: 1]))
        #expect(result.awaiting == nil)
        #expect(result.directives == [.send(.delta(delta, ack: nil), to: n2), .send(.delta(delta, ack: nil), to: n3)])
        #expect(cluster[n1].session(id) == Session(id: id, content: patch, version: VersionVector([n1: 1])))

        cluster.advance(5)
        let second = cluster.commit(id, on: n1, setting(["cart": "1"]))
        let next = SessionDelta(
            sessionID: id, dot: Dot(origin: n1, counter: 2), base: VersionVector([n1: 1]),
            patch: SessionContent(
                lastAccess: cluster.now,
                attributes: ["cart": AttributeSlot(value: bytes("1"), stamp: stamp(cluster.now, n1))]))
        #expect(second.version == VersionVector([n1: 2]))
        #expect(second.directives == [.send(.delta(next, ack: nil), to: n2), .send(.delta(next, ack: nil), to: n3)])
        #expect(cluster[n1].counters.commits == 2)
        #expect(cluster[n1].counters.deltasSent == 4)
    }

    @Test func receiverAppliesInOrderDeltasAndIgnoresDuplicates() throws {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        cluster.create(id, on: n1, setting(["user": "alice"]))
        let create = try #require(cluster.inFlight.first)

        #expect(cluster.deliverNext(to: n2) == [])
        #expect(cluster[n2].session(id) == cluster[n1].session(id))
        #expect(cluster[n2].counters.deltasApplied == 1)

        // The same delta again (a retransmission after a reconnect): ignored.
        #expect(cluster.deliver(create) == [])
        #expect(cluster[n2].counters.duplicates == 1)
        #expect(cluster[n2].counters.deltasApplied == 1)
        #expect(cluster[n2].session(id) == cluster[n1].session(id))

        cluster.advance(1)
        cluster.commit(id, on: n1, setting(["cart": "2"]))
        #expect(cluster.deliverNext(to: n2) == [])
        #expect(cluster[n2].session(id) == cluster[n1].session(id))
        #expect(cluster[n2].session(id)?.version == VersionVector([n1: 2]))
        #expect(cluster[n2].session(id)?.attribute("cart") == bytes("2"))
        #expect(cluster[n2].counters.deltasApplied == 2)
        #expect(cluster[n2].counters.gapsHeld == 0)
    }

    @Test func gapIsHeldThenPulledFromTheOriginAfterGapHold() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest())
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        cluster.advance(1)
        cluster.commit(id, on: n1, setting(["a": "1"]))
        cluster.advance(1)
        cluster.commit(id, on: n1, setting(["b": "2"]))
        let late = cluster.take { $0.to == n3 && $0.carries(n1, 2) }
        cluster.deliverAll { $0.to == n2 }

        // Delta 3 before delta 2: held, not applied.
        #expect(cluster.deliverNext(to: n3) == [])
        #expect(cluster[n3].counters.gapsHeld == 1)
        #expect(cluster[n3].heldDeltaCount == 1)
        #expect(cluster[n3].session(id)?.version == VersionVector([n1: 1]))

        cluster.advance(cluster.settings.gapHoldMillis - 1)
        #expect(cluster.tick(n3) == [])
        cluster.advance(1)
        let ticked = cluster.tick(n3)
        let request = try #require(ticked.fetchRequest)
        #expect(ticked == [.send(.fetch(request, id, takeover: false), to: n1)])
        #expect(cluster[n3].counters.fetchesSent == 1)

        let reply = cluster.deliverNext(to: n1)
        #expect(reply == [.send(.fetchReply(request, id, cluster[n1].session(id), nil), to: n3)])
        #expect(cluster.deliverNext(to: n3) == [])
        #expect(cluster[n3].session(id) == cluster[n1].session(id))
        #expect(cluster[n3].heldDeltaCount == 0)
        #expect(cluster[n3].isQuiet)

        // The late delta 2 is now a duplicate.
        #expect(cluster.deliver(try #require(late.first)) == [])
        #expect(cluster[n3].counters.duplicates == 2)  // delta 3 (covered by the copy) and delta 2
        #expect(cluster[n3].session(id) == cluster[n1].session(id))
        #expect(cluster[n2].session(id) == cluster[n1].session(id))
    }

    @Test func heldDeltaIsAppliedOnceAPulledCopyFillsItsGap() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest())
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        cluster.advance(1)
        cluster.commit(id, on: n1, setting(["a": "1"]))
        _ = cluster.take { $0.to == n3 }  // n3 never hears delta n1#2 directly
        cluster.deliverAll()
        cluster.advance(1)
        cluster.commit(id, on: n2, setting(["b": "2"]))  // based on n1#2
        _ = cluster.take { $0.to == n1 }
        cluster.deliverNext(to: n3)
        #expect(cluster[n3].heldDeltaCount == 1)

        // The origin n2 does not answer; after the fetch time-out n3 asks the next holder, n1.
        cluster.advance(cluster.settings.gapHoldMillis)
        let first = cluster.tick(n3)
        let request = try #require(first.fetchRequest)
        #expect(first == [.send(.fetch(request, id, takeover: false), to: n2)])
        _ = cluster.take { $0.to == n2 }
        cluster.advance(cluster.settings.fetchTimeoutMillis)
        #expect(cluster.tick(n3) == [.send(.fetch(request, id, takeover: false), to: n1)])

        // n1's copy lacks n2#1 but holds n1#2: the gap is filled and the held delta applied on top.
        cluster.deliverNext(to: n1)
        let appliedBefore = cluster[n3].counters.deltasApplied
        #expect(cluster.deliverNext(to: n3) == [])
        #expect(cluster[n3].counters.deltasApplied == appliedBefore + 1)
        #expect(cluster[n3].heldDeltaCount == 0)
        #expect(cluster[n3].session(id)?.version == VersionVector([n1: 2, n2: 1]))
        #expect(cluster[n3].session(id) == cluster[n2].session(id))
    }

    @Test func anyDeliveryOrderOfTheSameDeltasGivesEqualSessions() {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest())
        cluster.create(id, on: n1, setting(["user": "alice", "shared": "0"]))
        cluster.deliverAll { $0.to == n2 }
        cluster.advance(1)
        cluster.commit(id, on: n1, setting(["a": "1"]))
        cluster.advance(1)
        cluster.commit(id, on: n2, setting(["b": "1", "shared": "n2"]))  // concurrent with n1#2
        cluster.advance(1)
        cluster.commit(id, on: n1, setting(["shared": "n1"]))  // later stamp: wins
        cluster.advance(1)
        var removal = SessionChanges()
        removal.remove("user")
        cluster.commit(id, on: n2, removal)
        let toN3 = cluster.take { $0.to == n3 }
        #expect(toN3.count == 5)
        cluster.deliverAll()
        let reference = cluster[n1].session(id)
        #expect(reference != nil)
        #expect(cluster[n2].session(id) == reference)
        #expect(reference?.version == VersionVector([n1: 3, n2: 2]))
        #expect(reference?.attribute("shared") == bytes("n1"))
        #expect(reference?.attribute("user") == nil)

        let fresh = cluster[n3]
        for order in permutations(toN3) {
            var node = fresh
            for envelope in order { _ = node.onMessage(envelope.message, from: envelope.from, now: cluster.now) }
            #expect(node.session(id) == reference, "order \(order.map { $0.message.delta!.dot })")
            #expect(node.heldDeltaCount == 0)
        }
    }

    @Test func concurrentCommitsMergeAndTheLaterStampWinsEverywhere() {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest())
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        cluster.advance(5)
        cluster.commit(id, on: n1, setting(["x": "1", "shared": "from-n1"]))
        cluster.advance(5)
        cluster.commit(id, on: n2, setting(["y": "2", "shared": "from-n2"]))
        cluster.deliverAll()

        let merged = cluster[n1].session(id)
        #expect(merged?.version == VersionVector([n1: 2, n2: 1]))
        for node in cluster.ids {
            let copy = cluster[node].session(id)
            #expect(copy == merged)
            #expect(copy?.attribute("x") == bytes("1"))
            #expect(copy?.attribute("y") == bytes("2"))
            #expect(copy?.attribute("user") == bytes("alice"))
            #expect(copy?.attribute("shared") == bytes("from-n2"))
            #expect(cluster[node].counters.concurrentMerges == 1)
            #expect(cluster[node].counters.conflicts == 1)
            #expect(cluster.outputs[node] == [.event(.conflict(id))])
        }
    }

    @Test func concurrentCommitsToDifferentAttributesAreNotConflicts() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        cluster.create(id, on: n1)
        cluster.deliverAll()
        cluster.advance(1)
        cluster.commit(id, on: n1, setting(["x": "1"]))
        cluster.commit(id, on: n2, setting(["y": "2"]))
        cluster.deliverAll()
        #expect(cluster[n1].session(id) == cluster[n2].session(id))
        #expect(cluster[n1].session(id)?.content.liveAttributes == ["x": bytes("1"), "y": bytes("2")])
        #expect(cluster[n1].counters.concurrentMerges == 1 && cluster[n2].counters.concurrentMerges == 1)
        #expect(cluster[n1].counters.conflicts == 0 && cluster[n2].counters.conflicts == 0)
    }

    // MARK: Version tokens

    @Test func staleCopyPullsFromHolderInsteadOfServing() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest())
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        cluster.advance(1)
        let written = cluster.commit(id, on: n1, setting(["cart": "1"]))
        let late = cluster.take { $0.to == n2 }
        cluster.deliverAll()

        // n3 has the write: served at once.
        let served = cluster.access(id, on: n3, token: written.version, ticket: 8)
        #expect(served == [.accessReady(8, try #require(cluster[n1].session(id)), lostWrites: false)])

        // n2 does not: it asks the writer instead of serving its stale copy.
        let directives = cluster.access(id, on: n2, token: written.version, ticket: 7)
        let request = try #require(directives.fetchRequest)
        #expect(directives == [.send(.fetch(request, id, takeover: false), to: n1)])
        #expect(!cluster[n2].isQuiet)
        cluster.deliverNext(to: n1)
        let ready = cluster.deliverNext(to: n2)
        #expect(ready == [.accessReady(7, try #require(cluster[n1].session(id)), lostWrites: false)])
        #expect(cluster[n2].isQuiet)

        // The delayed delta is a duplicate by now.
        #expect(cluster.deliver(try #require(late.first)) == [])
        #expect(cluster[n2].counters.duplicates == 1)
        cluster.nodes[n2]!.release(id)
        cluster.nodes[n3]!.release(id)
    }

    @Test func accessWithoutReplyFailsUnavailableWithinAccessWait() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest())
        cluster.create(id, on: n1)
        cluster.deliverAll()
        cluster.advance(1)
        let written = cluster.commit(id, on: n1, setting(["cart": "1"]))
        _ = cluster.take { $0.to == n2 }
        cluster.deliverAll()

        let start = cluster.now
        #expect(cluster.access(id, on: n2, token: written.version, ticket: 7).fetchRequest != nil)
        var seen = [(Int64, ReplicationDirective)]()
        while cluster.now < start.adding(millis: cluster.settings.accessWaitMillis) {
            cluster.advance(10)
            // Nobody answers: every fetch is lost.
            _ = cluster.take { $0.from == n2 }
            for directive in cluster.tick(n2) { seen.append((cluster.now.millis(since: start), directive)) }
        }
        let outcomes = seen.filter {
            switch $0.1 {
            case .accessReady, .accessFailed: true
            default: false
            }
        }
        #expect(outcomes.count == 1)
        #expect(outcomes.first?.1 == .accessFailed(7, .unavailable))
        #expect((outcomes.first?.0 ?? .max) <= cluster.settings.accessWaitMillis)
        #expect(cluster[n2].isQuiet)
        // The stale copy was never served and is still stale.
        #expect(cluster[n2].session(id)?.version == VersionVector([n1: 1]))
    }

    @Test func accessWaitBoundsTheRequestWhileAFetchIsStillPending() {
        var settings = ReplicationSettings.unitTest()
        settings.fetchTimeoutMillis = 500
        var cluster = ReplicationCluster(count: 2, settings: settings)
        cluster.create(id, on: n1)
        cluster.deliverAll()
        let written = cluster.commit(id, on: n1, setting(["cart": "1"]))
        _ = cluster.take { _ in true }

        cluster.access(id, on: n2, token: written.version, ticket: 7)
        _ = cluster.take { _ in true }
        cluster.advance(settings.accessWaitMillis - 1)
        #expect(cluster.tick(n2) == [])
        cluster.advance(1)
        #expect(cluster.tick(n2) == [.accessFailed(7, .unavailable)])

        // A reply that arrives afterwards updates the copy but answers no request.
        cluster.receive(.fetch(99, id, takeover: false), at: n1, from: n2)
        #expect(cluster.deliverNext(to: n2) == [])
        #expect(cluster[n2].session(id) == cluster[n1].session(id))
    }

    // MARK: Invalidation and id change

    @Test func invalidationIsReplicatedAndAccessFindsNothing() {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest())
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        cluster.advance(1)
        var logout = SessionChanges()
        logout.invalidate()
        let ended = cluster.commit(id, on: n1, logout)
        #expect(ended.outcome == .committed)
        cluster.deliverAll()

        for (ticket, node) in cluster.ids.enumerated() {
            let copy = cluster[node].session(id)
            #expect(copy?.isValid == false)
            #expect(copy?.content.invalidation == Invalidation(stamp: stamp(cluster.now, n1), reason: .logout))
            #expect(
                cluster.access(id, on: node, token: nil, ticket: UInt64(ticket))
                    == [.accessFailed(UInt64(ticket), .notFound)])
            #expect(
                cluster.access(id, on: node, token: ended.version, ticket: 10 + UInt64(ticket))
                    == [.accessFailed(10 + UInt64(ticket), .notFound)])
            #expect(cluster.commit(id, on: node, setting(["user": "mallory"])).outcome == .notFound)
        }
        #expect(cluster.inFlight.isEmpty)
    }

    @Test func lateEarlierDeltaDoesNotRevalidateAnInvalidatedSession() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest())
        cluster.create(id, on: n1, setting(["user": "alice"]))
        let creation = try #require(cluster.inFlight.first { $0.to == n3 })
        cluster.deliverAll()
        cluster.advance(1)
        var logout = SessionChanges()
        logout.invalidate()
        cluster.commit(id, on: n1, logout)
        // n2, behind on the logout, writes concurrently — and even with a later stamp.
        cluster.advance(5)
        cluster.commit(id, on: n2, setting(["cart": "1"]))
        let lateFromN2 = cluster.take { $0.from == n2 }
        cluster.deliverAll()
        #expect(cluster.holders(of: id) == [])

        for envelope in lateFromN2 { cluster.deliver(envelope) }
        cluster.deliver(creation)  // a retransmitted creation, too
        cluster.deliverAll()

        #expect(cluster.holders(of: id) == [])
        #expect(cluster.copies(of: id) == cluster.ids)
        let reference = cluster[n1].session(id)
        for node in cluster.ids {
            #expect(cluster[node].session(id) == reference)
            #expect(cluster[node].session(id)?.content.invalidation?.reason == .logout)
            #expect(cluster.access(id, on: node, token: nil, ticket: 1) == [.accessFailed(1, .notFound)])
        }
    }

    @Test func invalidationDeliveredBeforeTheCreationStillWins() throws {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        cluster.create(id, on: n1, setting(["user": "alice"]))
        let creation = cluster.take { _ in true }
        cluster.advance(1)
        var logout = SessionChanges()
        logout.invalidate()
        cluster.commit(id, on: n1, logout)
        #expect(cluster.deliverNext(to: n2) == [])
        #expect(cluster[n2].heldDeltaCount == 1)
        cluster.deliver(try #require(creation.first))
        #expect(cluster[n2].session(id) == cluster[n1].session(id))
        #expect(cluster[n2].session(id)?.isValid == false)
    }

    @Test func changeIDMovesTheAttributesAndRenamesTheOldIDEverywhere() {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest())
        let newID = sessionID(2)
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        cluster.advance(1)
        let result = cluster.changeID(of: id, to: newID, on: n1)
        #expect(result.outcome == .committed)
        #expect(result.version == VersionVector([n1: 1]))
        cluster.deliverAll()

        for (index, node) in cluster.ids.enumerated() {
            let renamed = cluster[node].session(newID)
            #expect(renamed?.isValid == true)
            #expect(renamed?.attribute("user") == bytes("alice"))
            #expect(renamed == cluster[n1].session(newID))
            let old = cluster[node].session(id)
            #expect(old?.content.invalidation?.reason == .renamed)
            #expect(old?.content.invalidation?.renamedTo == newID)
            let ticket = AccessTicket(index)
            #expect(cluster.access(id, on: node, token: nil, ticket: ticket) == [.accessFailed(ticket, .notFound)])
            #expect(cluster.access(newID, on: node, token: result.version, ticket: ticket).hasAccessReady)
            cluster.nodes[node]!.release(newID)
        }
    }

    /// A changed id's creating delta carries the old `createdAt`; peers must not refuse it as a stale creation.
    @Test func changeIDOfASessionOlderThanTombstoneRetentionReachesEveryPeer() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        let newID = sessionID(2)
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        cluster.advance(cluster.settings.tombstoneRetentionMillis + 60_000)  // 11 min: well within 30 min
        cluster.changeID(of: id, to: newID, on: n1)
        cluster.deliverAll()
        #expect(cluster[n2].counters.staleCreatesRefused == 0)
        #expect(cluster[n2].session(newID) == cluster[n1].session(newID))
        #expect(cluster.access(newID, on: n2, token: nil, ticket: 1).hasAccessReady)
    }

    // MARK: Sync acknowledgements

    @Test func syncCommitCompletesWhenThePeerAcknowledges() throws {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest(ack: .sync))
        let result = cluster.create(id, on: n1, setting(["user": "alice"]))
        let commitID = try #require(result.awaiting)
        let delta = try #require(cluster.inFlight.first?.message.delta)
        #expect(result.directives == [.send(.delta(delta, ack: commitID), to: n2)])
        #expect(!cluster[n1].isQuiet)

        #expect(cluster.deliverNext(to: n2) == [.send(.ack(commitID), to: n1)])
        #expect(cluster.deliverNext(to: n1) == [.commitCompleted(commitID, acknowledged: true)])
        #expect(cluster[n1].counters.syncAcknowledged == 1)
        #expect(cluster[n1].isQuiet)
        // A duplicate acknowledgement changes nothing.
        #expect(cluster.receive(.ack(commitID), at: n1, from: n2) == [])
    }

    @Test func syncCommitTimesOutWithoutAcknowledgement() throws {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest(ack: .sync))
        cluster.create(id, on: n1)
        cluster.deliverAll()
        let result = cluster.commit(id, on: n1, setting(["cart": "1"]))
        let commitID = try #require(result.awaiting)
        cluster.deliverNext(to: n2)
        let lostAck = cluster.take { $0.to == n1 }
        #expect(lostAck.map(\.message) == [.ack(commitID)])

        cluster.advance(cluster.settings.syncAckTimeoutMillis - 1)
        #expect(cluster.tick(n1) == [])
        cluster.advance(1)
        #expect(cluster.tick(n1) == [.commitCompleted(commitID, acknowledged: false)])
        #expect(cluster[n1].counters.syncTimedOut == 1)
        #expect(cluster.deliver(lostAck[0]) == [])
        #expect(cluster.tick(n1) == [])
    }

    @Test func syncCommitCompletesWhenTheAwaitedPeerLeaves() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest(ack: .sync))
        cluster.create(id, on: n1)
        cluster.deliverAll()
        let result = cluster.commit(id, on: n1, setting(["cart": "1"]))
        let commitID = try #require(result.awaiting)
        cluster.deliverNext(to: n2)
        #expect(cluster.deliverNext(to: n1) == [])  // n2's ack; n3's still awaited
        _ = cluster.take { $0.to == n3 }

        #expect(cluster.setMembers(of: n1, to: [n2]) == [.commitCompleted(commitID, acknowledged: true)])
        cluster.advance(cluster.settings.syncAckTimeoutMillis)
        #expect(cluster.tick(n1) == [])
    }

    // MARK: State transfer

    @Test func joiningNodeReceivesEverySessionInChunks() throws {
        var settings = ReplicationSettings.unitTest()
        settings.transferChunkSessions = 2
        settings.transferWindowChunks = 4
        var cluster = ReplicationCluster(count: 2, settings: settings)
        let ids = (10..<15).map { sessionID(UInt64($0)) }
        for (index, session) in ids.enumerated() {
            cluster.create(session, on: index % 2 == 0 ? n1 : n2, setting(["n": "\(index)"]))
        }
        var logout = SessionChanges()
        logout.invalidate()
        cluster.deliverAll()
        cluster.commit(ids[0], on: n2, logout)
        cluster.deliverAll()

        let n3 = cluster.addNode(3)
        #expect(!cluster[n3].isTransferComplete)
        let joining = cluster.setMembers(of: n3, to: [n1, n2])
        let request = ReplicationMessage.transferRequest(1, after: nil, chunks: 4)
        #expect(joining == [.send(request, to: n1), .event(.transferStarted(from: n1))])
        cluster.setMembers(of: n1, to: [n1, n2, n3])
        cluster.setMembers(of: n2, to: [n1, n2, n3])

        let chunks = cluster.deliverNext(to: n1) { $0.message == request }
        let shapes: [(Int, Bool)] = chunks.compactMap {
            if case .send(.transferChunk(1, let sessions, let last), n3) = $0 { (sessions.count, last) } else { nil }
        }
        #expect(chunks.count == 3)
        #expect(shapes.map(\.0) == [2, 2, 1])
        #expect(shapes.map(\.1) == [false, false, true])

        cluster.deliverAll()
        #expect(cluster[n3].isTransferComplete)
        #expect(cluster.outputs[n3]?.contains(.event(.transferCompleted(from: n1, sessions: 5, millis: 0))) == true)
        #expect(cluster[n3].sessionIDs == ids.sorted())
        for session in ids { #expect(cluster[n3].session(session) == cluster[n1].session(session)) }
        #expect(cluster[n3].counters.transfersCompleted == 1)
        #expect(cluster.access(ids[0], on: n3, token: nil, ticket: 1) == [.accessFailed(1, .notFound)])
        #expect(cluster.access(sessionID(99), on: n3, token: nil, ticket: 2) == [.accessFailed(2, .notFound)])
        #expect(cluster.access(ids[1], on: n3, token: nil, ticket: 3).hasAccessReady)
    }

    // MARK: Backup mode

    @Test func backupModeCreateCopiesToTheRingBackupOnly() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest(.backup))
        for seed in UInt64(100)..<UInt64(110) {
            let session = sessionID(seed)
            let backup = try #require(cluster.ring.backup(of: session, primary: n1))
            let result = cluster.create(session, on: n1, setting(["user": "alice"]))
            let placement = Placement(epoch: 1, primary: n1, backup: backup)
            let copy = try #require(cluster[n1].session(session))
            let delta = SessionDelta(
                sessionID: session, dot: Dot(origin: n1, counter: 1), base: VersionVector(), patch: copy.content)
            #expect(
                result.directives == [
                    .send(.snapshot(copy, placement), to: backup), .send(.delta(delta, ack: nil), to: backup),
                ])
            cluster.deliverAll()
            #expect(cluster.copies(of: session) == [n1, backup].sorted())
            #expect(cluster[backup].session(session) == copy)
            #expect(cluster[backup].placement(of: session) == placement)
            #expect(cluster[n1].placement(of: session) == placement)
        }
        #expect(cluster[n1].primaryCount == 10)
    }

    @Test func backupModeAccessOnNonHolderTakesTheSessionOver() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest(.backup))
        let owners = cluster.ring.owners(of: id)
        // The creator is not ring-first, so ring-first holds the copy as backup; the third node holds nothing.
        let (ringFirst, creator, outsider) = (owners[0], owners[1], owners[2])
        cluster.create(id, on: creator, setting(["user": "alice"]))
        cluster.deliverAll()
        #expect(cluster.copies(of: id) == [ringFirst, creator].sorted())

        let directives = cluster.access(id, on: outsider, token: nil, ticket: 5)
        let request = try #require(directives.fetchRequest)
        #expect(directives == [.send(.fetch(request, id, takeover: true), to: ringFirst)])
        cluster.deliverNext(to: ringFirst)
        let copy = try #require(cluster[ringFirst].session(id))
        let next = Placement(epoch: 2, primary: outsider, backup: ringFirst)
        #expect(
            cluster.deliverNext(to: outsider) == [
                .accessReady(5, copy, lostWrites: false), .send(.snapshot(copy, next), to: ringFirst),
                .send(.placement(id, next), to: creator),
            ])
        #expect(cluster[outsider].placement(of: id)?.primary == outsider)
        #expect(cluster[outsider].counters.takeovers == 1)

        cluster.deliverAll()
        #expect(cluster.holders(of: id) == [outsider, ringFirst].sorted())
        #expect(cluster.copies(of: id) == [outsider, ringFirst].sorted())
        #expect(cluster[ringFirst].placement(of: id) == next)
        #expect(cluster[outsider].session(id) == cluster[ringFirst].session(id))

        // The new primary writes to its backup only.
        cluster.advance(1)
        let write = cluster.commit(id, on: outsider, setting(["cart": "1"]))
        #expect(write.directives.count == 1)
        cluster.deliverAll()
        #expect(cluster[ringFirst].session(id) == cluster[outsider].session(id))
        #expect(cluster.holders(of: id) == [outsider, ringFirst].sorted())
    }

    @Test func backupModePromotesTheBackupWhenThePrimaryLeaves() throws {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest(.backup))
        let backup = try #require(cluster.ring.backup(of: id, primary: n1))
        let third = [n2, n3].first { $0 != backup }!
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()

        cluster.remove(n1)
        let promoted = cluster.setMembers(of: backup, to: [backup, third])
        cluster.setMembers(of: third, to: [backup, third])
        let copy = try #require(cluster[backup].session(id))
        let next = Placement(epoch: 2, primary: backup, backup: third)
        #expect(promoted.contains(.send(.snapshot(copy, next), to: third)))
        #expect(cluster[backup].placement(of: id) == next)
        #expect(cluster[backup].counters.promotions == 1)

        cluster.deliverAll()
        #expect(cluster.holders(of: id) == [backup, third].sorted())
        #expect(cluster[third].session(id) == copy)
        #expect(cluster[third].placement(of: id) == next)
        #expect(cluster.access(id, on: third, token: nil, ticket: 1) == [.accessReady(1, copy, lostWrites: false)])
        cluster.nodes[third]!.release(id)
    }

    // MARK: Expiry

    @Test func idleSessionExpiresAtItsOwnerAndTheInvalidationReachesPeers() throws {
        var settings = ReplicationSettings.unitTest()
        settings.defaultMaxInactiveSeconds = 1
        settings.accessRefreshMillis = 100
        settings.expiryGraceMillis = 500
        settings.sweepIntervalMillis = 50
        var cluster = ReplicationCluster(count: 2, settings: settings)
        cluster.create(id, on: n1)
        cluster.deliverAll()
        let owner = try #require(cluster.ring.first(of: id))
        let other = owner == n1 ? n2 : n1

        // Deadline 1 s after the last access, plus one access-refresh interval of slack.
        cluster.advance(1_000)
        #expect(cluster.tick(owner) == [])
        #expect(cluster.tick(other) == [])
        cluster.advance(150)
        let base = try #require(cluster[owner].session(id)?.version)
        let ending = SessionDelta(
            sessionID: id, dot: Dot(origin: owner, counter: base[owner] + 1), base: base,
            patch: SessionContent(invalidation: Invalidation(stamp: stamp(cluster.now, owner), reason: .expired)))
        #expect(cluster.tick(owner) == [.send(.delta(ending, ack: nil), to: other), .event(.sessionExpired(id))])
        // The other copy waits its grace, so the cluster expires the session once.
        #expect(cluster.tick(other) == [])
        cluster.deliverAll()

        #expect(cluster.holders(of: id) == [])
        #expect(cluster[other].session(id)?.content.invalidation?.reason == .expired)
        #expect(cluster.access(id, on: other, token: nil, ticket: 1) == [.accessFailed(1, .notFound)])
        cluster.advance(2_000)
        #expect(cluster.tick(other) == [])
        #expect(cluster[owner].counters.sessionsExpired == 1)
        #expect(cluster[other].counters.sessionsExpired == 0)
    }

    // MARK: Settings

    @Test func settingsValidationNamesTheBadField() {
        func failure(_ change: (inout ReplicationSettings) -> Void) -> SettingsError? {
            var settings = ReplicationSettings()
            change(&settings)
            do {
                try settings.validate()
                return nil
            } catch {
                return error
            }
        }
        #expect(failure { _ in } == nil)
        #expect(failure { $0 = .unitTest() } == nil)
        #expect(
            failure { $0.gapHoldMillis = 0 }?.description
                == "setting replication.gapHoldMillis = 0 must be greater than 0")
        #expect(failure { $0.fetchTimeoutMillis = -5 }?.field == "replication.fetchTimeoutMillis")
        #expect(failure { $0.fetchTimeoutMillis = -5 }?.value == "-5")
        #expect(failure { $0.accessWaitMillis = 0 }?.field == "replication.accessWaitMillis")
        #expect(failure { $0.syncAckTimeoutMillis = 0 }?.field == "replication.syncAckTimeoutMillis")
        #expect(failure { $0.transferChunkSessions = 0 }?.field == "replication.transferChunkSessions")
        #expect(failure { $0.transferWindowChunks = 0 }?.field == "replication.transferWindowChunks")
        #expect(failure { $0.transferWindowChunks = 255 } == nil)
        #expect(
            failure { $0.transferWindowChunks = 256 }?.description
                == "setting replication.transferWindowChunks = 256 must be less than 256 (256)")
        #expect(failure { $0.digestChunkEntries = -1 }?.field == "replication.digestChunkEntries")
        #expect(failure { $0.expiryGraceMillis = -1 }?.field == "replication.expiryGraceMillis")
        #expect(failure { $0.gapHoldMillis = 20_000 }?.field == "replication.gapHoldMillis")
        let description = failure { $0.maxHoldMillis = 0 }?.description ?? ""
        #expect(description.contains("replication.maxHoldMillis") && description.contains("0"))
    }
}

/// Every ordering of `items` (n! of them; keep n small).
func permutations<T>(_ items: [T]) -> [[T]] {
    guard items.count > 1 else { return [items] }
    var result = [[T]]()
    for (index, item) in items.enumerated() {
        var rest = items
        rest.remove(at: index)
        for tail in permutations(rest) { result.append([item] + tail) }
    }
    return result
}
