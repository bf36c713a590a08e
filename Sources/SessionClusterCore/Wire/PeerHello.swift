/// The first frame on a TCP peer link: which cluster the sender belongs to and who it is.
///
/// A receiver MUST close the link when `cluster` is not its own, or when `shards` is not its own number of shards
/// (loops). Encoded as the cluster string, the member info, then the shard and the number of shards as varints
/// (see `WireCodec+Membership.swift`).
package struct PeerHello: Hashable, Sendable {
    /// The most shards a hello may name.
    package static let maxShards = 1_024
    /// The sender's cluster name.
    package var cluster: String
    /// The sender's identity and endpoints.
    package var member: MemberInfo
    /// The shard of the sender that opened the link: the receiver hands the link to its own shard `shard`.
    package var shard: Int
    /// The sender's number of shards (loops).
    package var shards: Int

    /// A greeting from shard `shard` of `shards` of `member` of `cluster`.
    package init(cluster: String, member: MemberInfo, shard: Int = 0, of shards: Int = 1) {
        self.cluster = cluster
        self.member = member
        self.shard = shard
        self.shards = shards
    }
}
