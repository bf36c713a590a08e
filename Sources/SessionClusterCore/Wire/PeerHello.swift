/// The first frame on a TCP peer link: which cluster the sender belongs to and who it is.
///
/// A receiver MUST close the link when `cluster` is not its own. Encoded as the cluster string, then the
/// member info (see `WireCodec+Membership.swift`).
public struct PeerHello: Hashable, Sendable {
    /// The sender's cluster name.
    public var cluster: String
    /// The sender's identity and endpoints.
    public var member: MemberInfo

    /// A greeting from `member` of `cluster`.
    public init(cluster: String, member: MemberInfo) {
        self.cluster = cluster
        self.member = member
    }
}
