import SessionClusterCore

/// Fixtures shared by the membership tests: members n1…n4 and a hand-advanced clock.
enum MembershipFixture {
    static let cluster = "test-cluster"
    static let n1 = info(1, "n1")
    static let n2 = info(2, "n2")
    static let n3 = info(3, "n3")
    static let n4 = info(4, "n4")

    static func info(_ id: UInt64, _ name: String) -> MemberInfo {
        MemberInfo(
            id: NodeID(rawValue: id), name: name, replication: "198.51.100.\(id):4000", http: "198.51.100.\(id):8080")
    }

    static func beacon(
        from sender: MemberInfo, sequence: UInt64, status: MemberStatus = .alive, gossip: [GossipEntry] = [],
        cluster: String = cluster
    ) -> Beacon {
        Beacon(cluster: cluster, sender: sender, status: status, sequence: sequence, members: gossip)
    }

    static func alive(_ infos: MemberInfo...) -> [GossipEntry] {
        infos.map { GossipEntry(member: $0, status: .alive) }
    }
}

/// A manual clock: tests move it forward themselves.
struct ManualClock {
    var now = Timestamp(millis: 1_000_000)
    mutating func advance(_ millis: Int64) { now = now.adding(millis: millis) }
}

extension Array where Element == MembershipDirective {
    /// The events among the directives, in order.
    var events: [MembershipEvent] {
        compactMap { if case .event(let event) = $0 { event } else { nil } }
    }

    /// The beacons among the directives, in order.
    var beacons: [Beacon] {
        compactMap { if case .sendBeacon(let beacon, _, _) = $0 { beacon } else { nil } }
    }
}
