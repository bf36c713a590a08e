import SessionClusterCore

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

    /// Runs `body` on the loop with the runtime and a completion to call exactly once.
    private func onLoop<R: Sendable>(_ body: @escaping @Sendable (NodeRuntime, @escaping (R) -> Void) -> Void) async
        -> R
    {
        let confined = runtime
        return await withCheckedContinuation { continuation in
            loop.execute { body(confined.value) { continuation.resume(returning: $0) } }
        }
    }

    // MARK: Sessions

    /// Creates a session with a fresh 128-bit id from the system CSPRNG, holding `changes`.
    public func create(_ changes: @Sendable (inout SessionChanges) -> Void) async throws(SessionError)
        -> SessionUpdate<Void>
    {
        var recorded = SessionChanges()
        changes(&recorded)
        let initial = recorded
        var random = SystemRandomNumberGenerator()
        let id = SessionID(using: &random)
        let outcome: Result<VersionVector, SessionError> = await onLoop { runtime, done in
            guard !runtime.stopping else { return done(.failure(.shuttingDown)) }
            guard runtime.node.replication.liveSessionCount < runtime.settings.maxSessions else {
                return done(.failure(.full))
            }
            guard runtime.fits(initial, on: [:]) else { return done(.failure(.tooLarge)) }
            let result = runtime.node.create(id, changes: initial, now: NodeRuntime.now())
            runtime.finish(result, done)
        }
        return SessionUpdate(id: id, version: try outcome.get(), value: ())
    }

    /// Reads a session, honouring the client's version token.
    public func read(_ id: SessionID, token: VersionVector?) async throws(SessionError) -> SessionSnapshot {
        let session = try await access(id, token: token)
        let confined = runtime
        loop.execute { confined.value.node.release(id) }
        return session
    }

    /// Runs one request against a session: `body` reads the snapshot and records changes, which are
    /// committed as one delta. Returns the new version token (and in `sync` mode waits for acknowledgement).
    public func update<Value: Sendable>(
        _ id: SessionID, token: VersionVector?,
        _ body: @Sendable (SessionSnapshot, inout SessionChanges) throws -> Value
    ) async throws -> SessionUpdate<Value> {
        let session = try await access(id, token: token)
        var changes = SessionChanges()
        let value: Value
        do {
            value = try body(session, &changes)
        } catch {
            let confined = runtime
            loop.execute { confined.value.node.release(id) }
            throw error
        }
        let recorded = changes
        let outcome: Result<VersionVector, SessionError> = await onLoop { runtime, done in
            guard runtime.fits(recorded, on: session.attributes) else {
                runtime.node.release(id)
                return done(.failure(.tooLarge))
            }
            runtime.finish(runtime.node.commit(id, changes: recorded, now: NodeRuntime.now()), done)
        }
        return SessionUpdate(id: id, version: try outcome.get(), value: value)
    }

    /// Ends a session everywhere (logout).
    public func invalidate(_ id: SessionID, token: VersionVector?) async throws(SessionError) {
        _ = try await access(id, token: token)
        let outcome: Result<VersionVector, SessionError> = await onLoop { runtime, done in
            var changes = SessionChanges()
            changes.invalidate()
            runtime.finish(runtime.node.commit(id, changes: changes, now: NodeRuntime.now()), done)
        }
        _ = try outcome.get()
    }

    /// Moves the session to a fresh id (session-fixation protection at login); the old id is dead everywhere.
    public func changeID(_ id: SessionID, token: VersionVector?) async throws(SessionError) -> SessionUpdate<Void> {
        _ = try await access(id, token: token)
        var random = SystemRandomNumberGenerator()
        let newID = SessionID(using: &random)
        let outcome: Result<VersionVector, SessionError> = await onLoop { runtime, done in
            runtime.finish(runtime.node.changeID(of: id, to: newID, now: NodeRuntime.now()), done)
        }
        return SessionUpdate(id: newID, version: try outcome.get(), value: ())
    }

    private func access(_ id: SessionID, token: VersionVector?) async throws(SessionError) -> SessionSnapshot {
        let outcome: NodeRuntime.AccessOutcome = await onLoop { runtime, done in
            guard !runtime.stopping else { return done(.shuttingDown) }
            let ticket = runtime.nextTicket
            runtime.nextTicket += 1
            runtime.accessWaiters[ticket] = done
            runtime.execute(runtime.node.access(id, token: token, ticket: ticket, now: NodeRuntime.now()))
        }
        switch outcome {
        case .ready(let session, let lostWrites): return SessionSnapshot(session, lostWrites: lostWrites)
        case .failed(.notFound): throw .notFound
        case .failed(.unavailable): throw .unavailable
        case .failed(.lost): throw .lost
        case .shuttingDown: throw .shuttingDown
        }
    }

    // MARK: Cluster

    /// The members this node knows (itself excluded), with their states.
    public func members() async -> [Member] {
        await onLoop { runtime, done in done(runtime.node.membership.members) }
    }

    /// The keyring in use: install a new key everywhere, then `use` it everywhere, then remove the old one —
    /// key rotation without downtime. Throws when the change is not possible (unknown key, short secret…).
    public func updateKeyring(_ change: @escaping @Sendable (inout Keyring) throws -> Void) async throws {
        let result: Result<Void, any Error> = await onLoop { runtime, done in
            var keyring = runtime.cipher.keyring
            do {
                try change(&keyring)
                runtime.cipher.install(keyring)
                done(.success(()))
            } catch {
                done(.failure(error))
            }
        }
        try result.get()
    }

    /// The key ids installed and the one sealing.
    public func keyIDs() async -> (installed: [UInt8], current: UInt8) {
        await onLoop { runtime, done in done((runtime.cipher.keyring.ids, runtime.cipher.keyring.current)) }
    }

    /// Session counts and replication / transport counters.
    public func stats() async -> NodeStats {
        await onLoop { runtime, done in
            let replication = runtime.node.replication
            done(
                NodeStats(
                    sessions: replication.liveSessionCount, primaries: replication.primaryCount,
                    copies: replication.copyCount, replication: replication.counters,
                    framesReceived: runtime.stats.framesReceived, framesSent: runtime.stats.framesSent,
                    bytesSent: runtime.stats.bytesSent, malformedDropped: runtime.stats.malformed,
                    linksRefused: runtime.stats.refused, linksOverflowed: runtime.stats.overflowed,
                    dropped: Dictionary(
                        uniqueKeysWithValues: runtime.cipher.rejected.map { ($0.key.rawValue, $0.value) })))
        }
    }

    /// Stops abruptly, as `kill -9` would: sockets close without a leaving beacon (tests of failure detection).
    public func crashForTesting() async {
        await onLoop { runtime, done in
            runtime.close()
            done(())
        }
        await loop.stop()
    }

    /// Graceful stop: announces leaving (peers drop this node at once and re-place its sessions), lets queued
    /// replication drain (bounded), then closes everything and stops the loop.
    public func shutdown() async {
        await onLoop { runtime, done in runtime.leave(then: done) }
        await loop.stop()
    }
}

extension NodeRuntime {
    /// Whether `attributes` with `changes` applied stay within the session limits.
    func fits(_ changes: SessionChanges, on attributes: [String: [UInt8]]) -> Bool {
        var result = attributes
        for change in changes.changes {
            switch change {
            case .set(let name, let value): result[name] = value
            case .remove(let name): result[name] = nil
            case .setMaxInactive, .invalidate: break
            }
        }
        let bytes = result.reduce(0) { $0 + $1.key.utf8.count + $1.value.count }
        return result.count <= settings.maxAttributesPerSession && bytes <= settings.maxSessionBytes
    }

    /// Completes a commit: at once, or when a `sync` commit is acknowledged.
    func finish(_ result: NodeCommit, _ done: @escaping (Result<VersionVector, SessionError>) -> Void) {
        execute(result.directives)
        guard result.outcome == .committed else { return done(.failure(.notFound)) }
        guard let commitID = result.awaiting else { return done(.success(result.version)) }
        commitWaiters[commitID] = { acknowledged in
            done(acknowledged ? .success(result.version) : .failure(.notAcknowledged))
        }
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
        for waiter in accessWaiters.values { waiter(.shuttingDown) }
        for waiter in commitWaiters.values { waiter(false) }
        accessWaiters = [:]
        commitWaiters = [:]
        events.finish()
    }
}
