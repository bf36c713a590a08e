import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A thread of its own that runs jobs one after another, in the order given, at a lower CPU priority than the
/// event loop: the append log's writer and its compactions.
///
/// Why not a `DispatchQueue`: the priority. On a machine whose cores the loop and its clients keep busy, a writer at
/// the loop's priority takes CPU from them whenever it wakes (measured: the loop sat idle 10–16 % of the time,
/// waiting for clients that waited for a core); at `nice` 10 it runs in the gaps and still gets about a tenth of a
/// contended core, several times what 55 MB/s of appends need. A dispatch queue's threads are shared, so lowering
/// one's priority would leak into unrelated work, and an unprivileged process cannot raise it back.
final class BackgroundThread: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var asleep = false
        var closed = false
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)

    /// Starts the thread; `nice` (0…19) is its CPU priority, applied to that thread only (Linux: `setpriority` of
    /// the calling thread).
    init(name: String, nice: Int32) {
        let thread = Thread { [self] in
            if nice > 0 {
                // PRIO_PROCESS with who 0: on Linux the calling thread alone. Lowering a priority needs no privilege.
                _ = setpriority(__priority_which_t(0), 0, nice)
            }
            run()
        }
        thread.name = name
        thread.stackSize = 512 << 10
        thread.start()
    }

    /// Queues `job` after those queued before. Returns false (and drops it) once `close` was called.
    @discardableResult
    func async(_ job: @escaping @Sendable () -> Void) -> Bool {
        let wakeRunner = state.withLock { state -> Bool? in
            guard !state.closed else { return nil }
            state.jobs.append(job)
            defer { state.asleep = false }
            return state.asleep
        }
        if wakeRunner == true { wake.signal() }
        return wakeRunner != nil
    }

    /// Runs `job` after every job queued before it and waits for it; runs it on the caller's thread once closed
    /// (nothing else is left to wait for then). MUST NOT be called from this thread.
    func sync<Value: Sendable>(_ job: @escaping @Sendable () -> Value) -> Value {
        let result = Mutex<Value?>(nil)
        let done = DispatchSemaphore(value: 0)
        guard
            async({
                result.withLock { $0 = job() }
                done.signal()
            })
        else { return job() }
        done.wait()
        return result.withLock { $0! }
    }

    /// Runs what is queued, then ends the thread and waits until it has. Later jobs are refused.
    func close() {
        let wakeRunner = state.withLock { state -> Bool? in
            guard !state.closed else { return nil }
            state.closed = true
            defer { state.asleep = false }
            return state.asleep
        }
        guard let wakeRunner else { return }
        if wakeRunner { wake.signal() }
        exited.wait()
    }

    private func run() {
        while true {
            let jobs = state.withLock { state -> [@Sendable () -> Void]? in
                if state.jobs.isEmpty {
                    if state.closed { return nil }
                    state.asleep = true
                    return []
                }
                defer { state.jobs = [] }
                return state.jobs
            }
            guard let jobs else { break }
            if jobs.isEmpty {
                wake.wait()
                continue
            }
            for job in jobs { job() }
        }
        exited.signal()
    }
}
