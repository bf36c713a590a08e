import Foundation
import Synchronization

/// Hands a node's log records to `ClusterNodeSettings.logHandler` on a thread of its own, so that a handler
/// that is slow or stuck (a stdout pipe nobody reads) never stalls the event loop.
///
/// The loop appends to a bounded queue (`capacity` records) and goes on; the drainer thread takes the queue
/// whole and calls the handler for each record in order. When the queue is full a record is dropped and
/// counted (`dropped`), and the next delivery starts with a warning record `N log records dropped`. A record
/// below `level` costs one comparison: its message and fields are never built (`log` takes autoclosures).
final class NodeLogger: Sendable {
    /// The lowest level delivered.
    let level: LogLevel
    /// The node name every record carries.
    let node: String
    /// Most records waiting for the handler; beyond it they are dropped.
    let capacity: Int
    private let handler: (@Sendable (LogRecord) -> Void)?

    private struct State {
        var queue: [LogRecord] = []
        /// Dropped since the last warning record was delivered.
        var droppedUnreported = 0
        /// The drainer waits on `wake` (a producer that finds this set signals it once).
        var drainerAsleep = false
        /// No more records are taken; the drainer exits once it has delivered what is queued.
        var closed = false
        var drainerExited = false
        var finishWaiters: [(id: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var nextWaiterID = 0
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let droppedTotal = Atomic<Int>(0)

    /// Records dropped so far because the queue was full (or came after `finish`).
    var dropped: Int { droppedTotal.load(ordering: .relaxed) }

    /// A logger for `node`; with a nil `handler` nothing is ever logged and no thread is started.
    init(node: String, level: LogLevel, capacity: Int, handler: (@Sendable (LogRecord) -> Void)?) {
        self.node = node
        self.level = level
        self.capacity = max(1, capacity)  // `validateLimits` refuses less; a direct caller gets 1
        self.handler = handler
        guard handler != nil else {
            state.withLock { $0.drainerExited = true }
            return
        }
        let thread = Thread { [self] in drain() }
        thread.name = "log-\(node)"
        thread.stackSize = 512 << 10
        thread.start()
    }

    /// Whether a record at `level` would be delivered (someone listens, and it is at or above `self.level`).
    @inline(__always)
    func admits(_ level: LogLevel) -> Bool { handler != nil && level >= self.level }

    /// Queues a record at `level`, stamped now; `message` and `fields` are evaluated only when it is admitted.
    /// Never blocks (beyond a short lock): a full queue drops the record and counts it.
    func log(
        _ level: LogLevel, _ message: @autoclosure () -> String,
        _ fields: @autoclosure () -> [(key: String, value: String)] = []
    ) {
        guard admits(level) else { return }
        submit(
            LogRecord(
                level: level, message: message(), fields: fields(), node: node,
                timestampMillis: EventLoop.wallMillis()))
    }

    /// Queues `record` as is (its level is checked against `level`).
    func submit(_ record: LogRecord) {
        guard admits(record.level) else { return }
        let wakeDrainer = state.withLock { state -> Bool? in
            guard !state.closed, state.queue.count < capacity else {
                state.droppedUnreported += 1
                return nil
            }
            state.queue.append(record)
            defer { state.drainerAsleep = false }
            return state.drainerAsleep
        }
        guard let wakeDrainer else {
            droppedTotal.add(1, ordering: .relaxed)
            return
        }
        if wakeDrainer { wake.signal() }
    }

    /// Takes no more records, then waits until the queued ones have been handed over, or `waitingAtMostMillis`
    /// passed (a handler that blocks forever keeps its thread, but not the caller).
    func finish(waitingAtMostMillis: Int = 1_000) async {
        let wakeDrainer = state.withLock { state -> Bool in
            state.closed = true
            defer { state.drainerAsleep = false }
            return state.drainerAsleep
        }
        if wakeDrainer { wake.signal() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let id = state.withLock { state -> Int? in
                guard !state.drainerExited else { return nil }
                state.nextWaiterID += 1
                state.finishWaiters.append((state.nextWaiterID, continuation))
                return state.nextWaiterID
            }
            guard let id else { return continuation.resume() }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(waitingAtMostMillis)) { [self] in
                let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    guard let index = state.finishWaiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return state.finishWaiters.remove(at: index).continuation
                }
                waiter?.resume()
            }
        }
    }

    /// The drainer thread: hands over everything queued, a batch at a time, until finished.
    private func drain() {
        guard let handler else { return }
        while true {
            enum Step {
                case sleep
                case exit([CheckedContinuation<Void, Never>])
                case deliver([LogRecord], dropped: Int)
            }
            let step = state.withLock { state -> Step in
                if state.queue.isEmpty && state.droppedUnreported == 0 {
                    guard state.closed else {
                        state.drainerAsleep = true
                        return .sleep
                    }
                    state.drainerExited = true
                    defer { state.finishWaiters = [] }
                    return .exit(state.finishWaiters.map(\.continuation))
                }
                defer {
                    state.queue = []
                    state.droppedUnreported = 0
                }
                return .deliver(state.queue, dropped: state.droppedUnreported)
            }
            switch step {
            case .sleep:
                wake.wait()
            case .exit(let waiters):
                for waiter in waiters { waiter.resume() }
                return
            case .deliver(let records, let dropped):
                if dropped > 0 && level <= .warning {
                    handler(
                        LogRecord(
                            level: .warning, message: "\(dropped) log records dropped",
                            fields: [("dropped", String(dropped)), ("reason", "the log handler fell behind")],
                            node: node, timestampMillis: EventLoop.wallMillis()))
                }
                for record in records { handler(record) }
            }
        }
    }
}
