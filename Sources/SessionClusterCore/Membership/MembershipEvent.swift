/// A change in membership, emitted exactly once per status transition.
public enum MembershipEvent: Hashable, Sendable, CustomStringConvertible {
    /// A new member incarnation became known (directly or through gossip).
    case joined(MemberInfo)
    /// An alive member went silent for `suspectAfterMillis`, or its replication link was lost.
    case suspect(MemberInfo)
    /// A suspect or dead member was heard from directly again (e.g. a healed partition).
    case recovered(MemberInfo)
    /// A member timed out, its replication port refused a connection, or a new incarnation replaced it.
    case dead(MemberInfo)
    /// A member announced a graceful stop (itself, or relayed by gossip); it never comes back.
    case left(MemberInfo)

    /// The member the event is about.
    public var member: MemberInfo {
        switch self {
        case .joined(let info), .suspect(let info), .recovered(let info), .dead(let info), .left(let info): info
        }
    }

    /// One log line, e.g. `member n2(…) joined (replication 198.51.100.2:4000, http 198.51.100.2:8080)`.
    public var description: String {
        switch self {
        case .joined(let info):
            "member \(info) joined (replication \(info.replication)"
                + (info.http.isEmpty ? ")" : ", http \(info.http))")
        case .suspect(let info): "member \(info) is suspect"
        case .recovered(let info): "member \(info) recovered"
        case .dead(let info): "member \(info) is dead"
        case .left(let info): "member \(info) left"
        }
    }
}
