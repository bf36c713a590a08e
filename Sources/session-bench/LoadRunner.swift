import Foundation
import Synchronization

/// One client connection's work, created on its own thread (so nothing non-Sendable crosses threads).
protocol LoadWorker: AnyObject {
    /// One unit of load (a web-style cycle, a Redis cycle, one write). Throws on a failed exchange.
    func cycle() throws
    /// Closes the connection.
    func finish()
}

/// What one load run measured.
struct LoadOutcome: Sendable {
    /// Cycles completed inside the measurement window, per second.
    var cyclesPerSecond: Double
    var latency: LatencySummary
    /// Cycles attempted after the start signal (warm-up included): the divisor for wire cost per write.
    var totalCycles: Int
    var errors: Int
    var firstError: String?
    /// Seconds the measurement window lasted.
    var seconds: Double
}

/// Runs load from dedicated threads (blocking sockets; never the cooperative pool): every thread builds its
/// worker (log in, …), all start together, run `warmup` seconds unmeasured then `measure` seconds measured —
/// or until `whileRunning` (run on the calling thread once load is on) returns — and stop.
///
/// `pacingPerThread`: cycles per second each thread aims at (a steady rate); nil runs flat out. A paced thread
/// that falls behind by more than 50 ms drops the backlog instead of bursting.
func runLoad(
    threads: Int, warmup: Double, measure: Double, pacingPerThread: Double? = nil,
    atStart: () throws -> Void = {}, whileRunning: (() throws -> Void)? = nil,
    make: @escaping @Sendable (Int) throws -> any LoadWorker
) throws -> LoadOutcome {
    struct ThreadResult: Sendable {
        var latencies: [UInt64] = []
        var total = 0
        var errors = 0
        var firstError: String?
    }
    final class Shared: Sendable {
        let results = Mutex<[ThreadResult]>([])
        let start = Atomic<UInt64>(0)
        let stop = Atomic<Bool>(false)
        let ready = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
    }
    let shared = Shared()
    let interval = pacingPerThread.flatMap { $0 > 0 ? UInt64(1e9 / $0) : nil }
    let warmupNanos = UInt64(warmup * 1e9)
    let windowNanos = UInt64(measure * 1e9)
    for index in 0..<threads {
        shared.done.enter()
        let thread = Thread {
            var result = ThreadResult()
            defer {
                shared.results.withLock { $0.append(result) }
                shared.done.leave()
            }
            let worker: any LoadWorker
            do {
                worker = try make(index)
            } catch {
                result.errors += 1
                result.firstError = "setup: \(error)"
                shared.ready.signal()
                return
            }
            defer { worker.finish() }
            shared.ready.signal()
            shared.go.wait()
            let start = shared.start.load(ordering: .acquiring)
            let measureFrom = start + warmupNanos
            let end = measureFrom + windowNanos
            result.latencies.reserveCapacity(Int(min(2_000_000, measure * 50_000 / Double(threads))))
            // Spread paced threads over one interval so their writes do not arrive in bursts.
            var next = start + (interval.map { $0 * UInt64(index) / UInt64(threads) } ?? 0)
            while !shared.stop.load(ordering: .relaxed) {
                var began = Measure.nanos()
                if began >= end { break }
                if let interval {
                    if began < next {
                        Measure.sleep(Double(next - began) / 1e9)
                        began = Measure.nanos()
                    } else if began > next + 50_000_000 {
                        next = began
                    }
                    next += interval
                }
                do {
                    try worker.cycle()
                } catch {
                    result.errors += 1
                    if result.firstError == nil { result.firstError = "\(error)" }
                    if result.errors > 1_000 { break }
                    continue
                }
                let finished = Measure.nanos()
                result.total += 1
                if began >= measureFrom {
                    result.latencies.append(finished - began)
                }
            }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    for _ in 0..<threads {
        if shared.ready.wait(timeout: .now() + 60) == .timedOut { throw BenchError("load threads did not get ready") }
    }
    var failure: (any Error)?
    do { try atStart() } catch { failure = error }
    let startNanos = Measure.nanos()
    shared.start.store(startNanos, ordering: .releasing)
    if failure != nil { shared.stop.store(true, ordering: .relaxed) }
    for _ in 0..<threads { shared.go.signal() }
    var measuredSeconds = measure
    if let whileRunning, failure == nil {
        do { try whileRunning() } catch { failure = error }
        measuredSeconds = max(0.001, Double(Measure.nanos() - startNanos) / 1e9 - warmup)
        shared.stop.store(true, ordering: .relaxed)
    }
    if shared.done.wait(timeout: .now() + warmup + measure + 60) == .timedOut {
        shared.stop.store(true, ordering: .relaxed)
        throw BenchError("load threads did not finish")
    }
    if let failure { throw failure }
    let results = shared.results.withLock { $0 }
    let latencies = results.flatMap(\.latencies)
    return LoadOutcome(
        cyclesPerSecond: Double(latencies.count) / measuredSeconds, latency: LatencySummary(nanos: latencies),
        totalCycles: results.reduce(0) { $0 + $1.total }, errors: results.reduce(0) { $0 + $1.errors },
        firstError: results.compactMap(\.firstError).first, seconds: measuredSeconds)
}
