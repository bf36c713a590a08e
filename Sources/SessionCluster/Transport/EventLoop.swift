import CLinuxShims
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A single-threaded epoll event loop with an eventfd wake-up and millisecond timers.
///
/// Descriptors, handlers and timers are touched only on the loop thread; other threads hand work over with
/// `execute(_:)`. `ClusterNode` runs all its protocol state on one loop, and an embedder may serve other
/// sockets on it too (the HTTP front end of `session-node` does).
// @unchecked: mutable state is confined to the loop thread; the only cross-thread entry is `inbox` (a Mutex).
public final class EventLoop: @unchecked Sendable {
    private let epollFD: Int32
    private let wakeFD: Int32
    /// Work handed over from other threads; `open` turns false once the loop has run its last iteration, after
    /// which `execute` refuses work (it would never run) instead of queueing it forever.
    private let inbox = Mutex(Inbox())
    /// The inbox's previous batch, emptied, kept for its capacity (loop thread).
    private var spareWork: [@Sendable () -> Void] = []
    private let stopping = Atomic<Bool>(false)
    private let finished = Mutex<[CheckedContinuation<Void, Never>]?>([])
    private var handlers: [Int32: (UInt32) -> Void] = [:]
    private var endOfIteration: [IterationWork] = []
    private var timers = TimerHeap()
    private let name: String
    private var thread: Thread?
    /// The loop thread's `pthread_t` once it runs (0 before).
    private let loopThreadID = Atomic<UInt>(0)

    /// Work handed to the loop from other threads.
    private struct Inbox {
        var work: [@Sendable () -> Void] = []
        var open = true
        /// The wake-up descriptor was written since the loop last took the work: another write is not needed
        /// (under load, when loops hand each other work all the time, this saves a system call per hand-off).
        var wakePending = false
    }

    /// Creates the loop (not yet running). Throws when the kernel refuses epoll or eventfd.
    public init(name: String) throws(SystemError) {
        _ = System.ignoreSIGPIPE
        self.name = name
        epollFD = try System.call("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        do throws(SystemError) {
            wakeFD = try System.call("eventfd") { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
        } catch {
            System.close(epollFD)
            throw error
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeFD
        _ = epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event)
    }

    deinit {
        System.close(wakeFD)
        System.close(epollFD)
    }

    /// Starts the loop thread.
    public func start() {
        let thread = Thread { [self] in
            loopThreadID.store(UInt(pthread_self()), ordering: .releasing)
            // The name `top -H`, `perf` and /proc/<pid>/task/*/comm show (at most 15 bytes).
            _ = csc_name_thread(name)
            run()
        }
        thread.name = name
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    /// Whether the caller runs on the loop thread.
    public var inLoop: Bool {
        loopThreadID.load(ordering: .acquiring) == UInt(pthread_self())
    }

    /// Runs `work` on the loop thread, soon. Safe from any thread. Returns false, and never runs `work`, when the
    /// loop has stopped: a caller waiting for `work` MUST then answer by itself (see `ClusterNode`).
    @discardableResult
    public func execute(
        file: StaticString = #fileID, line: UInt = #line, _ work: @escaping @Sendable () -> Void
    ) -> Bool {
        let work = SlowTurnTrace.threshold == nil ? work : labelledSendable(work, file, line)
        let (accepted, wake) = inbox.withLock { inbox -> (Bool, Bool) in
            guard inbox.open else { return (false, false) }
            inbox.work.append(work)
            guard !inbox.wakePending else { return (true, false) }
            inbox.wakePending = true
            return (true, true)
        }
        guard accepted else { return false }
        if wake {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
        return true
    }

    /// Stops the loop after the current iteration, without waiting (any thread).
    public func requestStop() {
        stopping.store(true, ordering: .releasing)
        execute {}
    }

    /// Stops the loop after the current iteration and waits until its thread has finished.
    public func stop() async {
        await withCheckedContinuation { continuation in
            let done = finished.withLock { waiting -> Bool in
                guard waiting != nil else { return true }
                waiting!.append(continuation)
                return false
            }
            if done {
                continuation.resume()
            } else {
                stopping.store(true, ordering: .releasing)
                execute {}
            }
        }
    }

    // MARK: Loop-thread API

    /// The event bits for "readable" and "writable", for `register` / `modify` callers without epoll headers.
    public static let readable: UInt32 = EPOLLIN.rawValue
    /// The epoll event of a socket ready for writing.
    public static let writable: UInt32 = EPOLLOUT.rawValue

    /// Watches `fd` for `events` (EPOLLIN / EPOLLOUT bits); `handler` runs on the loop with the ready bits.
    /// The caller keeps ownership of `fd` and MUST `deregister` it before closing it.
    public func register(_ fd: Int32, events: UInt32, handler: @escaping (UInt32) -> Void) throws(SystemError) {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        try System.call("epoll_ctl(ADD)") { epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) }
        handlers[fd] = handler
    }

    /// Changes the events watched for `fd`.
    public func modify(_ fd: Int32, events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
    }

    /// Stops watching `fd` (it is not closed).
    public func deregister(_ fd: Int32) {
        guard handlers.removeValue(forKey: fd) != nil else { return }
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
    }

    /// Runs `work` on the loop thread at the end of the current iteration's events (loop thread only): work queued
    /// while handling one batch of events (and the inbox) runs once, after all of them and before the due timers —
    /// how small frames get batched; work queued by a timer runs after the timers.
    public func afterIteration(
        file: StaticString = #fileID, line: UInt = #line, _ work: @escaping () -> Void
    ) {
        endOfIteration.append(.closure(SlowTurnTrace.threshold == nil ? work : labelled(work, file, line)))
    }

    /// `afterIteration` for an object that does the work itself (`IterationEndTask`): nothing is allocated, where
    /// a closure capturing it costs an allocation — a stream's flush is queued once per answer.
    package func afterIteration(file: StaticString = #fileID, line: UInt = #line, _ task: any IterationEndTask) {
        if SlowTurnTrace.threshold == nil {
            endOfIteration.append(.task(task))
        } else {
            endOfIteration.append(.closure(labelled({ task.iterationEnded() }, file, line)))
        }
    }

    /// Runs `work` on the loop after `millis` milliseconds (loop thread only). Returns an id for `cancel`.
    /// O(log n) in the number of pending timers; timers due at the same millisecond fire in scheduling order.
    @discardableResult
    public func schedule(
        afterMillis millis: Int64, file: StaticString = #fileID, line: UInt = #line, _ work: @escaping () -> Void
    ) -> UInt64 {
        timers.schedule(
            at: Self.monotonicMillis() &+ max(0, millis),
            SlowTurnTrace.threshold == nil ? work : labelled(work, file, line))
    }

    /// Cancels a timer that has not fired yet (O(1); an id that fired or was cancelled is ignored).
    public func cancel(_ timer: UInt64) {
        timers.cancel(timer)
    }

    /// Timers scheduled that have neither fired nor been cancelled (loop thread only).
    public var pendingTimers: Int { timers.count }

    /// When the current turn began (monotonic µs; loop thread only).
    private var currentTurnStart: Int64 = 0

    /// Whether the current turn has run `servingBudgetMicros` or more (loop thread only). A connection that is
    /// asked to serve past it puts its work off (`serveLater`; see `RESPConnection`, `HTTPConnection`): each
    /// bounds its own share of a turn, but many clients each sending one costly command (a 30 MB `MGET`, a
    /// pipeline of big session reads) made turns of seconds, long enough for peers to declare the node dead.
    package func turnIsOverServingBudget(now: Int64 = monotonicMicros()) -> Bool {
        now - currentTurnStart >= Self.servingBudgetMicros
    }

    /// How long a turn serves clients before the rest wait for the next turn (µs).
    package static let servingBudgetMicros: Int64 = 5_000

    /// What a client's last command cost the loop, which orders its put-off work (`serveLater`).
    package enum ServingCost {
        /// It held the loop under `heavyCommandMicros`.
        case cheap
        /// It has run no command yet.
        case unknown
        /// It held the loop longer.
        case heavy
    }

    /// Client work put off by a connection that found the turn's serving budget used up, or its own share of a
    /// turn (loop thread only). It runs at the end of this turn's timers, or of a later turn: the cheap clients'
    /// work first, in order, for `servingBudgetMicros`; then new clients' (one at least); then one heavy client's
    /// (fifty 30 MB `MGET`s take a turn each, in turn, while a `GET` waits behind other cheap work only). Not in
    /// the timer heap: put-off work there ran ahead of the membership heartbeats due after it, one per turn, and
    /// peers declared the node dead.
    package func serveLater(_ cost: ServingCost, _ work: @escaping () -> Void) {
        switch cost {
        case .cheap: cheapServing.append(work)
        case .unknown: newServing.append(work)
        case .heavy: heavyServing.append(work)
        }
    }

    /// A command that held the loop longer than this (µs) makes its client's put-off work heavy.
    package static let heavyCommandMicros: Int64 = 1_000

    private var cheapServing: [() -> Void] = []
    private var newServing: [() -> Void] = []
    private var heavyServing: [() -> Void] = []
    private var hasPutOffServing: Bool { !cheapServing.isEmpty || !newServing.isEmpty || !heavyServing.isEmpty }

    private func runPutOffServing() {
        guard hasPutOffServing else { return }
        let start = Self.monotonicMicros()
        runQueued(\.cheapServing, since: start)
        runQueued(\.newServing, since: start)
        if !heavyServing.isEmpty {
            let work = heavyServing.removeFirst()
            work()
        }
    }

    /// Runs the queue at `queue` in order, one item at least, until `servingBudgetMicros` have passed since
    /// `start`. The queue is taken whole before its work runs (the work may put more off, into the same queue):
    /// what did not run goes back first, ahead of what the work run put off again.
    private func runQueued(_ queue: ReferenceWritableKeyPath<EventLoop, [() -> Void]>, since start: Int64) {
        let batch = self[keyPath: queue]
        guard !batch.isEmpty else { return }
        self[keyPath: queue] = []
        let ran = Self.run(batch, since: start)
        if ran < batch.count { self[keyPath: queue] = Array(batch[ran...]) + self[keyPath: queue] }
    }

    /// Runs `batch` in order, one item at least, until `servingBudgetMicros` have passed since `start`; returns
    /// how many ran.
    private static func run(_ batch: [() -> Void], since start: Int64) -> Int {
        var index = 0
        while index < batch.count {
            batch[index]()
            index += 1
            if monotonicMicros() - start >= servingBudgetMicros { break }
        }
        return index
    }

    /// How long this loop's turns took (read on the loop thread): each iteration's handlers, timers, inbox and
    /// end-of-iteration work, not its wait for events.
    public private(set) var turnStats = LoopTurnStats()

    // MARK: Clocks

    /// Milliseconds of the monotonic clock (for timeouts).
    public static func monotonicMillis() -> Int64 { clockMillis(CLOCK_MONOTONIC) }

    /// Microseconds of the monotonic clock (for measuring durations).
    public static func monotonicMicros() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1_000
    }

    /// Wall-clock milliseconds since the epoch (for the protocol's `Timestamp`).
    public static func wallMillis() -> Int64 { clockMillis(CLOCK_REALTIME) }

    /// Wall-clock microseconds since the epoch (replication-lag samples).
    public static func wallMicros() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1_000
    }

    private static func clockMillis(_ clock: clockid_t) -> Int64 {
        var spec = timespec()
        clock_gettime(clock, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    // MARK: Slow-turn trace (diagnostics)

    /// DIAGNOSTICS ONLY (`SESSIONCLUSTER_SLOW_TURN_MICROS`): what the current turn ran, by call site.
    private var trace: SlowTurnTrace? = SlowTurnTrace.threshold.map { SlowTurnTrace(threshold: $0) }

    /// `work` timed under its call site when it runs (only while the trace is on).
    private func labelled(_ work: @escaping () -> Void, _ file: StaticString, _ line: UInt) -> () -> Void {
        { [unowned self] in timed(work, file, line) }
    }

    private func labelledSendable(
        _ work: @escaping @Sendable () -> Void, _ file: StaticString, _ line: UInt
    ) -> @Sendable () -> Void {
        { [unowned self] in timed(work, file, line) }
    }

    private func timed(_ work: () -> Void, _ file: StaticString, _ line: UInt) {
        let started = Self.monotonicMicros()
        work()
        trace?.item("\(file):\(line)", since: started)
    }

    // MARK: The loop

    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 128)
        while !stopping.load(ordering: .acquiring) {
            let timeout = nextTimeout()
            let count = events.withUnsafeMutableBufferPointer { buffer in
                epoll_wait(epollFD, buffer.baseAddress, Int32(buffer.count), timeout)
            }
            let turnStart = Self.monotonicMicros()
            currentTurnStart = turnStart
            if trace != nil { trace!.begin() }
            if count > 0 {
                for index in 0..<Int(count) {
                    let fd = events[index].data.fd
                    if fd == wakeFD {
                        var value: UInt64 = 0
                        _ = read(wakeFD, &value, 8)
                    } else if trace != nil {
                        let started = Self.monotonicMicros()
                        handlers[fd]?(events[index].events)
                        trace!.item("fd \(fd)", since: started)
                    } else {
                        handlers[fd]?(events[index].events)
                    }
                }
            }
            drainInbox()
            // The answers to this turn's requests leave before the timers run: maintenance steps (a sweep, a
            // walk over a million keys) would otherwise hold every answer of the turn back by their length.
            runEndOfIteration()
            runDueTimers()
            drainInbox()
            runPutOffServing()
            runEndOfIteration()
            let turnMicros = Int(Self.monotonicMicros() - turnStart)
            turnStats.record(micros: turnMicros)
            if trace != nil { trace!.end(micros: turnMicros, loop: name, events: Int(count)) }
        }
        // The last drain runs to the end: work that work hands over still runs before the inbox closes.
        drainInbox(bounded: false)
        // Close the inbox, then run what slipped in before it closed: from here on `execute` refuses work.
        let last = inbox.withLock { inbox -> [@Sendable () -> Void] in
            inbox.open = false
            defer { inbox.work = [] }
            return inbox.work
        }
        for item in last { item() }
        // Nothing will run any more: let go of every handler, timer and end-of-iteration work. Callbacks capture
        // their owners strongly (a weak reference would give the owner a side table, and every retain and release
        // of it the slow path — 7 % of a node's CPU under load), so this is what frees an owner that was still
        // registered or had a timer pending when its loop stopped.
        handlers = [:]
        timers = TimerHeap()
        endOfIteration = []
        cheapServing = []
        newServing = []
        heavyServing = []
        inboxCarry = []
        let waiting = finished.withLock { waiting -> [CheckedContinuation<Void, Never>] in
            defer { waiting = nil }
            return waiting ?? []
        }
        for continuation in waiting { continuation.resume() }
    }

    /// The work queued with `afterIteration` (flushes), including work that work queues.
    private func runEndOfIteration() {
        while !endOfIteration.isEmpty {
            let work = endOfIteration
            endOfIteration = []
            for item in work {
                switch item {
                case .closure(let closure): closure()
                case .task(let task): task.iterationEnded()
                }
            }
        }
    }

    private func nextTimeout() -> Int32 {
        if hasPutOffServing || !inboxCarry.isEmpty { return 0 }
        guard let earliest = timers.earliestDeadline() else { return 1_000 }
        return Int32(clamping: max(0, earliest - Self.monotonicMillis()))
    }

    /// Runs the timers due now, earliest first, one at a time (a timer cancelled by an earlier one does not
    /// run). A timer scheduled by one of them waits for the next turn, so a timer that re-arms itself with 0 ms
    /// cannot starve the sockets. Past `timerBudgetMicros` the rest wait for the next turn too (they stay due, so
    /// that turn's wait for events does not block): maintenance steps that fall due together (a sweep step, a
    /// key-walk step, a transfer chunk) run in turns of their own instead of one turn that holds every request
    /// arriving meanwhile.
    private func runDueTimers() {
        let start = Self.monotonicMicros()
        let now = start / 1_000
        let idLimit = timers.nextScheduledID
        while let work = timers.popDue(now: now, idLimit: idLimit) {
            work()
            if Self.monotonicMicros() - start >= Self.timerBudgetMicros { break }
        }
    }

    /// How long one turn runs due timers back to back before it looks at the sockets again (µs).
    static let timerBudgetMicros: Int64 = 400

    /// How long one drain of the inbox takes further batches at most (µs). Work handed over while the loop drains
    /// is taken in the same drain, so two loops handing each other a pipeline (a command to the key's loop, its
    /// answer back, the next command...) could hold both for the whole pipeline: 200 reads of a big hash held a
    /// turn 1.4 s. Past the budget the rest waits for the next turn; the eventfd was written for it when it was
    /// queued, so that turn's wait for events returns at once, after the sockets, timers and flushes had their go.
    static let inboxBudgetMicros: Int64 = 1_000

    private func drainInbox(bounded: Bool = true) {
        let start = bounded ? Self.monotonicMicros() : 0
        func overBudget() -> Bool { bounded && Self.monotonicMicros() - start >= Self.inboxBudgetMicros }
        // What an earlier drain took but left when its budget ran out goes first.
        if !inboxCarry.isEmpty {
            let carried = inboxCarry
            inboxCarry = []
            var index = 0
            while index < carried.count {
                carried[index]()
                index += 1
                if index < carried.count && overBudget() {
                    inboxCarry = Array(carried[index...]) + inboxCarry
                    return
                }
            }
            if overBudget() { return }
        }
        while true {
            // The batch is swapped with the spare array: neither is copied, and both keep their capacity.
            var batch = spareWork
            spareWork = []
            inbox.withLock { inbox in
                swap(&inbox.work, &batch)
                inbox.wakePending = false
            }
            if batch.isEmpty {
                spareWork = batch
                return
            }
            // The budget is looked at after each item, not each batch: the answers of fifty 30 MB reads another
            // loop handed back at once came in one batch and held a turn 1.7 s (fresh-eyes finding, helper-45).
            var index = 0
            while index < batch.count {
                batch[index]()
                index += 1
                if index < batch.count && overBudget() {
                    inboxCarry = Array(batch[index...])
                    break
                }
            }
            batch.removeAll(keepingCapacity: true)
            spareWork = batch
            if overBudget() { return }
        }
    }

    /// Inbox work taken by a drain that ran out of budget before running it; the next drain runs it first.
    private var inboxCarry: [@Sendable () -> Void] = []
}

/// An object with work to do at the end of a loop iteration, queued with `EventLoop.afterIteration(_:)`.
package protocol IterationEndTask: AnyObject {
    /// Runs on the loop at the end of the iteration it was queued in.
    func iterationEnded()
}

/// A piece of end-of-iteration work: a closure, or an object that does it.
private enum IterationWork {
    case closure(() -> Void)
    case task(any IterationEndTask)
}

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

    /// No turns measured.
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

    /// Adds the turns of `other` (another loop of the same node).
    public mutating func add(_ other: LoopTurnStats) {
        for index in buckets.indices { buckets[index] += other.buckets[index] }
        count += other.count
        sumMicros &+= other.sumMicros
        maxMicros = max(maxMicros, other.maxMicros)
    }
}

/// DIAGNOSTICS ONLY: with `SESSIONCLUSTER_SLOW_TURN_MICROS=N` in the environment, every loop turn longer than N µs
/// is written to standard error with its events and the longest pieces of work it ran, each named by the call
/// site that handed it to the loop (a timer, `execute`, `afterIteration`) or by its descriptor. Off (nil) by
/// default: it costs two clock reads per piece of work.
struct SlowTurnTrace {
    static let threshold: Int? = getenv("SESSIONCLUSTER_SLOW_TURN_MICROS").flatMap { Int(String(cString: $0)) }

    let threshold: Int
    private var items: [(label: String, micros: Int)] = []

    init(threshold: Int) { self.threshold = threshold }

    mutating func begin() {
        items.removeAll(keepingCapacity: true)
    }

    mutating func item(_ label: @autoclosure () -> String, since start: Int64) {
        let micros = Int(EventLoop.monotonicMicros() - start)
        if micros >= 100 { items.append((label(), micros)) }
    }

    func end(micros: Int, loop: String, events: Int) {
        guard micros >= threshold else { return }
        let top = items.sorted { $0.micros > $1.micros }.prefix(6).map { "\($0.label) \($0.micros)" }
        let line = "slow turn \(loop): \(micros) us, \(events) events; longest: \(top.joined(separator: ", "))\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
