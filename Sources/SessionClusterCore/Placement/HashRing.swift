/// A consistent-hash ring with virtual nodes: where each session's copies live in backup mode.
///
/// Each member is placed at `virtualNodes` points, `StableHash(key ‖ index)`, where the key is the member's
/// stable name, so a restarted node (new `NodeID`, same name) lands where it was. A session hashes to a
/// point; walking clockwise gives its members in preference order (`owners(of:)`).
///
/// The backup rule (DESIGN.md): the backup of a session is the first member clockwise that is not its
/// primary. So the ring-first member always holds a copy (as primary or backup), and any node finds any
/// session in one hop by asking it.
package struct HashRing: Sendable, Equatable {
    /// A ring member: its incarnation id and the stable key (node name) that places it.
    package struct Member: Hashable, Sendable {
        package var id: NodeID
        package var key: String
        package init(id: NodeID, key: String) {
            self.id = id
            self.key = key
        }
    }

    private struct Point: Equatable {
        var position: UInt64
        var member: Int
    }

    /// The members, sorted by key.
    package let members: [Member]
    private let points: [Point]

    /// Virtual nodes per member. 128 keeps the heaviest member within about ±20 % of the mean for small
    /// clusters while the ring stays a few kilobytes.
    package static let defaultVirtualNodes = 128

    package init(members: some Sequence<Member>, virtualNodes: Int = HashRing.defaultVirtualNodes) {
        let sorted = Array(Set(members)).sorted { ($0.key, $0.id) < ($1.key, $1.id) }
        var points = [Point]()
        points.reserveCapacity(sorted.count * virtualNodes)
        for (index, member) in sorted.enumerated() {
            let key = Array(member.key.utf8)
            for virtual in 0..<UInt32(max(1, virtualNodes)) {
                let suffix = [
                    UInt8(virtual >> 24), UInt8(virtual >> 16 & 0xFF), UInt8(virtual >> 8 & 0xFF),
                    UInt8(virtual & 0xFF),
                ]
                points.append(Point(position: StableHash.hash(key + suffix), member: index))
            }
        }
        // Ties (astronomically rare) are broken by member order so every node builds the same ring.
        points.sort { ($0.position, $0.member) < ($1.position, $1.member) }
        self.members = sorted
        self.points = points
    }

    package var isEmpty: Bool { members.isEmpty }

    /// Up to `limit` distinct members, clockwise from the session's point: its preference list.
    package func owners(of id: SessionID, limit: Int = .max) -> [NodeID] {
        guard !points.isEmpty, limit > 0 else { return [] }
        let start = firstPoint(atOrAfter: StableHash.hash(id))
        var seen = Set<Int>()
        var result = [NodeID]()
        var offset = 0
        while offset < points.count, result.count < min(limit, members.count) {
            let member = points[(start + offset) % points.count].member
            if seen.insert(member).inserted { result.append(members[member].id) }
            offset += 1
        }
        return result
    }

    /// The ring-first member of a session: it always holds a copy in backup mode.
    package func first(of id: SessionID) -> NodeID? { owners(of: id, limit: 1).first }

    /// The backup for a session whose primary is `primary`: the first member clockwise that is not it.
    package func backup(of id: SessionID, primary: NodeID) -> NodeID? {
        owners(of: id, limit: 2).first { $0 != primary }
    }

    /// Up to `count` backups for a session whose primary is `primary`: the first members clockwise that are not it,
    /// in ring order. With `count` 1 this is `backup(of:primary:)`; the ring-first `count + 1` members always
    /// include every holder but a primary that took the session elsewhere.
    package func backups(of id: SessionID, primary: NodeID, count: Int) -> [NodeID] {
        guard count > 0 else { return [] }
        return Array(owners(of: id, limit: count + 1).filter { $0 != primary }.prefix(count))
    }

    private func firstPoint(atOrAfter position: UInt64) -> Int {
        var low = 0
        var high = points.count
        while low < high {
            let middle = (low + high) / 2
            if points[middle].position < position { low = middle + 1 } else { high = middle }
        }
        return low == points.count ? 0 : low
    }
}
