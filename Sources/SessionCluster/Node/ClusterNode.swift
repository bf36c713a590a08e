import SessionClusterCore
import Synchronization

/// Carries a value that is only ever touched on one event loop's thread across concurrency domains.
/// The holder MUST use `value` only inside `EventLoop.execute` (or handlers) of that loop.
// @unchecked: every use goes through the owning loop, so the value is confined to the loop thread.
package struct LoopConfined<Value>: @unchecked Sendable {
    package let value: Value
    package init(value: Value) { self.value = value }
}

/// One cluster node, embeddable in a Swift server: sessions held in memory, replicated to peers found by
/// multicast / unicast membership, with read-your-writes across nodes through version tokens.
///
/// All protocol state lives on the node's own event-loop thread; these methods hop there and back, so they
/// may be called from any task. Hand the `version` of every answer back to the client (e.g. in a cookie:
/// `SessionCookies`) and pass it in on its next request: a node whose copy is older then pulls the session or
/// fails with `.unavailable` instead of serving stale state. Every session method throws only `SessionError`.
///
/// Lifetime: `start` binds the sockets and starts the node; `run()` keeps it until its task is cancelled (the
/// shape of swift-service-lifecycle's `Service`); `shutdown()` leaves gracefully. After the first `shutdown()`
/// every call fails at once with `.shuttingDown`.
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
    /// The node's loops and their runtimes, one per shard of the sessions (`ClusterNodeSettings.loops`).
    let shards: ShardSet
    /// Shard 0's loop and runtime: membership, the node's sockets, and what is not a session's.
    var loop: EventLoop { shards.loops[0] }
    var runtime: LoopConfined<NodeRuntime> { shards.runtimes[0] }
    private let hub: EventHub
    /// Whether the node takes calls: false from the first `shutdown()` on, so later calls fail at once.
    let accepting = Atomic<Bool>(true)
    private let lifecycle = Mutex(Lifecycle())
    /// Why this node should be sent no clients now, or nil when nothing says so (any thread, O(1)).
    ///
    /// Today one reason: another process with this node's name, started after this one, is running. The cluster
    /// takes that one for the node and ignores this one (`NodeID` orders by start time), so sessions written here
    /// would reach no peer. It holds until that process's datagrams have stopped for `deadAfterMillis` plus two
    /// heartbeats: the members have then found it dead and take this node back. `session-node`'s `/healthz`
    /// answers 503 with it, so a load balancer's health check stops sending clients here.
    public var notServingReason: String? {
        let heard = shards.laterSameNameHeardAt.load(ordering: .relaxed)
        guard heard != .min, EventLoop.monotonicMillis() - heard < shards.displacedForMillis else { return nil }
        return "another process named \(me.name) started after this one; the cluster takes it for this node and "
            + "ignores this one: stop one of them, or give each node its own name"
    }

    /// The figures at the moment the node stopped, so `stats()` still answers afterwards.
    private let finalStats = Mutex<NodeStats?>(nil)

    private struct Lifecycle {
        var phase = Phase.running
        /// Tasks waiting for the node to have stopped (`run()`, a second `shutdown()`, `stats()` while stopping).
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private enum Phase { case running, stopping, stopped }

    private init(shards: ShardSet, hub: EventHub, me: MemberInfo) {
        self.shards = shards
        self.hub = hub
        self.me = me
    }

    /// Dropped without `shutdown()` (a caller that forgot, a test that failed half-way): the loops would go on
    /// running timers and handlers that reach runtimes no longer there. The runtimes are closed abruptly on their
    /// loops (no leaving beacon, no snapshot — as a crash) and the loops stopped.
    deinit {
        guard lifecycle.withLock({ $0.phase == .running }) else { return }
        for (loop, confined) in zip(shards.loops, shards.runtimes) {
            if loop.execute({ confined.value.close() }) { loop.requestStop() }
        }
    }

    /// Binds the sockets and starts the node. Throws `.invalidSettings` (naming the setting and its value; also for
    /// a `persistence` directory that cannot be created or written in) or
    /// `.system` when a socket cannot be opened (port in use, bad address). With `persistence`, the sessions of the
    /// node's snapshot file are restored before it announces itself (a damaged file: what checks, the rest logged).
    public static func start(_ settings: ClusterNodeSettings) async throws(StartError) -> ClusterNode {
        do throws(SettingsError) {
            try settings.membership.validate()
            try settings.replication.validate()
        } catch {
            throw .invalidSettings(ConfigurationError(keyPath: error.field, value: error.value, problem: error.problem))
        }
        do throws(ConfigurationError) {
            try settings.validateLimits()
        } catch {
            throw .invalidSettings(error)
        }
        let keyring: Keyring
        do throws(KeyringError) {
            if let given = settings.keyring {
                keyring = given
            } else {
                keyring = try Keyring(secret: settings.secret)
            }
        } catch {
            throw .invalidSettings(ConfigurationError(keyPath: "secret", value: nil, problem: error.description))
        }
        let persistence = try loadShards(settings, keyring: keyring)
        let hub = EventHub()
        let count = settings.loops
        var loops = [EventLoop]()
        do throws(SystemError) {
            for index in 0..<count {
                loops.append(
                    try EventLoop(name: count == 1 ? "node-\(settings.name)" : "node-\(settings.name)-\(index)"))
            }
            let lead = try NodeRuntime(
                settings: settings, keyring: keyring, loop: loops[0], events: hub, persistence: persistence[0],
                shard: 0, of: count)
            var runtimes = [lead]
            for index in 1..<count {
                runtimes.append(
                    try NodeRuntime(
                        settings: settings, keyring: keyring, loop: loops[index], events: hub,
                        persistence: persistence[index], shard: index, of: count, lead: lead))
            }
            let shards = ShardSet(runtimes)
            for runtime in runtimes { runtime.shards = shards }
            let node = ClusterNode(shards: shards, hub: hub, me: lead.node.me)
            for loop in loops { loop.start() }
            // The other shards begin first: shard 0's first membership change must find them running.
            for index in (0..<count).reversed() { shards.run(on: index) { $0.begin() } }
            return node
        } catch {
            throw .system(error)
        }
    }

    /// Prepares the node's persistence directory and reads each shard's snapshot and log (`ShardLayout`: a
    /// directory written with another number of loops is rewritten first). One state per shard; none without
    /// persistence.
    private static func loadShards(
        _ settings: ClusterNodeSettings, keyring: Keyring
    ) throws(StartError) -> [PersistenceState?] {
        guard let persistence = settings.persistence else { return Array(repeating: nil, count: settings.loops) }
        let node = persistence.nodeDirectory(settings.name)
        var states = [PersistenceState?]()
        do throws(PersistenceError) {
            // The node directory's lock first: no other process rewrites it meanwhile.
            let store = try SnapshotStore.prepare(node)
            let rewrite = try ShardLayout.prepare(
                node, loops: settings.loops, keyring: keyring, cluster: settings.cluster, name: settings.name)
            var first = try loadSnapshot(settings, keyring: keyring, directory: node, store: store)
            first.rewrite = rewrite
            states.append(first)
            for shard in 1..<settings.loops {
                let directory = ShardLayout.directory(node, shard: shard)
                // The node directory says this shard was written, and its directory is gone: say so at restore
                // (its sessions come back only from the peers that hold them).
                let missing = rewrite == nil && ShardLayout.recordedLoops(node) > shard && !ShardLayout.exists(directory)
                var state = try loadSnapshot(settings, keyring: keyring, directory: directory, store: nil)
                state.missingDirectory = missing
                states.append(state)
            }
        } catch {
            throw .invalidSettings(
                ConfigurationError(
                    keyPath: "persistence.directory", value: "\"\(node)\"", problem: "is unusable: \(error)"))
        }
        return states
    }

    /// Prepares one shard's directory (`store`: already prepared) and reads its snapshot and log, if any. A
    /// damaged file does not fail the start (what checks is restored, the rest logged).
    private static func loadSnapshot(
        _ settings: ClusterNodeSettings, keyring: Keyring, directory: String, store prepared: SnapshotStore?
    ) throws(PersistenceError) -> PersistenceState {
        let persistence = settings.persistence!
        let started = EventLoop.monotonicMillis()
        let store: SnapshotStore
        if let prepared { store = prepared } else { store = try SnapshotStore.prepare(directory) }
        var state = PersistenceState(store: store)
        if let bytes = try store.read() {
            state.loaded = SnapshotFile.decode(bytes, keyring: keyring, cluster: settings.cluster, node: settings.name)
            state.stats.snapshotBytes = bytes.count
        }
        if persistence.mode == .log {
            state.replayed = try replayLog(directory, settings: settings, keyring: keyring)
            state.stats.logSessionsReplayed = state.replayed.sessions.count
            state.stats.logRecordsSkipped = state.replayed.recordsSkipped
            state.stats.logTornTails = state.replayed.tornTails
            state.log = try AppendLog(
                directory: directory, generation: state.replayed.newestGeneration + 1,
                olderBytes: state.replayed.bytes, keyring: keyring, cluster: settings.cluster,
                node: settings.name, writerNice: persistence.fsync == .always ? 0 : AppendLog.backgroundNice)
        }
        state.stats.loadMillis = EventLoop.monotonicMillis() - started
        return state
    }

    /// Reads and decrypts every segment of the append log in `directory`, oldest first.
    private static func replayLog(
        _ directory: String, settings: ClusterNodeSettings, keyring: Keyring
    ) throws(PersistenceError) -> ReplayedLog {
        var replayed = ReplayedLog()
        for generation in AppendLog.segments(in: directory) {
            let path = AppendLog.segmentPath(directory, generation: generation)
            guard let bytes = try SnapshotStore.read(path) else { continue }
            let contents = AppendLogFile.decode(
                bytes, keyring: keyring, cluster: settings.cluster, node: settings.name)
            replayed.sessions += contents.sessions
            replayed.problems += contents.problems.map { "sessions.log.\(generation): \($0)" }
            replayed.recordsSkipped += contents.recordsSkipped
            if contents.recordsSkipped > 0 { replayed.damaged.append(generation) }
            if contents.tornTail { replayed.tornTails += 1 }
            replayed.newestGeneration = max(replayed.newestGeneration, generation)
            replayed.bytes += bytes.count
        }
        return replayed
    }

    /// Runs `body` on the loop of shard `index` (shard 0: what is not a session's) with its runtime and a
    /// completion to call exactly once. Answers `rejected` at once, without running `body`, once the node is
    /// shutting down or stopped (the loop would never run it).
    private func onLoop<R: Sendable>(
        shard index: Int = 0, rejected: R, _ body: @escaping @Sendable (NodeRuntime, @escaping (R) -> Void) -> Void
    ) async -> R {
        guard accepting.load(ordering: .acquiring) else { return rejected }
        return await withCheckedContinuation { continuation in
            let queued = shards.run(on: index) { runtime in body(runtime) { continuation.resume(returning: $0) } }
            if !queued { continuation.resume(returning: rejected) }
        }
    }

    /// `onLoop` for the shard that owns session `id`.
    private func onLoop<R: Sendable>(
        for id: SessionID, rejected: R, _ body: @escaping @Sendable (NodeRuntime, @escaping (R) -> Void) -> Void
    ) async -> R {
        await onLoop(shard: shards.shard(of: id), rejected: rejected, body)
    }

    /// Runs `body` with the runtime of shard `index` at once when called on that shard's loop, else soon on it,
    /// and hands its result to `done`: on the calling loop when the caller runs on another loop of this node (a
    /// front end's connection there), else where `body` completed. Calls `done(rejected())` instead once the node
    /// is shutting down or stopped.
    func onShard<R>(
        _ index: Int, rejected: @escaping () -> R, _ body: @escaping (NodeRuntime, @escaping (R) -> Void) -> Void,
        then done: @escaping (R) -> Void
    ) {
        guard accepting.load(ordering: .acquiring) else { return done(rejected()) }
        let target = shards.loops[index]
        if target.inLoop { return body(shards.runtimes[index].value, done) }
        var reply = done
        if let caller = shards.current {
            let back = shards.loops[caller]
            let confined = LoopConfined(value: done)
            reply = { result in
                let carried = LoopConfined(value: result)
                back.execute { confined.value(carried.value) }
            }
        }
        let work = LoopConfined(value: (body, reply))
        let runtime = shards.runtimes[index]
        if !target.execute({ work.value.0(runtime.value, work.value.1) }) { done(rejected()) }
    }

    /// `onShard` for the shard that owns session `id`.
    func onShard<R>(
        of id: SessionID, rejected: @escaping () -> R, _ body: @escaping (NodeRuntime, @escaping (R) -> Void) -> Void,
        then done: @escaping (R) -> Void
    ) {
        onShard(shards.shard(of: id), rejected: rejected, body, then: done)
    }

    /// Runs `part` on every shard's loop with its runtime and hands the results, in shard order, to `done`: on the
    /// calling loop when the caller runs on a loop of this node, else on the loop that finished last. Shards whose
    /// loop has stopped are left out.
    func onEveryShard<T>(
        _ part: @escaping (NodeRuntime) -> T, then done: @escaping ([T]) -> Void
    ) {
        guard accepting.load(ordering: .acquiring) else { return done([]) }
        if shards.count == 1, shards.loops[0].inLoop { return done([part(shards.runtimes[0].value)]) }
        let gathered = ShardGather<T>(count: shards.count)
        let caller = shards.current.map { shards.loops[$0] }
        let finish = LoopConfined(value: done)
        let work = LoopConfined(value: part)
        let complete: @Sendable () -> Void = {
            let results = gathered.results
            if let caller, !caller.inLoop {
                caller.execute { finish.value(results.value) }
            } else {
                finish.value(results.value)
            }
        }
        for index in 0..<shards.count {
            let queued = shards.run(on: index) { runtime in
                if gathered.put(LoopConfined(value: work.value(runtime)), at: index) { complete() }
            }
            if !queued, gathered.put(nil, at: index) { complete() }
        }
    }

    // MARK: Events

    /// A new subscription to this node's membership and replication events, from now until the node stops (then
    /// the sequence ends). Each access is its own subscription with its own buffer of 10,000 events; any number
    /// may be open at once, each sees every event. A consumer that falls further behind gets `.missed(count)` in
    /// place of the oldest events (`ClusterEvents`); the node never waits for a consumer.
    public var events: ClusterEvents { ClusterEvents(hub: hub, capacity: 10_000) }

    // MARK: Sessions

    /// Creates a session with a fresh random id (127 bits from the system CSPRNG, `SessionID.random()`), holding
    /// `changes`. In `sync` mode it returns once the other holders have it. An error `changes` throws is rethrown
    /// (`SessionError` as is, others as `.aborted`); nothing is created then.
    public func create(
        _ changes: @Sendable (inout SessionChanges) throws -> Void
    ) async throws(SessionError) -> SessionUpdate<Void> {
        var recorded = SessionChanges()
        do { try changes(&recorded) } catch { throw SessionError(thrown: error) }
        return try await create(id: Self.freshID(), recorded, named: false)
    }

    /// Creates the session `id`, chosen by the caller — a name every node maps to the same session
    /// (`SessionID(name:)`), such as a framework session store's key. Throws `.alreadyExists` when that session is
    /// live here (update it instead). Two nodes creating the same id at once both succeed: their copies merge
    /// like any concurrent writes. See also `update(_:token:creatingIfAbsent:_:)`.
    public func create(
        id: SessionID, _ changes: @Sendable (inout SessionChanges) throws -> Void
    ) async throws(SessionError) -> SessionUpdate<Void> {
        var recorded = SessionChanges()
        do { try changes(&recorded) } catch { throw SessionError(thrown: error) }
        return try await create(id: id, recorded, named: true)
    }

    private func create(id: SessionID, _ changes: SessionChanges, named: Bool) async throws(SessionError)
        -> SessionUpdate<Void>
    {
        let outcome: Result<VersionToken, SessionError> = await onLoop(for: id, rejected: .failure(.shuttingDown)) {
            runtime, done in
            runtime.create(id, changes: changes, named: named, done)
        }
        return SessionUpdate(id: id, version: try outcome.get(), value: ())
    }

    /// Reads a session, honouring the client's version token (nil: whatever copy is nearest). Throws `.notFound`
    /// for a session that never existed, ended or expired, `.unavailable` when no copy covering `token` is
    /// reachable in time.
    public func read(_ id: SessionID, token: VersionToken?) async throws(SessionError) -> SessionSnapshot {
        let outcome: Result<SessionSnapshot, SessionError> = await onLoop(for: id, rejected: .failure(.shuttingDown)) {
            runtime, done in
            runtime.read(id, token: token, done)
        }
        return try outcome.get()
    }

    /// Runs one request against a session: `body` reads the snapshot and records changes, which are committed
    /// as one delta; its result comes back in `value` with the new version token (in `sync` mode once the other
    /// holders acknowledged it). When `body` throws, nothing is committed: a `SessionError` it throws (the
    /// `.invalidAttribute` of a `decode`) is rethrown as is, any other error as `.aborted(error)` — catch yours
    /// with `catch .aborted(let error as MyError)`.
    ///
    /// With `creatingIfAbsent`, a session no node holds (never created, or every copy lost) is created here with
    /// what `body` records, `body` seeing an empty snapshot — an upsert for sessions named by the caller
    /// (`SessionID(name:)`). A session that ended (logout, `invalidate`) is not brought back: `.notFound`.
    ///
    /// `body` runs on the node's loop thread: keep it short (no I/O, no waiting).
    public func update<Value: Sendable>(
        _ id: SessionID, token: VersionToken?, creatingIfAbsent: Bool = false,
        _ body: @escaping @Sendable (SessionSnapshot, inout SessionChanges) throws -> Value
    ) async throws(SessionError) -> SessionUpdate<Value> {
        let outcome: Result<SessionUpdate<Value>, SessionError> = await onLoop(
            for: id, rejected: .failure(.shuttingDown)
        ) { runtime, done in
            if creatingIfAbsent {
                runtime.upsert(id, body, done)
            } else {
                runtime.update(id, token: token, body, done)
            }
        }
        return try outcome.get()
    }

    /// Ends a session everywhere (logout): every node answers `.notFound` for it from now on.
    public func invalidate(_ id: SessionID, token: VersionToken?) async throws(SessionError) {
        let outcome: Result<Void, SessionError> = await onLoop(for: id, rejected: .failure(.shuttingDown)) {
            runtime, done in
            runtime.invalidate(id, token: token, done)
        }
        try outcome.get()
    }

    /// Moves the session to a fresh id (session-fixation protection at login); the old id is dead everywhere.
    public func changeID(_ id: SessionID, token: VersionToken?) async throws(SessionError) -> SessionUpdate<Void> {
        let newID = freshID(sameShardAs: id)
        let outcome: Result<VersionToken, SessionError> = await onLoop(for: id, rejected: .failure(.shuttingDown)) {
            runtime, done in
            runtime.changeID(id, to: newID, token: token, done)
        }
        return SessionUpdate(id: newID, version: try outcome.get(), value: ())
    }

    static func freshID() -> SessionID { SessionID.random() }

    /// A fresh random id of the same shard as `id`: a session moves to a new id within its shard (the copies move
    /// with the id on every holder). With N loops one id in N qualifies, so the id keeps 127 − log2(N) random bits.
    func freshID(sameShardAs id: SessionID) -> SessionID {
        let shard = shards.shard(of: id)
        while true {
            let candidate = Self.freshID()
            if shards.shard(of: candidate) == shard { return candidate }
        }
    }

    // MARK: Cluster

    /// The members this node knows (itself excluded), with their states; empty once the node has stopped.
    public func members() async -> [Member] {
        await onLoop(rejected: []) { runtime, done in done(runtime.node.membership.members) }
    }

    /// Changes the keyring in use: install a new key everywhere, then `use` it everywhere, then remove the old one
    /// — key rotation without downtime. Throws the `KeyringError` of `change` (unknown key, short secret…; any other
    /// error it throws becomes one with its description), or "shutting down" once the node is stopping.
    public func updateKeyring(
        _ change: @escaping @Sendable (inout Keyring) throws -> Void
    ) async throws(KeyringError) {
        let result: Result<Void, KeyringError> = await onLoop(
            rejected: .failure(KeyringError(problem: "the node is shutting down"))
        ) { runtime, done in
            var keyring = runtime.cipher.keyring
            do {
                try change(&keyring)
                runtime.install(keyring)
                // Every shard seals and opens with the same keys (shard 0's change, made once).
                let installed = keyring
                for index in 1..<max(1, self.shards.count) { self.shards.run(on: index) { $0.install(installed) } }
                done(.success(()))
            } catch let error as KeyringError {
                done(.failure(error))
            } catch {
                done(.failure(KeyringError(problem: "\(error)")))
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
            let live: NodeStats? = await withCheckedContinuation { continuation in
                onEveryShard({ $0.currentStats }) { parts in
                    continuation.resume(returning: parts.count == self.shards.count ? NodeStats(merging: parts) : nil)
                }
            }
            if let live { return live }
        }
        // Stopping or stopped: the final figures are recorded on the loop before it ends.
        await untilStopped()
        return finalStats.withLock { $0 } ?? NodeStats.empty
    }

    /// The last figures, for callers that must not wait (`stats(then:)` once stopping).
    func lastStats() -> NodeStats { finalStats.withLock { $0 } ?? .empty }

    // MARK: Lifetime

    /// Keeps the node until the calling task is cancelled, then leaves gracefully (`shutdown()`) and returns once
    /// it has stopped; returns as soon as the node stops for another reason (a `shutdown()` elsewhere). The shape
    /// of swift-service-lifecycle's `Service.run()`, so an app's service group can own the node:
    /// `struct NodeService: Service { let node: ClusterNode; func run() async throws { try await
    /// cancelWhenGracefulShutdown { await node.run() } } }`.
    public func run() async {
        await withTaskCancellationHandler {
            await untilStopped()
        } onCancel: {
            Task { await self.shutdown() }
        }
    }

    /// Stops abruptly, as `kill -9` would: sockets close without a leaving beacon (tests of failure detection).
    package func crashForTesting() async {
        await stop(gracefully: false)
    }

    /// Graceful stop: announces leaving (peers drop this node at once and re-place its sessions), lets queued
    /// replication drain (bounded, one second), then closes everything, stops the loop and ends the events.
    ///
    /// Idempotent: a second call waits for the first to finish, a call after the stop returns at once. From the
    /// first call on, every other method fails at once with `.shuttingDown` (or answers empty).
    public func shutdown() async {
        await stop(gracefully: true)
    }

    private func stop(gracefully: Bool) async {
        let first = lifecycle.withLock { state -> Bool in
            guard state.phase == .running else { return false }
            state.phase = .stopping
            return true
        }
        guard first else { return await untilStopped() }
        accepting.store(false, ordering: .releasing)
        // Every shard leaves (shard 0 first says so to the peers), drains and closes; the figures of all are kept.
        let parts: [NodeStats] = await withTaskGroup(of: (Int, NodeStats?).self) { group in
            for index in 0..<shards.count {
                let shards = self.shards
                group.addTask {
                    let figures: NodeStats? = await withCheckedContinuation { continuation in
                        let queued = shards.run(on: index) { runtime in
                            let finish: (()) -> Void = { _ in continuation.resume(returning: runtime.currentStats) }
                            if gracefully {
                                runtime.leave(then: finish)
                            } else {
                                runtime.close()
                                finish(())
                            }
                        }
                        if !queued { continuation.resume(returning: nil) }
                    }
                    return (index, figures)
                }
            }
            var collected = [(Int, NodeStats)]()
            for await (index, figures) in group { if let figures { collected.append((index, figures)) } }
            return collected.sorted { $0.0 < $1.0 }.map(\.1)
        }
        if !parts.isEmpty { finalStats.withLock { $0 = NodeStats(merging: parts) } }
        for loop in shards.loops { await loop.stop() }
        // The loops have ended, so the runtimes are no longer touched there; the last log records reach the handler
        // before `shutdown` returns (at most a second: a stuck handler keeps its thread, not the caller).
        await runtime.value.logger.finish()
        let waiting = lifecycle.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.phase = .stopped
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiting { waiter.resume() }
    }

    /// Returns once the node has stopped (at once when it has).
    private func untilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiting = lifecycle.withLock { state -> Bool in
                guard state.phase != .stopped else { return false }
                state.waiters.append(continuation)
                return true
            }
            if !waiting { continuation.resume() }
        }
    }
}

/// Why `ClusterNode.start` failed.
public enum StartError: Error, Equatable, CustomStringConvertible {
    /// A setting is out of range or inconsistent: the error names it (`keyPath`) and its value.
    case invalidSettings(ConfigurationError)
    /// The event loop or a socket could not be set up (port in use, bad address, out of descriptors).
    case system(SystemError)

    public var description: String {
        switch self {
        case .invalidSettings(let error): "invalid settings: \(error)"
        case .system(let error): error.description
        }
    }
}
