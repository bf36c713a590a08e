/// Which of a node's loops owns a session, when the node runs several (`ClusterNodeSettings.loops`).
///
/// Fixed and the same on every node: shard `k` of one node replicates only with shard `k` of its peers, so every
/// node of a cluster must run the same number of shards. The id's low 64 bits (random for random ids, a hash for
/// named ones) go through the SplitMix64 finalizer, so the shard is independent of the ring position
/// (`StableHash`) and of the id's order.
package enum Shards {
    /// The shard of `id` among `count` (0 when `count` ≤ 1).
    @inline(__always)
    package static func shard(of id: SessionID, count: Int) -> Int {
        guard count > 1 else { return 0 }
        return Int(SplitMix64.mix(id.low ^ 0x5348_4152_4453_0001) % UInt64(count))
    }
}
