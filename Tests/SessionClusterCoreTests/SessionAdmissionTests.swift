import SessionClusterCore
import Testing

/// The session limit counts sessions that hold something (or nothing yet), not emptied ones (every attribute
/// removed: a deleted Redis key), up to a ceiling of twice the limit on every valid copy held. Before, every valid
/// copy counted: a churn of distinct keys set and deleted filled the limit while `DBSIZE` said 0.
@Suite struct SessionAdmissionTests {
    let n1 = ReplicationCluster.node(1)
    let n2 = ReplicationCluster.node(2)
    let limit = 3

    /// Access and commit `changes` to `id` on n1, delivered to n2.
    func write(_ cluster: inout ReplicationCluster, _ id: SessionID, _ changes: SessionChanges) {
        cluster.access(id, on: n1, token: nil, ticket: 1)
        #expect(cluster.commit(id, on: n1, changes).outcome == .committed)
        cluster.deliverAll()
    }

    func removing(_ name: String) -> SessionChanges {
        var changes = SessionChanges()
        changes.remove(name)
        return changes
    }

    /// Both nodes (every node holds every copy in delta mode) agree on the counts and on admission.
    func expect(
        _ cluster: ReplicationCluster, valid: Int, emptied: Int, admits: Bool,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for node in cluster.ids {
            #expect(cluster[node].liveSessionCount == valid, sourceLocation: sourceLocation)
            #expect(cluster[node].emptiedSessionCount == emptied, sourceLocation: sourceLocation)
            #expect(cluster[node].admitsCreate(limit: limit) == admits, sourceLocation: sourceLocation)
        }
    }

    /// Two nodes whose sweep forgets tombstones (emptied sessions included) a second after their last write.
    static func purgingCluster() -> ReplicationCluster {
        var settings = ReplicationSettings.unitTest()
        settings.sweepIntervalMillis = 100
        settings.tombstoneRetentionMillis = 1_000
        return ReplicationCluster(count: 2, settings: settings)
    }

    @Test func emptiedSessionsAreLeftOutOfTheLimitUpToTwiceIt() {
        var cluster = ReplicationCluster(count: 2, settings: .unitTest())
        let ids = (1...8).map { sessionID(UInt64($0)) }
        for id in ids[0..<3] { cluster.create(id, on: n1, setting(["user": "u"])) }
        cluster.deliverAll()
        expect(cluster, valid: 3, emptied: 0, admits: false)
        for id in ids[0..<3] { write(&cluster, id, removing("user")) }
        // The old rule (valid copies < limit) refused here.
        expect(cluster, valid: 3, emptied: 3, admits: true)
        // A fresh session without attributes counts (else empty creates would be unbounded).
        #expect(cluster.create(ids[3], on: n1).outcome == .committed)
        cluster.deliverAll()
        expect(cluster, valid: 4, emptied: 3, admits: true)
        // An emptied session written again holds something again.
        write(&cluster, ids[0], setting(["user": "back"]))
        expect(cluster, valid: 4, emptied: 2, admits: true)
        #expect(cluster.create(ids[4], on: n1, setting(["user": "u"])).outcome == .committed)
        cluster.deliverAll()
        expect(cluster, valid: 5, emptied: 2, admits: false)  // 3 hold something: the limit
        write(&cluster, ids[4], removing("user"))
        expect(cluster, valid: 5, emptied: 3, admits: true)
        #expect(cluster.create(ids[5], on: n1, setting(["user": "u"])).outcome == .committed)
        cluster.deliverAll()
        write(&cluster, ids[5], removing("user"))
        // 2 hold something, but 6 valid copies are held: the ceiling (twice the limit) refuses.
        expect(cluster, valid: 6, emptied: 4, admits: false)
        var logout = SessionChanges()
        logout.invalidate()
        write(&cluster, ids[1], logout)
        expect(cluster, valid: 5, emptied: 3, admits: true)
    }

    @Test func anEmptiedNamedSessionLeavesTheCountWhenItIsForgotten() {
        var cluster = Self.purgingCluster()
        let id = sessionID(9)
        var key = setting(["value": "v"])
        key.setMaxInactive(seconds: 0)
        cluster.create(id, on: n1, key)
        cluster.deliverAll()
        write(&cluster, id, removing("value"))
        expect(cluster, valid: 1, emptied: 1, admits: true)
        cluster.advance(1_200)
        for node in cluster.ids { cluster.tick(node) }
        cluster.deliverAll()
        expect(cluster, valid: 0, emptied: 0, admits: true)
    }

    /// The counts are kept as copies change, never by a scan: after every step of random creates, writes, removals,
    /// logouts, deletions of keys and purges, on both holders, they equal a scan. (The simulator checks the same,
    /// but its sessions always keep their user attribute, so none is ever emptied there.)
    @Test func theCountsEqualAScanThroughRandomChanges() {
        var cluster = Self.purgingCluster()
        var random = SplitMix64(seed: 11)
        let ids = (100..<116).map { sessionID(UInt64($0)) }
        var mostEmptied = 0
        for step in 0..<600 {
            let id = ids[Int(random.next() % UInt64(ids.count))]
            let on = random.next() % 2 == 0 ? n1 : n2
            let name = "a\(random.next() % 2)"
            var changes = SessionChanges()
            switch random.next() % 10 {
            case 0: changes.invalidate()
            case 1...4: changes.set(name, "v\(step)")
            default: changes.remove(name)
            }
            if cluster[on].session(id)?.isValid == true {
                cluster.access(id, on: on, token: nil, ticket: AccessTicket(step))
                cluster.commit(id, on: on, changes)
            } else if cluster[on].session(id) == nil {
                var created = random.next() % 3 == 0 ? SessionChanges() : setting([name: "v"])
                if random.next() % 2 == 0 { created.setMaxInactive(seconds: 0) }  // a key: purged once emptied
                cluster.create(id, on: on, created)
            }
            cluster.deliverAll()
            if step % 25 == 0 {
                cluster.advance(600)
                for node in cluster.ids { cluster.tick(node) }
                cluster.deliverAll()
            }
            for node in cluster.ids {
                let valid = cluster[node].sessionIDs.compactMap { cluster[node].session($0) }.filter(\.isValid)
                let emptied = valid.count {
                    !$0.content.attributes.isEmpty && $0.content.attributes.allSatisfy { $0.value.value == nil }
                }
                #expect(cluster[node].liveSessionCount == valid.count, "step \(step)")
                #expect(cluster[node].emptiedSessionCount == emptied, "step \(step)")
                mostEmptied = max(mostEmptied, emptied)
            }
        }
        #expect(mostEmptied >= 3, "the changes emptied sessions")
    }

    @Test func theCeilingSaturates() {
        #expect(ReplicationInstance.heldCeiling(limit: 5) == 10)
        #expect(ReplicationInstance.heldCeiling(limit: .max) == .max)
    }
}
