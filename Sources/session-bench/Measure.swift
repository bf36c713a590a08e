import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Monotonic time and the small statistics every section shares.
enum Measure {
    /// Nanoseconds on the monotonic clock (CLOCK_MONOTONIC: never steps, unaffected by NTP slews of the wall clock).
    @inline(__always)
    static func nanos() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// Seconds on the monotonic clock.
    static func seconds() -> Double { Double(nanos()) / 1e9 }

    /// Milliseconds since the Unix epoch (for Redis `PEXPIREAT` and `lastAccessedTime`).
    static func wallMillis() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// Sleeps `seconds` (nanosleep, resumed after signals).
    static func sleep(_ seconds: Double) {
        guard seconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    /// The `fraction` quantile (nearest rank) of `values`; 0 for none.
    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(sorted.count - 1, max(0, rank))]
    }

    /// The median of `values`; 0 for none.
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}

/// Keeps a computed value alive so the optimizer cannot delete the work that produced it.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// Latency quantiles of one run, in milliseconds.
struct LatencySummary: Sendable {
    var count: Int
    var p50: Double
    var p99: Double
    var max: Double

    /// Summarises latencies given in nanoseconds.
    init(nanos: [UInt64]) {
        let millis = nanos.map { Double($0) / 1e6 }
        count = millis.count
        p50 = Measure.percentile(millis, 0.50)
        p99 = Measure.percentile(millis, 0.99)
        max = millis.max() ?? 0
    }

    init(count: Int, p50: Double, p99: Double, max: Double) {
        self.count = count
        self.p50 = p50
        self.p99 = p99
        self.max = max
    }
}

/// Prints a progress line at once (stdout is block-buffered when piped).
func progress(_ line: String) {
    print("  … " + line)
    fflush(nil)
}

/// Formats `value` with `digits` decimals ("-" for NaN or infinity).
func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "-" }
    return String(format: "%.\(digits)f", value)
}
