import SessionCluster

#if canImport(Glibc)
    import Glibc
#endif

/// The server's loop-confined side: the listener, the open connections, and the cap policy.
///
/// At `maxConnections`, a new connection displaces the connection idle longest (kept in `idle`, oldest
/// first); only when none is idle is it answered 503 and closed. Either way the newcomer's answer is actually
/// sent: a stream being closed is held here until it has drained (or its grace has passed).
final class ServerState {
    let loop: EventLoop
    let listener: Listener
    let limits: HTTPLimits
    let settings: HTTPServerSettings
    let handler: HTTPServer.Handler
    var connections: [Int32: HTTPConnection] = [:]
    /// Streams given a last answer (the over-limit 503), held until they drained and closed.
    private var closing: [Int32: TCPStream] = [:]
    /// Idle connections, longest idle first (an intrusive list through `HTTPConnection.idlePrevious/Next`).
    private var idleHead: HTTPConnection?
    private var idleTail: HTTPConnection?
    var stats = HTTPServerStats()
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
        loop: EventLoop, listener: Listener, limits: HTTPLimits, settings: HTTPServerSettings,
        handler: @escaping HTTPServer.Handler
    ) {
        self.loop = loop
        self.listener = listener
        self.limits = limits
        self.settings = settings
        self.handler = handler
    }

    /// Open connections, those being closed included (each holds a descriptor).
    var openCount: Int { connections.count + closing.count }

    func begin() {
        listen()
    }

    private func listen() {
        guard !stopped, !listening else { return }
        listening = (try? loop.register(listener.fd, events: EventLoop.readable) { [unowned self] _ in acceptAll() })
            != nil
    }

    private func acceptAll() {
        acceptPass += 1
        for _ in 0..<Self.acceptsPerPass {
            let fd: Int32
            do throws(SystemError) {
                guard let accepted = try listener.accept() else { return }
                fd = accepted
            } catch {
                stats.acceptErrors += 1
                if error.errno == EMFILE || error.errno == ENFILE, displaceIdle() {
                    continue  // a descriptor was freed: take the waiting connection with it
                }
                switch error.errno {
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors or memory: the pending connection stays queued, so the listener would
                    // be ready again at once and the loop would spin. Stop watching it and retry shortly, after
                    // some connections (idle ones time out) have given their descriptors back.
                    loop.deregister(listener.fd)
                    listening = false
                    loop.schedule(afterMillis: 100) { [weak self] in self?.listen() }
                    return
                default:
                    continue  // this one connection failed (ECONNABORTED, EPERM…): take the next
                }
            }
            admit(fd)
        }
    }

    private func admit(_ fd: Int32) {
        guard let stream = try? TCPStream.accepted(fd: fd, loop: loop, maxQueuedBytes: 8 << 20, readChunk: 16 << 10)
        else { return }
        stats.accepted += 1
        if connections.count >= settings.maxConnections {
            if !displaceIdle() {
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
            setIdle(connection, false)
            connections[fd] = nil
        }
        connection.start()
    }

    /// Closes the connection idle longest that has nothing waiting to be read (a request may sit in the kernel
    /// unread: such a connection is about to be busy, not idle) and was not accepted in this very pass. Its
    /// `onClose` unlinks it and frees its slot and descriptor. Looks at the 16 longest idle at most; false when
    /// none qualifies.
    private func displaceIdle() -> Bool {
        var candidate = idleHead
        for _ in 0..<16 {
            guard let victim = candidate, victim.acceptPass < acceptPass else { return false }
            if !victim.stream.hasUnreadInput {
                stats.evicted += 1
                victim.stream.close()
                return true
            }
            candidate = victim.idleNext
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

    /// Moves `connection` into or out of the idle list (idle: no request in progress or partly received).
    func setIdle(_ connection: HTTPConnection, _ idle: Bool) {
        guard idle != connection.isListedIdle else { return }
        connection.isListedIdle = idle
        if idle {
            connection.idlePrevious = idleTail
            connection.idleNext = nil
            if let tail = idleTail { tail.idleNext = connection } else { idleHead = connection }
            idleTail = connection
        } else {
            let previous = connection.idlePrevious
            let next = connection.idleNext
            if let previous { previous.idleNext = next } else { idleHead = next }
            if let next { next.idlePrevious = previous } else { idleTail = previous }
            connection.idlePrevious = nil
            connection.idleNext = nil
        }
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
        idleHead = nil
        idleTail = nil
    }
}
