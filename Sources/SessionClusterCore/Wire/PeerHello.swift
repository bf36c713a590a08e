/// The first frame on a TCP peer link: which cluster the sender belongs to and who it is.
///
/// A receiver MUST close the link when `cluster` is not its own. Encoded as the cluster string, then the
/// member info (see `WireCodec+Membership.swift`).
package struct PeerHello: Hashable, Sendable {
    /// The sender's cluster name.
    package var cluster: String
    /// The sender's identity and endpoints.
    package var member: MemberInfo

    /// A greeting from `member` of `cluster`.
    package init(cluster: String, member: MemberInfo) {
        self.cluster = cluster
        self.member = member
    }
}
