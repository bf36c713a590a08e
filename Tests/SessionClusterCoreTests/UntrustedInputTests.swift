import SessionClusterCore
import Testing

/// Values and identities that come from peers are bounded and never trap, whatever the peer sends.
@Suite struct UntrustedInputTests {
    let n1 = ReplicationCluster.node(1)
    let n2 = ReplicationCluster.node(2)
    let id = sessionID(1)

    @Test func departedIncarnationsAreRememberedUpToTheCap() {
        var instance = ReplicationInstance(
            settings: .unitTest(), me: n1, key: "n1", now: Timestamp(millis: 1_700_000_000_000))
        for index in 0..<(ReplicationInstance.maxDeparted + 1_000) {
            instance.onDeparted(NodeID(rawValue: 1_000 + UInt64(index)))
        }
        #expect(instance.departedCount == ReplicationInstance.maxDeparted)
        instance.onDeparted(n1)  // itself: never
        #expect(instance.departedCount == ReplicationInstance.maxDeparted)
    }

    @Test func unfinishedDigestRoundsOfGonePeersAreForgotten() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        let strangers = (0..<200).map { sessionID(1_000 + UInt64($0)) }
        let entries = strangers.map { DigestEntry(sessionID: $0, version: VersionVector([n2: 1])) }
        cluster.receive(.digest(round: 9, entries, last: false), at: n1, from: n2)
        #expect(cluster[n1].digestRoundsInProgress == 1)
        // Peers not in the member list that start rounds and never finish them: bounded.
        for index in 0..<100 {
            cluster.receive(.digest(round: 1, [], last: false), at: n1, from: NodeID(rawValue: 500 + UInt64(index)))
        }
        #expect(cluster[n1].digestRoundsInProgress <= 16)
        cluster.setMembers(of: n1, to: [n1])  // n2 left mid-round
        #expect(cluster[n1].digestRoundsInProgress <= 16)
        cluster.setMembers(of: n1, to: [n1, n2])
        cluster.receive(.digest(round: 10, [], last: false), at: n1, from: n2)
        cluster.setMembers(of: n1, to: [n1])
        #expect(cluster[n1].digestRoundsInProgress < 16)
    }

    // MARK: Clock drift bound

    /// A creating delta of `id` from `origin` stamped at wall time `at`.
    func creation(_ id: SessionID, by origin: NodeID, at wall: Int64, counter: UInt64 = 1) -> SessionDelta {
        let stamp = Stamp(time: HLCTimestamp(wall: wall, logical: 0), node: origin)
        let patch = SessionContent(
            createdAt: Timestamp(millis: wall), lastAccess: Timestamp(millis: wall), maxInactive: 1800,
            maxInactiveStamp: stamp, attributes: ["user": AttributeSlot(value: bytes("mallory"), stamp: stamp)])
        return SessionDelta(
            sessionID: id, dot: Dot(origin: origin, counter: counter), base: VersionVector(), patch: patch)
    }

    @Test func aPeerStampedFarAheadIsRefusedAndDoesNotDragTheClock() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        let hour: Int64 = 3_600_000
        let before = cluster[n1].clockReading
        let refused = cluster.receive(
            .delta(creation(id, by: n2, at: cluster.now.millis + hour), ack: 7), at: n1, from: n2)
        #expect(cluster[n1].session(id) == nil)
        #expect(cluster[n1].clockReading == before)
        #expect(cluster[n1].counters.clockAheadRejected == 1)
        #expect(refused == [.event(.clockAhead(peer: n2, aheadMillis: hour))])  // no ack either
        // A second offence within the report interval is counted, not reported again; a full copy is judged alike.
        let copy = Session(
            id: sessionID(2), content: creation(sessionID(2), by: n2, at: cluster.now.millis + hour).patch,
            version: VersionVector([n2: 1]))
        #expect(cluster.receive(.snapshot(copy, nil), at: n1, from: n2).isEmpty)
        #expect(cluster[n1].session(sessionID(2)) == nil && cluster[n1].counters.clockAheadRejected == 2)
        cluster.advance(ReplicationInstance.clockAheadReportMillis)
        let later = cluster.receive(
            .delta(creation(id, by: n2, at: cluster.now.millis + hour), ack: nil), at: n1, from: n2)
        #expect(later.count == 1)
        // Within the bound: applied, and the clock follows the peer as a hybrid logical clock should.
        let ahead = cluster.now.millis + cluster.settings.maxClockDriftMillis - 1
        cluster.receive(.delta(creation(sessionID(3), by: n2, at: ahead), ack: nil), at: n1, from: n2)
        #expect(cluster[n1].session(sessionID(3))?.isValid == true)
        #expect(cluster[n1].clockReading.wall == ahead)
    }

    @Test func clockDriftBoundIsValidated() {
        var settings = ReplicationSettings()
        #expect(settings.maxClockDriftMillis == 60_000)
        settings.maxClockDriftMillis = 0
        #expect(throws: SettingsError.self) { try settings.validate() }
    }

    // MARK: Numbers at their maximum (each of these trapped the receiving node before saturation)

    @Test func aCopyClaimingThisNodesCounterIsExhaustedRefusesTheCommitInsteadOfTrapping() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        cluster.create(id, on: n1, setting(["user": "alice"]))
        cluster.deliverAll()
        var claimed = cluster[n1].session(id)!
        claimed.version = VersionVector([n1: .max])
        cluster.receive(.snapshot(claimed, nil), at: n1, from: n2)
        #expect(cluster[n1].session(id)?.version[n1] == .max)
        let result = cluster.commit(id, on: n1, setting(["cart": "1"]))
        #expect(result.outcome == .notFound && cluster[n1].counters.dotReuseRefused == 1)
    }

    @Test func placementEpochAtItsMaximumSaturatesOnPromotion() throws {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest(.backup))
        cluster.create(id, on: n2, setting(["user": "alice"]))
        cluster.deliverAll()
        #expect(cluster[n1].placement(of: id)?.backup == n1)
        cluster.receive(.placement(id, Placement(epoch: .max, primary: n2, backup: n1)), at: n1, from: n2)
        #expect(cluster[n1].placement(of: id)?.epoch == .max)
        cluster.remove(n2)
        cluster.setMembers(of: n1, to: [n1])  // n2 is gone: n1 promotes itself (epoch + 1 before)
        let placement = try #require(cluster[n1].placement(of: id))
        #expect(placement.primary == n1 && placement.epoch == .max)
    }

    @Test func hugeMaxInactiveFromAPeerDoesNotTrapTheAccessRefreshCheck() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        let stamp = Stamp(time: HLCTimestamp(wall: cluster.now.millis, logical: 0), node: n2)
        let content = SessionContent(
            createdAt: cluster.now, lastAccess: cluster.now, maxInactive: .max, maxInactiveStamp: stamp,
            attributes: ["user": AttributeSlot(value: bytes("alice"), stamp: stamp)])
        let copy = Session(id: id, content: content, version: VersionVector([n2: 1]))
        cluster.receive(.snapshot(copy, nil), at: n1, from: n2)
        cluster.advance(1)
        #expect(cluster.access(id, on: n1, token: nil, ticket: 1).hasAccessReady)
        // A read-only request's commit asks whether the access time is due for replication: max-inactive × 250.
        #expect(cluster.commit(id, on: n1, SessionChanges()).outcome == .committed)
    }

    @Test func clockReadingsAtTheirMaximumSaturate() {
        var clock = HybridLogicalClock()
        clock.observe(HLCTimestamp(wall: .max, logical: .max))
        let reading = clock.tick(now: Timestamp(millis: 1_700_000_000_000))
        #expect(reading == HLCTimestamp(wall: .max, logical: .max))
        #expect(UInt64.max.saturatingSuccessor == .max && Int64.max.saturatingAdding(1) == .max)
        #expect(Int64.min.saturatingAdding(-1) == .min && Int64.max.saturatingMultiplied(by: -2) == .min)
        #expect(Timestamp(millis: .max).adding(millis: 1).millis == .max)
    }

    @Test func deltasWithExtremeCountersAndStampsNeverTrap() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        let stamp = Stamp(time: HLCTimestamp(wall: cluster.now.millis, logical: .max), node: n2)
        let patch = SessionContent(
            createdAt: Timestamp(millis: .min), lastAccess: cluster.now, maxInactive: .min, maxInactiveStamp: stamp,
            attributes: ["a": AttributeSlot(value: bytes("x"), stamp: stamp)])
        let dots: [(UInt64, VersionVector)] = [
            (.max, VersionVector()), (.max, VersionVector([n2: .max - 1])), (1, VersionVector()),
        ]
        for (counter, base) in dots {
            let delta = SessionDelta(sessionID: id, dot: Dot(origin: n2, counter: counter), base: base, patch: patch)
            cluster.receive(.delta(delta, ack: .max), at: n1, from: n2)
            cluster.advance(100)
            cluster.tick(n1)
        }
        let entry = DigestEntry(sessionID: id, version: VersionVector([n2: .max]))
        cluster.receive(.digest(round: .max, [entry], last: true), at: n1, from: n2)
        cluster.receive(.transferRequest(.max, after: nil, chunks: .max), at: n1, from: n2)
        cluster.receive(.ack(.max), at: n1, from: n2)
        cluster.receive(.fetch(.max, id, takeover: true), at: n1, from: n2)
        cluster.tick(n1)
    }
}
