/// A small, fast, seedable pseudo-random generator (SplitMix64, Steele et al. 2014).
///
/// The core takes randomness as a parameter; tests and the simulator pass this generator so that a seed
/// replays a run exactly. Not for secrets: the shell uses `SystemRandomNumberGenerator` for session ids.
package struct SplitMix64: RandomNumberGenerator, Sendable {
    package private(set) var state: UInt64

    package init(seed: UInt64) { self.state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The SplitMix64 finalizer: a bijective avalanche of `value`. Also used by `StableHash`.
    package static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
