/// The identity of one node *incarnation*: a fresh random value each time a process starts.
///
/// A restarted node is therefore a new member; its earlier incarnation is dead for good. The human name
/// (`n1`) lives in `MemberInfo`; the id is what version vectors, the hash ring and links key on.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The id: random for each start of a node.
    public let rawValue: UInt64

    /// The node id `rawValue`.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// A new random incarnation id drawn from `generator` (the shell passes the system CSPRNG).
    public init(using generator: inout some RandomNumberGenerator) {
        self.rawValue = generator.next()
    }

    /// Orders ids numerically (ties between concurrent writes break by it).
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { hex(rawValue, width: 16) }
}

/// Lower-case hexadecimal of `value`, zero-padded to `width` digits.
func hex(_ value: UInt64, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
