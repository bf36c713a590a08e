import SessionCluster
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Settings of the RESP front end (the cluster file's `redis` endpoint and section).
public struct RESPServerSettings: Sendable {
    /// When set, clients must `AUTH <password>` (or `HELLO 3 AUTH default <password>`) before any other command.
    public var password: String?
    public var limits = RESPLimits()
    /// Open connections at most. At the cap a newcomer displaces the connection idle longest, else the one whose
    /// partly received command began longest ago (at least `incompleteGraceMillis` ago: a client trickling a
    /// command cannot hold its slot forever); with neither it gets `-ERR max number of clients reached`.
    public var maxConnections = 10_000
    public var incompleteGraceMillis: Int64 = 10_000
    /// Commands one `MULTI` block may queue; past it the block is refused (`EXEC` answers `-EXECABORT`).
    public var maxQueuedCommands = 10_000
    /// Reading a connection pauses while more than this many bytes of answers wait for the client to take them
    /// (a client that pipelines without reading cannot grow the node's memory).
    public var maxPendingOutputBytes = 4 << 20
    /// How long a closing connection may take to drain its last answer (ms).
    public var closeGraceMillis: Int64 = 1_000

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
    /// Streams given a last answer (the over-limit error), held until they drained.
    private var closing: [Int32: TCPStream] = [:]
    private var listening = false
    private var stopped = false
    private var nextClientID = 1
    let startedAt = EventLoop.monotonicMillis()
    var accepted = 0
    var rejected = 0
    var commands = 0
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
            (try? loop.register(listener.fd, events: EventLoop.readable) { [unowned self] _ in acceptAll() })
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
        stream.onClose = { [unowned self] _ in connections[fd] = nil }
        connection.start()
    }

    /// Closes the connection idle longest, else the one trickling a command longest (past the grace), to make
    /// room; false when none qualifies. A scan of the open connections: it runs only at the cap.
    private func displaceIdle() -> Bool {
        let idle = connections.values.filter { $0.isIdle && !$0.stream.hasUnreadInput }
        if let victim = idle.min(by: { $0.idleSince < $1.idleSince }) {
            victim.stream.close()
            return true
        }
        let cutoff = EventLoop.monotonicMillis() - settings.incompleteGraceMillis
        let trickling = connections.values.filter { ($0.partialSince ?? .max) <= cutoff }
        guard let victim = trickling.min(by: { $0.partialSince! < $1.partialSince! }) else { return false }
        victim.stream.close()
        return true
    }

    private func finish(_ stream: TCPStream, with bytes: [UInt8]) {
        guard closing.count < settings.maxConnections else { return stream.close() }
        let fd = stream.fd
        closing[fd] = stream
        stream.onClose = { [unowned self] _ in closing[fd] = nil }
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
        closing = [:]
    }
}
