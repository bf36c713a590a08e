import Foundation
import Synchronization

/// A fixed number of dedicated threads that run long computations one after another, for the awaiting tests.
///
/// Not an `OperationQueue`: on Linux its operations run on Dispatch's worker threads, the very pool (one thread
/// per core) that runs Swift's tasks — two simulations filled it and every async test in the process stood still
/// for as long as the simulations ran (70–110 s in a parallel `swift test`). These threads are the test's own,
/// so the width caps the CPU the computations take without taking any thread from the pool.
public final class WorkerThreads: Sendable {
    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let ready = DispatchSemaphore(value: 0)

    /// Starts `count` threads named `name-N`; they live as long as the process.
    public init(count: Int, name: String) {
        for index in 0..<count {
            let thread = Thread { [self] in
                while true {
                    ready.wait()
                    let job = jobs.withLock { $0.removeFirst() }
                    job()
                }
            }
            thread.name = "\(name)-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Runs `body` on one of the threads once one is free, and returns its result. `body` MUST NOT call
    /// `#expect` or `Issue.record` (see ``onOwnThread(_:)``).
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            jobs.withLock { $0.append { continuation.resume(returning: body()) } }
            ready.signal()
        }
    }
}
