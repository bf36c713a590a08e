import SessionClusterCore

/// Replication lag as this node measured it: for sampled deltas, the time from the sender queueing the frame
/// (its clock stamp, `ClusterNodeSettings.lagSampleMillis`) to this node having applied it. Only meaningful when
/// the nodes' clocks agree (one host, or PTP); a sample below zero counts as zero.
public struct ReplicationLag: Sendable, Equatable {
    /// Upper bounds (µs) of the histogram buckets; a last bucket holds everything above.
    public static let bounds = [
        25, 50, 75, 100, 125, 150, 200, 250, 300, 400, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 20_000,
        50_000, 100_000, 1_000_000,
    ]
    /// How many recent samples `recent` keeps.
    public static let recentCapacity = 1_024

    /// Clock stamps this node sent (frames of 16 bytes before sealing; not in `NodeStats.framesSent`).
    public internal(set) var stampsSent = 0
    /// Samples since the node started, their sum and the largest (µs).
    public private(set) var count = 0
    /// The sum of all samples, in µs (with `count`, the mean).
    public private(set) var sumMicros = 0
    /// The largest sample, in µs.
    public private(set) var maxMicros = 0
    /// Samples per bucket of `bounds` (not cumulative); `bounds.count + 1` entries.
    public private(set) var buckets = [Int](repeating: 0, count: ReplicationLag.bounds.count + 1)
    /// The latest samples (µs), at most `recentCapacity`, in arrival order.
    public var recent: [Int] { ring.count < Self.recentCapacity ? ring : Array(ring[next...] + ring[..<next]) }

    private var ring: [Int] = []
    private var next = 0

    /// No samples.
    public init() {}

    /// Adds one sample.
    public mutating func record(micros: Int64) {
        let value = Int(clamping: max(0, micros))
        count += 1
        // Saturating: a peer's stamp of 0 makes every sample ~55 years; their sum must not trap the node.
        sumMicros = sumMicros.saturatingAdding(value)
        maxMicros = max(maxMicros, value)
        buckets[Self.bounds.firstIndex { value <= $0 } ?? Self.bounds.count] += 1
        if ring.count < Self.recentCapacity {
            ring.append(value)
        } else {
            ring[next] = value
            next = (next + 1) % Self.recentCapacity
        }
    }

    /// Adds the samples of `other` (another shard of the same node); its recent samples follow this one's.
    public mutating func add(_ other: ReplicationLag) {
        stampsSent += other.stampsSent
        count += other.count
        sumMicros = sumMicros.saturatingAdding(other.sumMicros)
        maxMicros = max(maxMicros, other.maxMicros)
        for index in buckets.indices { buckets[index] += other.buckets[index] }
        var merged = recent + other.recent
        if merged.count > Self.recentCapacity { merged.removeFirst(merged.count - Self.recentCapacity) }
        ring = merged
        next = 0
    }

    /// The `fraction` quantile (0...1) of the recent samples, nil without any.
    public func recentPercentile(_ fraction: Double) -> Int? {
        guard !ring.isEmpty else { return nil }
        let sorted = ring.sorted()
        let index = Int((Double(sorted.count - 1) * min(1, max(0, fraction))).rounded())
        return sorted[index]
    }
}
