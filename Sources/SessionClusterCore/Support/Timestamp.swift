/// A wall-clock instant in milliseconds since the Unix epoch, as read by the shell and handed to the core.
///
/// The core never reads a clock: every event carries `now`. Node clocks may be skewed against each other;
/// ordering across nodes never relies on them alone (see `HybridLogicalClock`).
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var millis: Int64

    /// The instant `millis` ms after the Unix epoch.
    public init(millis: Int64) { self.millis = millis }

    /// The Unix epoch.
    public static let zero = Timestamp(millis: 0)

    /// Earlier first.
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.millis < rhs.millis }

    /// This instant moved by `millis` milliseconds (saturating, so far-future deadlines never trap).
    public func adding(millis delta: Int64) -> Timestamp {
        let (sum, overflow) = millis.addingReportingOverflow(delta)
        return Timestamp(millis: overflow ? (delta > 0 ? .max : .min) : sum)
    }

    /// Milliseconds from `earlier` to this instant.
    public func millis(since earlier: Timestamp) -> Int64 { millis &- earlier.millis }

    public var description: String { "t\(millis)" }
}
