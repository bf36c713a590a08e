/// The changes one request makes to a session, committed together as one delta at the end of the request
/// (Tomcat's ReplicationValve model). Recording, not applying: the replication instance stamps and applies
/// them at commit.
public struct SessionChanges: Hashable, Sendable {
    public enum Change: Hashable, Sendable {
        case set(name: String, value: [UInt8])
        case remove(name: String)
        case setMaxInactive(seconds: Int64)
        case invalidate
    }

    public private(set) var changes: [Change] = []
    /// Whether the request accessed the session (refreshes last access, possibly without a delta).
    public var touched = true

    public init() {}

    public var isEmpty: Bool { changes.isEmpty }

    public mutating func set(_ name: String, _ value: [UInt8]) { changes.append(.set(name: name, value: value)) }
    public mutating func set(_ name: String, _ value: String) { set(name, Array(value.utf8)) }
    public mutating func remove(_ name: String) { changes.append(.remove(name: name)) }
    public mutating func setMaxInactive(seconds: Int64) { changes.append(.setMaxInactive(seconds: seconds)) }
    public mutating func invalidate() { changes.append(.invalidate) }

    /// Whether the changes end the session.
    public var invalidates: Bool { changes.contains(.invalidate) }
}
