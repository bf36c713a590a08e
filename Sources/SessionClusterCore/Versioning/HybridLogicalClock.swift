/// A hybrid logical clock reading: wall milliseconds plus a logical counter (Kulkarni et al. 2014).
///
/// It stays close to wall time but never goes backwards and always exceeds every reading the node has
/// observed, so a write made after seeing another write is stamped later, whatever the clocks' skew.
package struct HLCTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    package var wall: Int64
    package var logical: UInt32

    package init(wall: Int64, logical: UInt32) {
        self.wall = wall
        self.logical = logical
    }

    package static let zero = HLCTimestamp(wall: 0, logical: 0)

    package static func < (lhs: HLCTimestamp, rhs: HLCTimestamp) -> Bool {
        (lhs.wall, lhs.logical) < (rhs.wall, rhs.logical)
    }

    package var description: String { "\(wall).\(logical)" }
}

/// The node's hybrid logical clock. A value type: the owner feeds it physical time and remote readings.
package struct HybridLogicalClock: Sendable {
    package private(set) var last: HLCTimestamp = .zero

    package init() {}

    /// A new reading for a local event at physical time `now`; strictly greater than every earlier one.
    package mutating func tick(now: Timestamp) -> HLCTimestamp {
        if now.millis > last.wall {
            last = HLCTimestamp(wall: now.millis, logical: 0)
        } else if last.logical == .max {
            // Saturating: a wall of Int64.max (only a peer could have put it there) must not trap.
            last = HLCTimestamp(wall: last.wall.saturatingSuccessor, logical: last.wall == .max ? .max : 0)
        } else {
            last.logical += 1
        }
        return last
    }

    /// Takes a remote reading into account so that later local readings exceed it.
    package mutating func observe(_ remote: HLCTimestamp) {
        if remote > last { last = remote }
    }
}

/// A last-writer-wins stamp: the HLC reading, tie-broken by the writing node. Totally ordered across nodes.
package struct Stamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    package var time: HLCTimestamp
    package var node: NodeID

    package init(time: HLCTimestamp, node: NodeID) {
        self.time = time
        self.node = node
    }

    package static func < (lhs: Stamp, rhs: Stamp) -> Bool {
        if lhs.time != rhs.time { return lhs.time < rhs.time }
        return lhs.node < rhs.node
    }

    package var description: String { "\(time)@\(node)" }
}
