/// The fixed hash behind the ring: 64-bit FNV-1a over the bytes, then the SplitMix64 finalizer to spread
/// FNV's weak low bits. Documented and stable across processes, builds and platforms — unlike Swift's
/// `Hasher`, which is seeded per process and would give every node a different ring.
///
/// `StableHash.hash([])` is `SplitMix64.mix(0xcbf29ce484222325)`; any change here is a wire-protocol change.
package enum StableHash {
    package static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var state: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            state ^= UInt64(byte)
            state &*= 0x0000_0100_0000_01B3
        }
        return SplitMix64.mix(state)
    }

    /// The ring position of a session: the hash of its 16 id bytes.
    package static func hash(_ id: SessionID) -> UInt64 { hash(id.bytes) }
}
