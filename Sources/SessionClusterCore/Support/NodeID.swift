/// The identity of one node *incarnation*: a fresh value each time a process starts, ordered by start time.
///
/// A restarted node is therefore a new member; its earlier incarnation is dead for good. The human name
/// (`n1`) lives in `MemberInfo`; the id is what version vectors, the hash ring and links key on.
///
/// The top 41 bits are the start time in milliseconds since 2024-01-01 (until 2093), the low 23 bits random.
/// Between two incarnations of one name the larger id is the later start, so membership lets the newer one
/// replace the older and never the reverse: a recording of an earlier run, replayed, cannot displace the
/// process running now, and two processes started under one name settle on the later one instead of taking turns.
/// The random bits keep two nodes started in the same millisecond apart (their keys and nonces derive from the id).
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The id: start time above, random below.
    public let rawValue: UInt64

    /// The node id `rawValue`.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bits below the start time.
    static let randomBits: UInt64 = 23
    /// 2024-01-01T00:00:00Z in Unix milliseconds: the start times' origin.
    package static let epochMillis: Int64 = 1_704_067_200_000

    /// An incarnation started at `started` (Unix time), with random low bits drawn from `generator` (the shell passes
    /// the system CSPRNG). Times before 2024 count as 2024.
    public init(started: Timestamp, using generator: inout some RandomNumberGenerator) {
        let millis = UInt64(max(0, started.millis - Self.epochMillis)) & (1 << (64 - Self.randomBits) - 1)
        self.rawValue = millis << Self.randomBits | generator.next() & (1 << Self.randomBits - 1)
    }

    /// An incarnation started at `started`, or 1 ms after `previous` when that is later: ids issued one after another
    /// in one process (an embedder or a test restarting a node within a millisecond, a clock stepped back) still grow.
    public init(started: Timestamp, after previous: NodeID?, using generator: inout some RandomNumberGenerator) {
        let floor = previous.map { Timestamp(millis: $0.started.millis + 1) } ?? started
        self.init(started: max(started, floor), using: &generator)
    }

    /// An id drawn entirely at random, with no start time in it; for tests and the simulator's scale runs, where
    /// no name restarts.
    public init(using generator: inout some RandomNumberGenerator) {
        self.rawValue = generator.next()
    }

    /// When this incarnation started, to the millisecond (for ids made by `init(started:using:)`).
    public var started: Timestamp {
        Timestamp(millis: Int64(rawValue >> Self.randomBits) + Self.epochMillis)
    }

    /// Orders ids numerically: by start time for ids from `init(started:using:)`. Ties between concurrent writes
    /// break by it, and the later incarnation of a name wins over an earlier one.
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The id scrambled (a bijection), where ids must spread evenly rather than keep their start-time order: the
    /// ring of ids that picks who answers a newcomer.
    var scrambled: UInt64 {
        var z = rawValue &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public var description: String { hex(rawValue, width: 16) }
}

/// Lower-case hexadecimal of `value`, zero-padded to `width` digits.
func hex(_ value: UInt64, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
