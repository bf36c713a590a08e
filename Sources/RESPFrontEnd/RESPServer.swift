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
    /// Bytes of answers all connections of one loop may hold unsent before the node closes those of its clients
    /// that do not read theirs (more than `maxPendingOutputBytes` waiting), as Redis's output-buffer limit closes a
    /// client: each connection alone stops at `maxPendingOutputBytes` plus one reply (up to 32 MiB), so fifty slow
    /// readers held 1.7 GB.
    public var maxTotalPendingOutputBytes = 256 << 20
    /// How long a closing connection may take to drain its last answer (ms).
    public var closeGraceMillis: Int64 = 1_000

    /// The defaults, with `requirepass` when `password` is given.
    public init(password: String? = nil) { self.password = password }
}

/// A RESP2/RESP3 server on a `ClusterNode`'s loops: every Redis key is a session of the cluster (`KeySpace`), so
/// any language's Redis client — and the session libraries built on them — reads and writes replicated sessions.
/// Commands of one connection run one at a time, in order (pipelining); while one waits (a pull, a `sync`
/// acknowledgement, another loop), reading pauses once more bytes arrive.
///
/// On a node with several loops the first accepts and hands the connections to the loops in turn; each loop holds
/// its share of `maxConnections` and displaces among its own connections.
public final class RESPServer: Sendable {
    /// The bound address (`host:port`; the real port when 0 was asked for).
    public let address: String
    private let loops: [EventLoop]
    private let states: [LoopConfined<RESPServerState>]
    private let figures: [RESPLoopFigures]

    /// Binds `host:port` and serves on every loop of `node` (`ClusterNode.eventLoops`).
    public static func start(
        host: String, port: UInt16, node: ClusterNode, settings: RESPServerSettings = RESPServerSettings()
    ) throws -> RESPServer {
        let listener = try Listener(host: host, port: port)
        let loops = node.eventLoops
        let figures = loops.map { _ in RESPLoopFigures() }
        var share = settings
        share.maxConnections = (settings.maxConnections + loops.count - 1) / loops.count
        let states = loops.enumerated().map { index, loop in
            RESPServerState(
                loop: loop, listener: index == 0 ? listener : nil, address: listener.address,
                settings: loops.count == 1 ? settings : share, keys: KeySpace(node: node, loop: loop), node: node,
                index: index, figures: figures, maxClients: settings.maxConnections)
        }
        if loops.count > 1 { states[0].siblings = states.map { LoopConfined(value: $0) } }
        let server = RESPServer(address: listener.address, loops: loops, states: states, figures: figures)
        for (loop, state) in zip(loops, server.states) { loop.execute { state.value.begin() } }
        return server
    }

    private init(address: String, loops: [EventLoop], states: [RESPServerState], figures: [RESPLoopFigures]) {
        self.address = address
        self.loops = loops
        self.states = states.map { LoopConfined(value: $0) }
        self.figures = figures
    }

    /// Connections open now and served so far (every loop's), from any task.
    public func stats() async -> (open: Int, accepted: Int, rejected: Int, commands: Int) {
        let total = RESPLoopFigures.sum(figures)
        return (total.open, total.accepted, total.rejected, total.commands)
    }

    /// Stops accepting and closes every connection; the node's loops keep running.
    public func stop() async {
        for (loop, confined) in zip(loops, states) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let queued = loop.execute {
                    confined.value.close()
                    continuation.resume()
                }
                if !queued { continuation.resume() }
            }
        }
    }
}

/// One loop's counters of a RESP server, written by that loop only, read together from any (`INFO`, `stats()`).
final class RESPLoopFigures: Sendable {
    let open = Atomic<Int>(0)
    let accepted = Atomic<Int>(0)
    let rejected = Atomic<Int>(0)
    let commands = Atomic<Int>(0)
    let crossProtocolAttempts = Atomic<Int>(0)
    let expired = Atomic<Int>(0)
    let closedForOutput = Atomic<Int>(0)

    /// Every loop's figures summed.
    static func sum(_ all: [RESPLoopFigures]) -> (
        open: Int, accepted: Int, rejected: Int, commands: Int, crossProtocolAttempts: Int, expired: Int,
        closedForOutput: Int
    ) {
        var total = (
            open: 0, accepted: 0, rejected: 0, commands: 0, crossProtocolAttempts: 0, expired: 0, closedForOutput: 0
        )
        for one in all {
            total.open += one.open.load(ordering: .relaxed)
            total.accepted += one.accepted.load(ordering: .relaxed)
            total.rejected += one.rejected.load(ordering: .relaxed)
            total.commands += one.commands.load(ordering: .relaxed)
            total.crossProtocolAttempts += one.crossProtocolAttempts.load(ordering: .relaxed)
            total.expired += one.expired.load(ordering: .relaxed)
            total.closedForOutput += one.closedForOutput.load(ordering: .relaxed)
        }
        return total
    }
}

/// The server's side on one loop: the listener (the first loop's), this loop's connections, its figures.
final class RESPServerState {
    let loop: EventLoop
    /// The first loop's state only: it accepts.
    let listener: Listener?
    /// The bound address (`INFO`).
    let address: String
    let settings: RESPServerSettings
    let keys: KeySpace
    let node: ClusterNode
    /// This loop's place among the server's loops, and every loop's figures.
    let index: Int
    let allFigures: [RESPLoopFigures]
    var figures: RESPLoopFigures { allFigures[index] }
    /// The first loop's state: every loop's state, to hand accepted connections to (itself included).
    var siblings: [LoopConfined<RESPServerState>] = []
    private var nextSibling = 0
    /// Bytes of answers this loop's connections queued and have not seen drained (`RESPConnection.countedOutput`).
    var pendingOutput = 0
    /// Slow readers closed because the loop's connections held too many answers (`INFO`'s
    /// `client_output_buffer_limit_disconnections`).
    var closedForOutput: Int {
        get { figures.closedForOutput.load(ordering: .relaxed) }
        set { figures.closedForOutput.store(newValue, ordering: .relaxed) }
    }
    var connections: [Int32: RESPConnection] = [:] {
        didSet { figures.open.store(connections.count, ordering: .relaxed) }
    }
    /// The open connections in no order, for sampling at the cap (`RESPConnection.slot` is each one's index).
    private var sample: [RESPConnection] = []
    /// Streams given a last answer (the over-limit error), held until they drained.
    private var closing: [Int32: TCPStream] = [:]
    private var listening = false
    private var stopped = false
    private var nextClientID: Int
    let startedAt = EventLoop.monotonicMillis()
    var accepted: Int {
        get { figures.accepted.load(ordering: .relaxed) }
        set { figures.accepted.store(newValue, ordering: .relaxed) }
    }
    var rejected: Int {
        get { figures.rejected.load(ordering: .relaxed) }
        set { figures.rejected.store(newValue, ordering: .relaxed) }
    }
    var commands: Int {
        get { figures.commands.load(ordering: .relaxed) }
        set { figures.commands.store(newValue, ordering: .relaxed) }
    }
    /// Connections closed because they spoke HTTP (`POST`, `Host:`) to the Redis port.
    var crossProtocolAttempts: Int {
        get { figures.crossProtocolAttempts.load(ordering: .relaxed) }
        set { figures.crossProtocolAttempts.store(newValue, ordering: .relaxed) }
    }
    static let acceptsPerPass = 64
    /// The server's `maxConnections` (every loop's share together), for `INFO`.
    let maxClients: Int

    init(
        loop: EventLoop, listener: Listener?, address: String, settings: RESPServerSettings, keys: KeySpace,
        node: ClusterNode, index: Int = 0, figures: [RESPLoopFigures] = [RESPLoopFigures()], maxClients: Int? = nil
    ) {
        self.maxClients = maxClients ?? settings.maxConnections
        self.loop = loop
        self.listener = listener
        self.address = address
        self.settings = settings
        self.keys = keys
        self.node = node
        self.index = index
        self.allFigures = figures
        // Client ids are unique across the loops: loop i of n gives i + 1, i + 1 + n, …
        self.nextClientID = index + 1
    }

    /// Every loop's figures summed (`INFO`).
    var totals:
        (
            open: Int, accepted: Int, rejected: Int, commands: Int, crossProtocolAttempts: Int, expired: Int,
            closedForOutput: Int
        )
    {
        RESPLoopFigures.sum(allFigures)
    }

    func begin() {
        listen()
        // One walk over every shard's keys: the first loop's.
        if index == 0 { scheduleExpiry() }
    }

    /// Active expiry: a pass over the held keys (`KeySpace.expireDue`, paced), the next a second after it ends.
    private func scheduleExpiry() {
        loop.schedule(afterMillis: 1_000) { [self] in
            guard !stopped else { return }
            keys.expireDue { [self] deleted in
                figures.expired.add(deleted, ordering: .relaxed)
                scheduleExpiry()
            }
        }
    }

    private func listen() {
        guard !stopped, !listening, let listener else { return }
        listening =
            (try? loop.register(listener.fd, events: EventLoop.readable) { [self] _ in acceptAll() })
            != nil
    }

    private func acceptAll() {
        var handed = [[Int32]](repeating: [], count: siblings.count)
        defer {
            for (target, fds) in handed.enumerated() where !fds.isEmpty {
                let sibling = siblings[target]
                let batch = fds
                if !sibling.value.loop.execute({ sibling.value.admitHanded(batch) }) {
                    for fd in batch { _ = Glibc.close(fd) }
                }
            }
        }
        for _ in 0..<Self.acceptsPerPass {
            let fd: Int32
            do throws(SystemError) {
                guard let accepted = try listener?.accept() else { return }
                fd = accepted
            } catch {
                switch error.errno {
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors: stop watching the listener (it would stay ready and spin) and retry soon.
                    if let listener { loop.deregister(listener.fd) }
                    listening = false
                    loop.schedule(afterMillis: 100) { [self] in listen() }
                    return
                default: continue
                }
            }
            // In turn over the loops: each serves as many connections as the others.
            let target = nextSibling
            nextSibling = siblings.isEmpty ? 0 : (nextSibling + 1) % siblings.count
            if target == index || siblings.isEmpty { admit(fd) } else { handed[target].append(fd) }
        }
    }

    /// Takes connections the first loop accepted for this one.
    func admitHanded(_ fds: [Int32]) {
        guard !stopped else {
            for fd in fds { _ = Glibc.close(fd) }
            return
        }
        for fd in fds { admit(fd) }
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
        nextClientID += allFigures.count
        connections[fd] = connection
        connection.slot = sample.count
        sample.append(connection)
        // Unowned (the connection owns the stream), held strongly while this runs: it may leave both lists here.
        stream.onClose = { [self, unowned connection] _ in
            let connection = connection
            pendingOutput -= connection.countedOutput
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
        stream.onClose = { [self] _ in closing[fd] = nil }
        stream.write(bytes)
        stream.closeAfterDraining(graceMillis: settings.closeGraceMillis)
    }

    func close() {
        stopped = true
        if listening, let listener { loop.deregister(listener.fd) }
        listening = false
        listener?.close()
        for connection in Array(connections.values) { connection.stream.close() }
        for stream in Array(closing.values) { stream.close() }
        connections = [:]
        sample = []
        closing = [:]
    }
}
