import Synchronization

/// A subscription to a node's events (`ClusterNode.events`): an `AsyncSequence` of `ClusterEvent`s, from the moment
/// it was taken until the node stops (then the sequence ends).
///
/// Any number of subscriptions may be open at once; each gets every event, in order, from its own buffer, so a
/// slow consumer delays nobody — not the node, not the other consumers.
///
/// **Overflow policy:** a subscription buffers at most `capacity` events (10,000 unless `buffering(_:)` says
/// otherwise). When its consumer falls further behind, the oldest buffered events are dropped, and the consumer
/// next receives `.missed(count)` — how many it lost — before the events that were kept. Nothing is dropped
/// silently.
///
/// A subscription is one consumer: iterate it once (two iterators of one subscription would share its events).
/// Dropping every copy of it and its iterator ends it.
public struct ClusterEvents: AsyncSequence, Sendable {
    /// Each element is one event.
    public typealias Element = ClusterEvent
    /// The sequence never throws.
    public typealias Failure = Never

    private let handle: SubscriptionHandle

    init(hub: EventHub, capacity: Int) {
        handle = SubscriptionHandle(hub: hub, capacity: capacity)
    }

    /// A new subscription (from now on) that buffers up to `capacity` events (at least 1) for its consumer.
    public func buffering(_ capacity: Int) -> ClusterEvents {
        ClusterEvents(hub: handle.hub, capacity: Swift.max(1, capacity))
    }

    /// The subscription's one consumer.
    public func makeAsyncIterator() -> Iterator { Iterator(handle: handle) }

    /// Waits for the subscription's next event; nil once the node has stopped and every buffered event was taken,
    /// or when the waiting task is cancelled.
    public struct Iterator: AsyncIteratorProtocol {
        fileprivate let handle: SubscriptionHandle

        /// Waits for the next event (see `next(isolation:)`).
        public mutating func next() async -> ClusterEvent? { await handle.subscription.next() }

        public mutating func next(isolation actor: isolated (any Actor)?) async -> ClusterEvent? {
            await handle.subscription.next()
        }
    }
}

/// Keeps a subscription registered while any `ClusterEvents` value or iterator refers to it.
private final class SubscriptionHandle: Sendable {
    let hub: EventHub
    let subscription: EventSubscription

    init(hub: EventHub, capacity: Int) {
        self.hub = hub
        subscription = hub.subscribe(capacity: capacity)
    }

    deinit { hub.unsubscribe(subscription) }
}

/// One consumer's buffer: filled on the node's loop, drained by the consumer's task.
final class EventSubscription: Sendable {
    private struct State {
        var buffer: [ClusterEvent] = []
        var head = 0
        var missed = 0
        var finished = false
        var waiter: CheckedContinuation<ClusterEvent?, Never>?
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) { self.capacity = capacity }

    /// Buffers `event` (dropping the oldest past `capacity`) or hands it to a waiting consumer.
    func deliver(_ event: ClusterEvent) {
        let waiter = state.withLock { state -> CheckedContinuation<ClusterEvent?, Never>? in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.buffer.append(event)
            if state.buffer.count - state.head > capacity {
                state.head += 1
                state.missed += 1
            }
            if state.head >= 1_024 && state.head * 2 >= state.buffer.count {
                state.buffer.removeFirst(state.head)
                state.head = 0
            }
            return nil
        }
        waiter?.resume(returning: event)
    }

    /// Ends the subscription: buffered events are still taken, then `next()` answers nil.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<ClusterEvent?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    func next() async -> ClusterEvent? {
        if let ready = state.withLock({ Self.take(&$0) }) { return ready }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ClusterEvent?, Never>) in
                let now = state.withLock { state -> ClusterEvent?? in
                    if let ready = Self.take(&state) { return .some(ready) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if case .some(let answer) = now { continuation.resume(returning: answer) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<ClusterEvent?, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// The next event to hand out, `.missed` first when some were dropped; nil when none is buffered.
    private static func take(_ state: inout State) -> ClusterEvent? {
        if state.missed > 0 {
            defer { state.missed = 0 }
            return .missed(state.missed)
        }
        guard state.head < state.buffer.count else { return nil }
        defer { state.head += 1 }
        return state.buffer[state.head]
    }
}

/// Fans a node's events out to its subscriptions. `yield` never blocks (the node's loop calls it).
final class EventHub: Sendable {
    private struct State {
        var subscriptions: [ObjectIdentifier: EventSubscription] = [:]
        var finished = false
    }

    private let state = Mutex(State())

    func subscribe(capacity: Int) -> EventSubscription {
        let subscription = EventSubscription(capacity: capacity)
        let open = state.withLock { state -> Bool in
            guard !state.finished else { return false }
            state.subscriptions[ObjectIdentifier(subscription)] = subscription
            return true
        }
        if !open { subscription.finish() }
        return subscription
    }

    func unsubscribe(_ subscription: EventSubscription) {
        _ = state.withLock { $0.subscriptions.removeValue(forKey: ObjectIdentifier(subscription)) }
        subscription.finish()
    }

    /// Serialises `yield`: a node's loops yield from their own threads, and every subscription must see the
    /// events in one order.
    private let delivery = Mutex(())

    /// Delivers `event` to every open subscription.
    func yield(_ event: ClusterEvent) {
        delivery.withLock { _ in
            let receivers = state.withLock { Array($0.subscriptions.values) }
            for receiver in receivers { receiver.deliver(event) }
        }
    }

    /// Ends every subscription (the node stopped); later subscriptions end at once.
    func finish() {
        let receivers = state.withLock { state -> [EventSubscription] in
            state.finished = true
            defer { state.subscriptions = [:] }
            return Array(state.subscriptions.values)
        }
        for receiver in receivers { receiver.finish() }
    }
}
