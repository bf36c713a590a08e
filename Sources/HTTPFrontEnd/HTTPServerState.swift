import SessionCluster
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The server's loop-confined side: the listener, the open connections, and the cap policy.
///
/// At `maxConnections`, a new connection displaces another (`HTTPServerSettings.maxConnections`), in this order:
/// 1. the connection whose incomplete request (head or body still arriving) began longest ago, once that is at
///    least `incompleteGraceMillis` ago — kept in `incomplete`, oldest request first;
/// 2. else the connection idle longest — kept in `idle`, longest idle first: a keep-alive connection between
///    requests or one accepted that has sent nothing yet; skipped when its next request already waits in the
///    kernel (about to be busy) or when it was accepted in this very accept pass (under a burst, newcomers
///    would otherwise displace each other before their requests are read);
/// 3. else the newcomer is answered 503 and closed.
/// Either way the newcomer's answer is actually sent: a stream being closed is held here until it has drained
/// (or its grace has passed).
///
/// A server on several loops has one state per loop: the first accepts every connection and hands them out in
/// turn (`siblings`), so the loops serve equal numbers; each holds its share of `maxConnections` and applies the
/// policy above to its own connections.
final class ServerState {
    let loop: EventLoop
    /// The first loop's state only: it accepts.
    let listener: Listener?
    let limits: HTTPLimits
    let settings: HTTPServerSettings
    let handler: HTTPServer.Handler
    /// This state's place among the server's loops, and the counters every loop publishes.
    let index: Int
    let shared: ServerFigures
    /// The first loop's state: every loop's state, to hand accepted connections to (itself included).
    var siblings: [LoopConfined<ServerState>] = []
    private var nextSibling = 0
    /// Out of descriptors, the other loops were asked to make room (`askSiblingsForRoom`).
    private var askingForRoom = false
    var connections: [Int32: HTTPConnection] = [:] {
        didSet { shared.setOpen(index, openCount) }
    }
    /// Streams given a last answer (the over-limit 503), held until they drained and closed.
    private var closing: [Int32: TCPStream] = [:] {
        didSet { shared.setOpen(index, openCount) }
    }
    /// Idle connections, longest idle first.
    private var idle = ConnectionList()
    /// Connections with a request partly received (head or body), oldest request first.
    private var incomplete = ConnectionList()
    /// This loop's counters, published for the server's figures (`ServerFigures`); they change per connection,
    /// not per request.
    var stats: HTTPServerStats {
        get { shared.stats(index) }
        set { shared.setStats(index, newValue) }
    }
    private var listening = false
    /// Counts `acceptAll` passes (one per loop turn the listener is ready in). A connection accepted in this pass
    /// has not been read yet, so it is not displaced as idle: under a burst, newcomers would otherwise displace
    /// each other before their requests arrive.
    private var acceptPass = 0
    /// Connections accepted per pass at most, so that a burst is interleaved with reading the connections
    /// accepted before (the listener stays ready, and the next turn takes the next batch).
    static let acceptsPerPass = 64
    private var stopped = false

    init(
        loop: EventLoop, listener: Listener?, limits: HTTPLimits, settings: HTTPServerSettings,
        handler: @escaping HTTPServer.Handler, index: Int = 0, shared: ServerFigures = ServerFigures(count: 1)
    ) {
        self.loop = loop
        self.listener = listener
        self.limits = limits
        self.settings = settings
        self.handler = handler
        self.index = index
        self.shared = shared
    }

    /// Open connections, those being closed included (each holds a descriptor).
    var openCount: Int { connections.count + closing.count }

    func begin() {
        listen()
    }

    private func listen() {
        guard !stopped, !listening, let listener else { return }
        listening =
            (try? loop.register(listener.fd, events: EventLoop.readable) { [unowned self] _ in acceptAll() })
            != nil
    }

    private func acceptAll() {
        acceptPass += 1
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
                stats.acceptErrors += 1
                if error.errno == EMFILE || error.errno == ENFILE, displaceOne() {
                    continue  // a descriptor was freed: take the waiting connection with it
                }
                if error.errno == EMFILE || error.errno == ENFILE, siblings.count > 1 {
                    // The idle connections may be other loops': they are asked to make room, and the listener
                    // waits (not spinning) until one has.
                    if listening, let listener { loop.deregister(listener.fd) }
                    listening = false
                    askSiblingsForRoom()
                    return
                }
                switch error.errno {
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors or memory: the pending connection stays queued, so the listener would
                    // be ready again at once and the loop would spin. Stop watching it and retry shortly, after
                    // some connections (idle ones time out) have given their descriptors back.
                    if let listener { loop.deregister(listener.fd) }
                    listening = false
                    loop.schedule(afterMillis: 100) { [self] in listen() }
                    return
                default:
                    continue  // this one connection failed (ECONNABORTED, EPERM…): take the next
                }
            }
            // In turn over the loops: each serves as many connections as the others.
            let target = nextSibling
            nextSibling = siblings.isEmpty ? 0 : (nextSibling + 1) % siblings.count
            if target == index || siblings.isEmpty { admit(fd) } else { handed[target].append(fd) }
        }
    }

    /// Out of descriptors with nothing to displace here: every other loop is asked to close one connection (the
    /// policy of this type's doc comment, among its own); listening resumes as soon as one did, or 100 ms after
    /// none could.
    private func askSiblingsForRoom() {
        guard !askingForRoom else { return }
        askingForRoom = true
        let others = siblings.indices.filter { $0 != index }
        let answers = LoopConfined(value: RoomAnswers(expected: others.count))
        let me = LoopConfined(value: self)
        for other in others {
            let sibling = siblings[other]
            let queued = sibling.value.loop.execute {
                let freed = sibling.value.displaceOne()
                me.value.loop.execute { me.value.roomAnswered(freed, answers.value) }
            }
            if !queued { roomAnswered(false, answers.value) }
        }
    }

    private func roomAnswered(_ freed: Bool, _ answers: RoomAnswers) {
        answers.remaining -= 1
        if freed && !answers.resumed {
            answers.resumed = true
            askingForRoom = false
            listen()
        } else if answers.remaining == 0 && !answers.resumed {
            askingForRoom = false
            loop.schedule(afterMillis: 100) { [self] in listen() }
        }
    }

    /// Takes connections the first loop accepted for this one: one accept pass of this loop's own.
    func admitHanded(_ fds: [Int32]) {
        guard !stopped else {
            for fd in fds { _ = Glibc.close(fd) }
            return
        }
        acceptPass += 1
        for fd in fds { admit(fd) }
    }

    private func admit(_ fd: Int32) {
        guard let stream = try? TCPStream.accepted(fd: fd, loop: loop, maxQueuedBytes: 8 << 20, readChunk: 16 << 10)
        else { return }
        stats.accepted += 1
        if connections.count >= settings.maxConnections {
            if !displaceOne() {
                stats.rejected += 1
                var response = HTTPResponse.text(503, "too many connections\n")
                response.setHeader("Retry-After", "1")
                finish(stream, with: response.serialized(keepAlive: false))
                return
            }
        }
        let connection = HTTPConnection(stream: stream, server: self)
        connection.acceptPass = acceptPass
        connections[fd] = connection
        stream.onClose = { [unowned self, unowned connection] _ in
            connection.closed()
            place(connection, in: nil)
            connections[fd] = nil
        }
        connection.start()
    }

    /// Closes one connection to make room (the order is in this type's doc comment). Its `onClose` unlinks it and
    /// frees its slot and descriptor. Looks at the 16 longest idle at most; false when none qualifies.
    func displaceOne() -> Bool {
        if let oldest = incomplete.first,
            EventLoop.monotonicMillis() - oldest.requestStart >= settings.incompleteGraceMillis
        {
            stats.evicted += 1
            stats.evictedIncomplete += 1
            oldest.stream.close()
            return true
        }
        var candidate = idle.first
        for _ in 0..<16 {
            guard let victim = candidate, victim.acceptPass < acceptPass else { return false }
            if !victim.stream.hasUnreadInput {
                stats.evicted += 1
                victim.stream.close()
                return true
            }
            candidate = victim.listNext
        }
        return false
    }

    /// Sends `bytes` as the last thing on a stream that is not a connection, then closes it: after it drained,
    /// or after the close grace — whichever comes first. At most `maxConnections` such streams are held; past
    /// that, a stream is closed at once.
    private func finish(_ stream: TCPStream, with bytes: [UInt8]) {
        guard closing.count < settings.maxConnections else {
            stream.close()
            return
        }
        let fd = stream.fd
        closing[fd] = stream
        stream.onClose = { [unowned self] _ in closing[fd] = nil }
        stream.write(bytes)
        stream.closeAfterDraining(graceMillis: settings.closeGraceMillis)
    }

    /// Moves `connection` to the tail of `list` (idle or incomplete), or out of both when nil; nothing when it
    /// is in that list already (it keeps its place: a request whose head is done and body arrives stays where
    /// its head put it).
    func place(_ connection: HTTPConnection, in list: ConnectionList.Kind?) {
        guard list != connection.listed else { return }
        switch connection.listed {
        case .idle: idle.remove(connection)
        case .incomplete: incomplete.remove(connection)
        case nil: break
        }
        connection.listed = list
        switch list {
        case .idle: idle.append(connection)
        case .incomplete: incomplete.append(connection)
        case nil: break
        }
    }

    func close() {
        stopped = true
        if listening, let listener { loop.deregister(listener.fd) }
        listening = false
        listener?.close()
        for connection in Array(connections.values) { connection.stream.close() }
        for stream in Array(closing.values) { stream.close() }
        connections = [:]
        closing = [:]
        idle = ConnectionList()
        incomplete = ConnectionList()
    }
}

/// The answers of the other loops to one `askSiblingsForRoom` (first loop's thread only).
final class RoomAnswers {
    var remaining: Int
    var resumed = false
    init(expected: Int) { remaining = expected }
}

/// The counters and open connections of a server's loops, each loop's published by it under a lock (they change
/// per connection, not per request), read together from any thread.
final class ServerFigures: Sendable {
    private let slots: Mutex<[(stats: HTTPServerStats, open: Int)]>

    init(count: Int) { slots = Mutex(Array(repeating: (HTTPServerStats(), 0), count: max(1, count))) }

    func stats(_ index: Int) -> HTTPServerStats { slots.withLock { $0[index].stats } }
    func setStats(_ index: Int, _ stats: HTTPServerStats) { slots.withLock { $0[index].stats = stats } }
    func setOpen(_ index: Int, _ open: Int) { slots.withLock { $0[index].open = open } }

    /// Every loop's counters summed, with the connections open now.
    var total: HTTPServerStats {
        slots.withLock { slots in
            var total = HTTPServerStats()
            for slot in slots {
                var stats = slot.stats
                stats.open = slot.open
                total.add(stats)
            }
            return total
        }
    }
}

/// An intrusive doubly linked list of connections through `HTTPConnection.listPrevious/listNext`, in the order
/// they were appended: O(1) append, removal and oldest.
struct ConnectionList {
    /// Which of the server's two lists a connection is in.
    enum Kind { case idle, incomplete }

    private(set) var first: HTTPConnection?
    private var last: HTTPConnection?

    mutating func append(_ connection: HTTPConnection) {
        connection.listPrevious = last
        connection.listNext = nil
        if let last { last.listNext = connection } else { first = connection }
        last = connection
    }

    mutating func remove(_ connection: HTTPConnection) {
        let previous = connection.listPrevious
        let next = connection.listNext
        if let previous { previous.listNext = next } else { first = next }
        if let next { next.listPrevious = previous } else { last = previous }
        connection.listPrevious = nil
        connection.listNext = nil
    }
}
