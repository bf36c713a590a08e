import SessionClusterCore
import Synchronization

/// Carries a value that is only ever touched on one event loop's thread across concurrency domains.
/// The holder MUST use `value` only inside `EventLoop.execute` (or handlers) of that loop.
// @unchecked: every use goes through the owning loop, so the value is confined to the loop thread.
public struct LoopConfined<Value>: @unchecked Sendable {
    public let value: Value
    public init(value: Value) { self.value = value }
}

/// One cluster node, embeddable in a Swift server: sessions held in memory, replicated to peers found by
/// multicast / unicast membership, with read-your-writes across nodes through version tokens.
///
/// All protocol state lives on the node's own event-loop thread; these methods hop there and back, so they
/// may be called from any task. Hand the `version` of every answer back to the client (e.g. in a cookie) and
/// pass it in on its next request: a node whose copy is older then pulls the session or fails with
/// `.unavailable` instead of serving stale state.
///
/// ```swift
/// var settings = ClusterNodeSettings(cluster: "shop", name: "n1")
/// settings.multicast = MulticastSettings(group: "239.255.77.1", port: 47001, interface: "127.0.0.1")
/// let node = try await ClusterNode.start(settings)
/// let login = try await node.create { $0.set("user", "alice") }
/// let cart = try await node.update(login.id, token: login.version) { session, changes in
///     changes.set("cart", "3 items")
/// }
/// await node.shutdown()
/// ```
public final class ClusterNode: Sendable {
    /// This node as members see it (its `id` is fresh for each start).
    public let me: MemberInfo
    /// Membership and replication events, for logs and dashboards. Single consumer.
    public let events: AsyncStream<ClusterEvent>
    private let loop: EventLoop
    private let runtime: LoopConfined<NodeRuntime>
    /// Whether the node takes calls: false from the first `shutdown()` on, so later calls fail at once.
    private let accepting = Atomic<Bool>(true)
    /// `nil` while running; the waiters of a stop in progress; `[]` forever once stopped.
    private let stopWaiters = Mutex<[CheckedContinuation<Void, Never>]?>(nil)
    private let stopped = Atomic<Bool>(false)
    /// The figures at the moment the node stopped, so `stats()` still answers afterwards.
    private let finalStats = Mutex<NodeStats?>(nil)

    private init(loop: EventLoop, runtime: NodeRuntime, events: AsyncStream<ClusterEvent>) {
        self.loop = loop
        self.runtime = LoopConfined(value: runtime)
        self.events = events
        self.me = runtime.node.me
    }

    /// Binds the sockets and starts the node. Throws when a socket cannot be opened (port in use, bad
    /// address) or the settings are invalid.
    public static func start(_ settings: ClusterNodeSettings) async throws -> ClusterNode {
        try settings.membership.validate()
        try settings.replication.validate()
        try settings.validateLimits()
        let keyring = try settings.keyring ?? Keyring(secret: settings.secret)
        let (events, continuation) = AsyncStream<ClusterEvent>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let loop = try EventLoop(name: "node-\(settings.name)")
        let runtime = try NodeRuntime(settings: settings, keyring: keyring, loop: loop, events: continuation)
        let node = ClusterNode(loop: loop, runtime: runtime, events: events)
        loop.start()
        let confined = node.runtime
        loop.execute { confined.value.begin() }
        return node
    }

    /// Runs `body` on the loop with the runtime and a completion to call exactly once. Answers `rejected` at once,
    /// without running `body`, once the node is shutting down or stopped (the loop would never run it).
    private func onLoop<R: Sendable>(
        rejected: R, _ body: @escaping @Sendable (NodeRuntime, @escaping (R) -> Void) -> Void
    ) async -> R {
        guard accepting.load(ordering: .acquiring) else { return rejected }
        let confined = runtime
        return await withCheckedContinuation { continuation in
            let queued = loop.execute { body(confined.value) { continuation.resume(returning: $0) } }
            if !queued { continuation.resume(returning: rejected) }
        }
    }

    /// Runs `body` with the runtime at once when called on the loop thread, else soon on the loop; calls
    /// `rejected` instead once the node is shutting down or stopped.
    private func onLoopNow(_ body: @escaping (NodeRuntime) -> Void, rejected: @escaping () -> Void) {
        guard accepting.load(ordering: .acquiring) else { return rejected() }
        if loop.inLoop { return body(runtime.value) }
        let confined = runtime
        let work = LoopConfined(value: body)
        if !loop.execute({ work.value(confined.value) }) { rejected() }
    }

    // MARK: Sessions

    /// Creates a session with a fresh random id (127 bits from the system CSPRNG, `SessionID.random()`), holding
    /// `changes`.
    public func create(_ changes: @Sendable (inout SessionChanges) -> Void) async throws(SessionError)
        -> SessionUpdate<Void>
    {
        var recorded = SessionChanges()
        changes(&recorded)
        let initial = recorded
        let id = Self.freshID()
        let outcome: Result<VersionToken, SessionError> = await onLoop(rejected: .failure(.shuttingDown)) {
            runtime, done in
            runtime.create(id, changes: initial, done)
        }
        return SessionUpdate(id: id, version: try outcome.get(), value: ())
    }

    /// Reads a session, honouring the client's version token.
    public func read(_ id: SessionID, token: VersionToken?) async throws(SessionError) -> SessionSnapshot {
        let outcome: Result<SessionSnapshot, SessionError> = await onLoop(rejected: .failure(.shuttingDown)) {
            runtime, done in
            runtime.read(id, token: token, done)
        }
        return try outcome.get()
    }

    /// Runs one request against a session: `body` reads the snapshot and records changes, which are
    /// committed as one delta. Returns the new version token (and in `sync` mode waits for acknowledgement).
    /// `body` runs on the node's loop thread: keep it short (no I/O).
    public func update<Value: Sendable>(
        _ id: SessionID, token: VersionToken?,
        _ body: @escaping @Sendable (SessionSnapshot, inout SessionChanges) throws -> Value
    ) async throws -> SessionUpdate<Value> {
        let outcome: Result<SessionUpdate<Value>, any Error> = await onLoop(
            rejected: .failure(SessionError.shuttingDown)
        ) { runtime, done in runtime.update(id, token: token, body, done) }
        return try outcome.get()
    }

    /// Ends a session everywhere (logout).
    public func invalidate(_ id: SessionID, token: VersionToken?) async throws(SessionError) {
        let outcome: Result<Void, SessionError> = await onLoop(rejected: .failure(.shuttingDown)) {
            runtime, done in
            runtime.invalidate(id, token: token, done)
        }
        try outcome.get()
    }

    /// Moves the session to a fresh id (session-fixation protection at login); the old id is dead everywhere.
    public func changeID(_ id: SessionID, token: VersionToken?) async throws(SessionError) -> SessionUpdate<Void> {
        let newID = Self.freshID()
        let outcome: Result<VersionToken, SessionError> = await onLoop(rejected: .failure(.shuttingDown)) {
            runtime, done in
            runtime.changeID(id, to: newID, token: token, done)
        }
        return SessionUpdate(id: newID, version: try outcome.get(), value: ())
    }

    private static func freshID() -> SessionID { SessionID.random() }

    // MARK: Sessions on the loop thread

    /// The node's event loop. A server that runs its own sockets on it (as the `session-node` HTTP front end
    /// does) can use the callback methods below: called on this loop, a request for a session held here
    /// completes before the call returns — no thread hop, no task. Anything slow run on the loop delays
    /// the node's protocol work.
    public var eventLoop: EventLoop { loop }

    /// Reads a session; `done` runs on the node's loop (at once when called there and the copy is here).
    public func read(
        _ id: SessionID, token: VersionToken?, then done: @escaping (Result<SessionSnapshot, SessionError>) -> Void
    ) {
        onLoopNow({ $0.read(id, token: token, done) }, rejected: { done(.failure(.shuttingDown)) })
    }

    /// `update` for callers on the loop: `body` and `done` run on the node's loop.
    public func update<Value>(
        _ id: SessionID, token: VersionToken?,
        _ body: @escaping (SessionSnapshot, inout SessionChanges) throws -> Value,
        then done: @escaping (Result<SessionUpdate<Value>, any Error>) -> Void
    ) {
        onLoopNow({ $0.update(id, token: token, body, done) }, rejected: { done(.failure(SessionError.shuttingDown)) })
    }

    /// `create` for callers on the loop: `done` runs on the node's loop.
    public func create(
        _ changes: SessionChanges, then done: @escaping (Result<SessionUpdate<Void>, SessionError>) -> Void
    ) {
        let id = Self.freshID()
        onLoopNow(
            { $0.create(id, changes: changes) { done($0.map { SessionUpdate(id: id, version: $0, value: ()) }) } },
            rejected: { done(.failure(.shuttingDown)) })
    }

    /// Creates the session `id`, chosen by the caller, holding `changes`; `done` runs on the node's loop. For
    /// sessions named by something other than a random id — a Redis key (`SessionID(forKey:)`), which every node
    /// maps to the same id. An id already held here is refused with `.notFound` (update it instead). Two nodes
    /// creating the same id at once both succeed: their copies merge like any concurrent writes.
    public func create(
        _ id: SessionID, _ changes: SessionChanges,
        then done: @escaping (Result<SessionUpdate<Void>, SessionError>) -> Void
    ) {
        onLoopNow(
            { runtime in
                runtime.create(id, changes: changes, named: true) {
                    done($0.map { SessionUpdate(id: id, version: $0, value: ()) })
                }
            }, rejected: { done(.failure(.shuttingDown)) })
    }

    /// Redis's `WAIT`: counts the other holders of session `id` that hold this node's writes up to `version` (the
    /// token this node answered a write with). `done` runs on the node's loop with the count once `replicas`
    /// confirmed, every holder asked answered or left, or `timeoutMillis` passed — at once when `replicas` ≤ 0
    /// (with 0) or when no other holder is live. A token that does not authenticate counts nobody. In `sync` mode a
    /// write was confirmed before it was answered, so this answers within a round trip.
    public func confirm(
        _ id: SessionID, version: VersionToken, replicas: Int, timeoutMillis: Int64,
        then done: @escaping (_ holders: Int) -> Void
    ) {
        onLoopNow(
            { $0.confirm(id, version: version, replicas: replicas, timeoutMillis: timeoutMillis, done) },
            rejected: { done(0) })
    }

    /// The valid sessions held here after `cursor` in id order, looking at `limit` held ids at most (so a walk
    /// over a million sessions takes bounded steps); `done` gets them with the cursor to continue from, nil once
    /// every held id was looked at. On the node's loop. Backup mode: only the sessions this node holds a copy of.
    /// With `having`, only sessions holding that attribute are listed (the others cost a lookup, not a copy of
    /// their attributes).
    public func heldSessions(
        after cursor: SessionID?, limit: Int, having attribute: String? = nil,
        then done: @escaping (_ sessions: [HeldSession], _ next: SessionID?) -> Void
    ) {
        onLoopNow(
            { runtime in
                let replication = runtime.node.replication
                let ids = replication.sessionIDs(after: cursor, limit: max(1, limit))
                var found = [HeldSession]()
                for id in ids {
                    guard let session = replication.session(id), session.isValid else { continue }
                    if let attribute, session.content.attributes[attribute]?.value == nil { continue }
                    found.append(
                        HeldSession(
                            id: id, attributes: session.content.liveAttributes,
                            expiresFirst: replication.expiresFirst(id)))
                }
                done(found, ids.count < max(1, limit) ? nil : ids.last)
            }, rejected: { done([], nil) })
    }

    /// `invalidate` for callers on the loop: `done` runs on the node's loop.
    public func invalidate(
        _ id: SessionID, token: VersionToken?, then done: @escaping (Result<Void, SessionError>) -> Void
    ) {
        onLoopNow({ $0.invalidate(id, token: token, done) }, rejected: { done(.failure(.shuttingDown)) })
    }

    /// `changeID` for callers on the loop: `done` runs on the node's loop.
    public func changeID(
        _ id: SessionID, token: VersionToken?,
        then done: @escaping (Result<SessionUpdate<Void>, SessionError>) -> Void
    ) {
        let newID = Self.freshID()
        onLoopNow(
            { runtime in
                runtime.changeID(id, to: newID, token: token) {
                    done($0.map { SessionUpdate(id: newID, version: $0, value: ()) })
                }
            }, rejected: { done(.failure(.shuttingDown)) })
    }

    /// The members this node knows, for callers on the loop (called elsewhere it hops and answers on the loop).
    /// Empty once the node has stopped.
    public func members(then done: @escaping ([Member]) -> Void) {
        onLoopNow({ done($0.node.membership.members) }, rejected: { done([]) })
    }

    /// `stats()` for callers on the loop.
    public func stats(then done: @escaping (NodeStats) -> Void) {
        onLoopNow({ done($0.currentStats) }, rejected: { [self] in done(finalStats.withLock { $0 } ?? .empty) })
    }

    // MARK: Cluster

    /// The members this node knows (itself excluded), with their states.
    public func members() async -> [Member] {
        await onLoop(rejected: []) { runtime, done in done(runtime.node.membership.members) }
    }

    /// The keyring in use: install a new key everywhere, then `use` it everywhere, then remove the old one —
    /// key rotation without downtime. Throws when the change is not possible (unknown key, short secret…).
    public func updateKeyring(_ change: @escaping @Sendable (inout Keyring) throws -> Void) async throws {
        let result: Result<Void, any Error> = await onLoop(rejected: .failure(SessionError.shuttingDown)) {
            runtime, done in
            var keyring = runtime.cipher.keyring
            do {
                try change(&keyring)
                runtime.install(keyring)
                done(.success(()))
            } catch {
                done(.failure(error))
            }
        }
        try result.get()
    }

    /// The key ids installed and the one sealing (none once the node has stopped).
    public func keyIDs() async -> (installed: [UInt8], current: UInt8) {
        await onLoop(rejected: ([], 0)) { runtime, done in
            done((runtime.cipher.keyring.ids, runtime.cipher.keyring.current))
        }
    }

    /// Session counts and replication / transport counters (the last figures once the node has stopped).
    public func stats() async -> NodeStats {
        if accepting.load(ordering: .acquiring) {
            let confined = runtime
            let live: NodeStats? = await withCheckedContinuation { continuation in
                let queued = loop.execute { continuation.resume(returning: confined.value.currentStats) }
                if !queued { continuation.resume(returning: nil) }
            }
            if let live { return live }
        }
        // Stopping or stopped: the final figures are recorded on the loop before it ends.
        await awaitStopped()
        return finalStats.withLock { $0 } ?? NodeStats.empty
    }

    /// Stops abruptly, as `kill -9` would: sockets close without a leaving beacon (tests of failure detection).
    public func crashForTesting() async {
        await stop(gracefully: false)
    }

    /// Graceful stop: announces leaving (peers drop this node at once and re-place its sessions), lets queued
    /// replication drain (bounded, one second), then closes everything and stops the loop.
    ///
    /// Idempotent: a second call waits for the first to finish, a call after the stop returns at once. From the
    /// first call on, every other method fails at once with `.shuttingDown` (or answers empty).
    public func shutdown() async {
        await stop(gracefully: true)
    }

    private func stop(gracefully: Bool) async {
        let first = stopWaiters.withLock { waiters -> Bool in
            guard waiters == nil, !stopped.load(ordering: .acquiring) else { return false }
            waiters = []
            return true
        }
        guard first else { return await awaitStopped() }
        accepting.store(false, ordering: .releasing)
        let confined = runtime
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let queued = loop.execute {
                let runtime = confined.value
                let finish: (()) -> Void = { [self] _ in
                    finalStats.withLock { $0 = runtime.currentStats }
                    continuation.resume()
                }
                if gracefully {
                    runtime.leave(then: finish)
                } else {
                    runtime.close()
                    finish(())
                }
            }
            if !queued { continuation.resume() }
        }
        await loop.stop()
        // The loop has ended, so the runtime is no longer touched there; its last log records reach the handler
        // before `shutdown` returns (at most a second: a stuck handler keeps its thread, not the caller).
        await confined.value.logger.finish()
        let waiting = stopWaiters.withLock { waiters -> [CheckedContinuation<Void, Never>] in
            stopped.store(true, ordering: .releasing)
            defer { waiters = [] }
            return waiters ?? []
        }
        for waiter in waiting { waiter.resume() }
    }

    /// Returns once a stop in progress has finished (at once when none is).
    private func awaitStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiting = stopWaiters.withLock { waiters -> Bool in
                guard !stopped.load(ordering: .acquiring), waiters != nil else { return false }
                waiters!.append(continuation)
                return true
            }
            if !waiting { continuation.resume() }
        }
    }
}

extension NodeRuntime {
    /// Whether `attributes` with `changes` applied stay within the session limits.
    func fits(_ changes: SessionChanges, on attributes: [String: [UInt8]]) -> Bool {
        var count = attributes.count
        var bytes = attributes.reduce(0) { $0 + $1.key.utf8.count + $1.value.count }
        // The changes' last word per attribute counts; the request's copy of the session is not rebuilt.
        // (A few changes, the common case, are checked against each other without hashing.)
        var decided = Set<String>()
        var few = [String]()
        let hashing = changes.changes.count > 8
        func isFirst(_ name: String) -> Bool {
            if hashing { return decided.insert(name).inserted }
            if few.contains(name) { return false }
            few.append(name)
            return true
        }
        for change in changes.changes.reversed() {
            let name: String
            let value: [UInt8]?
            switch change {
            case .set(let changed, let bytes):
                name = changed
                value = bytes
            case .remove(let changed):
                name = changed
                value = nil
            case .setMaxInactive, .invalidate: continue
            }
            guard isFirst(name) else { continue }
            if let old = attributes[name] {
                count -= 1
                bytes -= name.utf8.count + old.count
            }
            if let value {
                count += 1
                bytes += name.utf8.count + value.count
            }
        }
        return count <= settings.maxAttributesPerSession && bytes <= settings.maxSessionBytes
    }

    /// Completes a commit of session `id` with its new token: at once, or when a `sync` commit is acknowledged.
    /// The waiter is registered before the directives run: they may complete the commit (and a completion with
    /// no waiter would be lost, leaving the request unanswered).
    func finish(_ result: NodeCommit, id: SessionID, _ done: @escaping (Result<VersionToken, SessionError>) -> Void) {
        guard result.outcome == .committed else {
            execute(result.directives)
            return done(.failure(.notFound))
        }
        let token = tokens.sealLater(result.version, for: id)
        guard let commitID = result.awaiting else {
            execute(result.directives)
            return done(.success(token))
        }
        commitWaiters[commitID] = { acknowledged in
            done(acknowledged ? .success(token) : .failure(.notAcknowledged))
        }
        execute(result.directives)
    }

    /// Installs a new keyring (key rotation) for cluster traffic and version tokens.
    func install(_ keyring: Keyring) {
        cipher.install(keyring)
        tokens.install(keyring)
    }

    /// Sends the leaving beacon, waits (at most a second) for queued frames to leave, then closes.
    func leave(then done: @escaping (()) -> Void) {
        execute(node.leave(now: NodeRuntime.now()))
        let deadline = EventLoop.monotonicMillis() + 1_000
        func waitForDrain() {
            let pending = outbound.values.contains { !$0.isClosed && $0.queuedBytes > 0 }
            if pending && EventLoop.monotonicMillis() < deadline {
                loop.schedule(afterMillis: 10) { waitForDrain() }
                return
            }
            close()
            done(())
        }
        waitForDrain()
    }

    /// Closes every socket once; pending requests fail with `.shuttingDown`.
    func close() {
        stopping = true
        if let tickTimer { loop.cancel(tickTimer) }
        for link in Array(outbound.values) + Array(inbound.values) { link.close() }
        outbound = [:]
        inbound = [:]
        loop.deregister(listener.fd)
        loop.deregister(datagrams.fd)
        if let receiver = multicastReceiver { loop.deregister(receiver.fd) }
        listener.close()
        datagrams.close()
        multicastReceiver?.close()
        for waiter in accessWaiters.values { waiter(.failure(.shuttingDown)) }
        for waiter in commitWaiters.values { waiter(false) }
        for waiter in confirmWaiters.values { waiter(0) }
        accessWaiters = [:]
        commitWaiters = [:]
        confirmWaiters = [:]
        events.finish()
    }
}
