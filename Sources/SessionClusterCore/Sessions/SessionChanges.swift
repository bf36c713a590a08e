/// The changes one request makes to a session, committed together as one delta at the end of the request
/// (Tomcat's ReplicationValve model). Recording, not applying: the replication instance stamps and applies
/// them at commit.
public struct SessionChanges: Hashable, Sendable {
    /// One recorded change.
    public enum Change: Hashable, Sendable {
        /// Attribute `name` becomes `value`.
        case set(name: String, value: [UInt8])
        /// Attribute `name` is removed.
        case remove(name: String)
        /// The session expires after this many seconds without a request (0: never).
        case setMaxInactive(seconds: Int64)
        /// The session ends (logout).
        case invalidate
    }

    /// The changes, in the order recorded (a later one on the same attribute wins).
    public private(set) var changes: [Change] = []
    /// Whether the request accessed the session (refreshes last access, possibly without a delta).
    public var touched = true

    /// No changes.
    public init() {}

    /// Whether nothing was recorded.
    public var isEmpty: Bool { changes.isEmpty }

    /// Sets attribute `name` to `value` (bytes, stored as given).
    public mutating func set(_ name: String, _ value: [UInt8]) { changes.append(.set(name: name, value: value)) }
    /// Sets attribute `name` to the UTF-8 bytes of `value` (read back with `SessionSnapshot.string`).
    public mutating func set(_ name: String, _ value: String) { set(name, Array(value.utf8)) }
    /// Removes attribute `name` (nothing when absent).
    public mutating func remove(_ name: String) { changes.append(.remove(name: name)) }
    /// Sets how long the session lives without a request, in seconds (0: until ended or deleted).
    public mutating func setMaxInactive(seconds: Int64) { changes.append(.setMaxInactive(seconds: seconds)) }
    /// Sets how long the session lives without a request, rounded up to whole seconds and at least one (use
    /// `setMaxInactive(seconds: 0)` for "never").
    public mutating func setMaxInactive(_ interval: Duration) {
        let (seconds, attoseconds) = interval.components
        let whole = seconds < 0 ? 0 : attoseconds > 0 && seconds < .max ? seconds + 1 : seconds
        setMaxInactive(seconds: max(1, whole))
    }
    /// Ends the session everywhere (as `ClusterNode.invalidate`).
    public mutating func invalidate() { changes.append(.invalidate) }

    /// Whether the changes end the session.
    public var invalidates: Bool { changes.contains(.invalidate) }
}
