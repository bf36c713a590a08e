import SessionCluster
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Settings of the RESP front end (the cluster file's `redis` endpoint and section).
public struct RESPServerSettings: Sendable {
    /// When set, clients must `AUTH <password>` (or `HELLO 3 AUTH default <password>`) before any other command.
    public var password: String?
    /// What one command may hold (`RESPLimits`).
    public var limits = RESPLimits()
    /// Open connections at most. At the cap a newcomer displaces the connection idle longest, else the one whose
    /// partly received command began longest ago (at least `incompleteGraceMillis` ago: a client trickling a
    /// command cannot hold its slot forever); with neither it gets `-ERR max number of clients reached`.
    public var maxConnections = 10_000
    /// How long, in ms, a partial command protects its connection from displacement at the cap.
    public var incompleteGraceMillis: Int64 = 1_000
    /// Commands, and bytes of arguments, one `MULTI` block may queue; past either the block is refused (`EXEC`
    /// answers `-EXECABORT`). The bytes bound what a connection holds: 10,000 commands of 256 KiB held 2.5 GB.
    public var maxQueuedCommands = 10_000
    /// Bytes of arguments one `MULTI` block may queue.
    public var maxQueuedBytes = 16 << 20
    /// Reading a connection pauses while more than this many bytes of answers wait for the client to take them
    /// (a client that pipelines without reading cannot grow the node's memory).
    public var maxPendingOutputBytes = 4 << 20
    /// How long a closing connection may take to drain its last answer (ms).
    public var closeGraceMillis: Int64 = 1_000

    /// The defaults, with `requirepass` when `password` is given.
    public init(password: String? = nil) { self.password = password }
}

/// A RESP2/RESP3 server on a `ClusterNode`'s loop: every Redis key is a session of the cluster (`KeySpace`), so
/// any language's Redis client — and the session libraries built on them — reads and writes replicated sessions.
/// Commands of one connection run one at a time, in order (pipelining); a connection is not read while its
/// command waits (a pull, a `sync` acknowledgement).
public final class RESPServer: Sendable {
    /// The bound address (`host:port`; the real port when 0 was asked for).
    public let address: String
    private let loop: EventLoop
    private let state: LoopConfined<RESPServerState>

    /// Binds `host:port` and serves on `node`'s loop.
    public static func start(
        host: String, port: UInt16, node: ClusterNode, settings: RESPServerSettings = RESPServerSettings()
    ) throws -> RESPServer {
        let listener = try Listener(host: host, port: port)
        let state = RESPServerState(
            loop: node.eventLoop, listener: listener, settings: settings, keys: KeySpace(node: node),
            node: node)
        let server = RESPServer(address: listener.address, loop: node.eventLoop, state: state)
        let confined = server.state
        node.eventLoop.execute { confined.value.begin() }
        return server
    }

    private init(address: String, loop: EventLoop, state: RESPServerState) {
        self.address = address
        self.loop = loop
        self.state = LoopConfined(value: state)
    }

    /// Connections open now and served so far, from any task.
    public func stats() async -> (open: Int, accepted: Int, rejected: Int, commands: Int) {
        let confined = state
        return await withCheckedContinuation { continuation in
            loop.execute {
                let state = confined.value
                continuation.resume(
                    returning: (state.connections.count, state.accepted, state.rejected, state.commands))
            }
        }
    }

    /// Stops accepting and closes every connection; the node's loop keeps running.
    public func stop() async {
        let confined = state
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute {
                confined.value.close()
                continuation.resume()
            }
        }
    }
}

/// The server's loop-confined side: the listener and the open connections.
final class RESPServerState {
    let loop: EventLoop
    let listener: Listener
    let settings: RESPServerSettings
    let keys: KeySpace
    let node: ClusterNode
    var connections: [Int32: RESPConnection] = [:]
    /// The open connections in no order, for sampling at the cap (`RESPConnection.slot` is each one's index).
    private var sample: [RESPConnection] = []
    /// Streams given a last answer (the over-limit error), held until they drained.
    private var closing: [Int32: TCPStream] = [:]
    private var listening = false
    private var stopped = false
    private var nextClientID = 1
    let startedAt = EventLoop.monotonicMillis()
    var accepted = 0
    var rejected = 0
    var commands = 0
    /// Connections closed because they spoke HTTP (`POST`, `Host:`) to the Redis port.
    var crossProtocolAttempts = 0
    static let acceptsPerPass = 64

    init(loop: EventLoop, listener: Listener, settings: RESPServerSettings, keys: KeySpace, node: ClusterNode) {
        self.loop = loop
        self.listener = listener
        self.settings = settings
        self.keys = keys
        self.node = node
    }

    /// Keys deleted by active expiry so far.
    var expired = 0

    func begin() {
        listen()
        scheduleExpiry()
    }

    /// Active expiry once a second: one pass over the held keys (`KeySpace.expireDue`), then the next second.
    private func scheduleExpiry() {
        loop.schedule(afterMillis: 1_000) { [weak self] in
            guard let self, !self.stopped else { return }
            keys.expireDue { [weak self] deleted in
                guard let self else { return }
                expired += deleted
                scheduleExpiry()
            }
        }
    }

    private func listen() {
        guard !stopped, !listening else { return }
        listening =
            (try? loop.register(listener.fd, events: EventLoop.readable) { [weak self] _ in self?.acceptAll() })
            != nil
    }

    private func acceptAll() {
        for _ in 0..<Self.acceptsPerPass {
            let fd: Int32
            do throws(SystemError) {
                guard let accepted = try listener.accept() else { return }
                fd = accepted
            } catch {
                switch error.errno {
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors: stop watching the listener (it would stay ready and spin) and retry soon.
                    loop.deregister(listener.fd)
                    listening = false
                    loop.schedule(afterMillis: 100) { [weak self] in self?.listen() }
                    return
                default: continue
                }
            }
            admit(fd)
        }
    }

    private func admit(_ fd: Int32) {
        guard let stream = try? TCPStream.accepted(fd: fd, loop: loop, maxQueuedBytes: 64 << 20, readChunk: 16 << 10)
        else { return }
        accepted += 1
        if connections.count >= settings.maxConnections, !displaceIdle() {
            rejected += 1
            return finish(stream, with: RESPValue.err("max number of clients reached").encoded(version: 2))
        }
        let connection = RESPConnection(stream: stream, server: self, id: nextClientID)
        nextClientID += 1
        connections[fd] = connection
        connection.slot = sample.count
        sample.append(connection)
        stream.onClose = { [weak self, weak connection] _ in
            guard let self, let connection else { return }
            connections[fd] = nil
            // Swap-remove from the sample array (unless the server was closed and emptied it).
            guard connection.slot < sample.count, sample[connection.slot] === connection else { return }
            let last = sample.removeLast()
            if last !== connection {
                sample[connection.slot] = last
                last.slot = connection.slot
            }
        }
        connection.start()
    }

    /// Closes, to make room, the connection idle longest among a random sample of 64 (Redis's own eviction
    /// samples too), else the one among them trickling a command longest past the grace; false when none of them
    /// qualifies. A scan of every connection per newcomer stalled the node for seconds under 11,000 connections.
    private func displaceIdle() -> Bool {
        guard !sample.isEmpty else { return false }
        var random = SystemRandomNumberGenerator()
        var idlest: RESPConnection?
        var trickler: RESPConnection?
        let cutoff = EventLoop.monotonicMillis() - settings.incompleteGraceMillis
        // Every connection when there are few, else 64 drawn at random.
        let draws =
            sample.count <= 64
            ? Array(sample.indices)
            : (0..<64).map { _ in
                Int.random(in: 0..<sample.count, using: &random)
            }
        for index in draws {
            let candidate = sample[index]
            if candidate.isIdle && !candidate.stream.hasUnreadInput {
                if idlest.map({ candidate.idleSince < $0.idleSince }) ?? true { idlest = candidate }
            } else if let since = candidate.partialSince, since <= cutoff {
                if trickler.map({ since < $0.partialSince! }) ?? true { trickler = candidate }
            }
        }
        guard let victim = idlest ?? trickler else { return false }
        victim.stream.close()
        return true
    }

    private func finish(_ stream: TCPStream, with bytes: [UInt8]) {
        guard closing.count < settings.maxConnections else { return stream.close() }
        let fd = stream.fd
        closing[fd] = stream
        stream.onClose = { [weak self] _ in self?.closing[fd] = nil }
        stream.write(bytes)
        stream.closeAfterDraining(graceMillis: settings.closeGraceMillis)
    }

    func close() {
        stopped = true
        if listening { loop.deregister(listener.fd) }
        listening = false
        listener.close()
        for connection in Array(connections.values) { connection.stream.close() }
        for stream in Array(closing.values) { stream.close() }
        connections = [:]
        sample = []
        closing = [:]
    }
}
