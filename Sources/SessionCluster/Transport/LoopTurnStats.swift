/// How long an event loop's turns took: the work of one iteration (event handlers, due timers, the inbox and
/// end-of-iteration work), not the time spent waiting in `epoll_wait`. Read on the loop (`EventLoop.turnStats`).
///
/// A turn that takes long delays every socket and timer served by the loop, so `maxMicros` is the figure to
/// watch: a request that arrives during a 20 ms turn waits up to 20 ms before it is even read.
public struct LoopTurnStats: Sendable, Equatable {
    /// Upper bounds of the histogram's buckets, in microseconds; a last bucket (`+Inf`) follows them.
    public static let bounds: [Int] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000]

    /// Turns per bucket (not cumulative): `buckets[i]` counts turns of at most `bounds[i]` µs (and more than the
    /// bound before it); the last counts the longer ones. `bounds.count + 1` entries.
    public private(set) var buckets = [Int](repeating: 0, count: LoopTurnStats.bounds.count + 1)
    /// Turns measured.
    public private(set) var count = 0
    /// Their total duration, in microseconds.
    public private(set) var sumMicros = 0
    /// The longest turn, in microseconds.
    public private(set) var maxMicros = 0

    public init() {}

    /// Adds one turn of `micros` microseconds.
    public mutating func record(micros: Int) {
        let micros = max(0, micros)
        var index = 0
        while index < Self.bounds.count && micros > Self.bounds[index] { index += 1 }
        buckets[index] += 1
        count += 1
        sumMicros &+= micros
        maxMicros = max(maxMicros, micros)
    }
}
