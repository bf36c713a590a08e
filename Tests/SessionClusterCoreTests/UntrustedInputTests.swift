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

    // MARK: Clock drift bound

    /// A creating delta of `id` from `origin` stamped at wall time `at`.
    func creation(_ id: SessionID, by origin: NodeID, at wall: Int64, counter: UInt64 = 1) -> SessionDelta {
        let stamp = Stamp(time: HLCTimestamp(wall: wall, logical: 0), node: origin)
        let patch = SessionContent(
            createdAt: Timestamp(millis: wall), lastAccess: Timestamp(millis: wall), maxInactive: 1800,
            maxInactiveStamp: stamp, attributes: ["user": AttributeSlot(value: bytes("mallory"), stamp: stamp)])
        return SessionDelta(sessionID: id, dot: Dot(origin: origin, counter: counter), base: VersionVector(), patch: patch)
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
}
