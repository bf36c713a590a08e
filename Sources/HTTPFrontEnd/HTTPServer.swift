import SessionCluster

/// A small HTTP/1.1 server on an event loop: keep-alive, pipelining (answered in order, one at a time per
/// connection), bounded request sizes (400 / 413 / 414 / 431 / 501 / 505) and a bounded number of connections.
///
/// Two ways to run it: on a loop of its own with an async handler (each request runs in a task), or on an
/// existing loop — a `ClusterNode`'s — with a callback handler called on that loop, which answers requests for
/// sessions held here without a single thread hop (`session-node` does this).
public final class HTTPServer: Sendable {
    /// Answers one request on the server's loop by calling the second argument exactly once, on that loop
    /// (at once or later).
    public typealias Handler = (HTTPRequest, @escaping (HTTPResponse) -> Void) -> Void

    /// The bound address (`host:port`; the real port when 0 was asked for).
    public let address: String
    private let loop: EventLoop
    private let ownsLoop: Bool
    private let state: LoopConfined<ServerState>

    /// Binds `host:port` and starts serving on a loop of its own; each request runs `handler` in a task.
    public static func start(
        host: String, port: UInt16, limits: HTTPLimits = HTTPLimits(), maxConnections: Int = 1_024,
        handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse
    ) throws -> HTTPServer {
        let loop = try EventLoop(name: "http-\(port)")
        let server = try start(
            host: host, port: port, limits: limits, maxConnections: maxConnections, loop: loop, ownsLoop: true
        ) { request, respond in
            let reply = LoopConfined(value: respond)
            Task {
                let response = await handler(request)
                loop.execute { reply.value(response) }
            }
        }
        loop.start()
        return server
    }

    /// Binds `host:port` and serves on `loop` (already running, e.g. `ClusterNode.eventLoop`); `handler` is
    /// called on that loop. `stop()` leaves the loop running.
    public static func start(
        host: String, port: UInt16, limits: HTTPLimits = HTTPLimits(), maxConnections: Int = 1_024,
        on loop: EventLoop, handler: @escaping Handler
    ) throws -> HTTPServer {
        try start(
            host: host, port: port, limits: limits, maxConnections: maxConnections, loop: loop, ownsLoop: false,
            handler: handler)
    }

    private static func start(
        host: String, port: UInt16, limits: HTTPLimits, maxConnections: Int, loop: EventLoop, ownsLoop: Bool,
        handler: @escaping Handler
    ) throws -> HTTPServer {
        let listener = try Listener(host: host, port: port)
        let state = ServerState(
            loop: loop, listener: listener, limits: limits, maxConnections: maxConnections, handler: handler)
        let server = HTTPServer(address: listener.address, loop: loop, ownsLoop: ownsLoop, state: state)
        let confined = server.state
        loop.execute { confined.value.begin() }
        return server
    }

    private init(address: String, loop: EventLoop, ownsLoop: Bool, state: ServerState) {
        self.address = address
        self.loop = loop
        self.ownsLoop = ownsLoop
        self.state = LoopConfined(value: state)
    }

    /// Stops accepting and closes every connection; stops the loop when it is the server's own.
    public func stop() async {
        let confined = state
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute {
                confined.value.close()
                continuation.resume()
            }
        }
        if ownsLoop { await loop.stop() }
    }
}

/// The server's loop-confined side.
final class ServerState {
    let loop: EventLoop
    let listener: Listener
    let limits: HTTPLimits
    let maxConnections: Int
    let handler: HTTPServer.Handler
    var connections: [Int32: HTTPConnection] = [:]

    init(
        loop: EventLoop, listener: Listener, limits: HTTPLimits, maxConnections: Int,
        handler: @escaping HTTPServer.Handler
    ) {
        self.loop = loop
        self.listener = listener
        self.limits = limits
        self.maxConnections = maxConnections
        self.handler = handler
    }

    func begin() {
        try? loop.register(listener.fd, events: EventLoop.readable) { [unowned self] _ in acceptAll() }
    }

    private func acceptAll() {
        while let fd = try? listener.accept() {
            guard let stream = try? TCPStream.accepted(fd: fd, loop: loop, maxQueuedBytes: 8 << 20) else { continue }
            if connections.count >= maxConnections {
                // Full: answer 503 and close rather than leave the client hanging.
                var response = HTTPResponse.text(503, "too many connections\n")
                response.setHeader("Retry-After", "1")
                stream.onDrained = { [unowned stream] in stream.close() }
                stream.write(response.serialized(keepAlive: false))
                continue
            }
            let connection = HTTPConnection(stream: stream, server: self)
            connections[fd] = connection
            stream.onClose = { [unowned self] _ in connections[fd] = nil }
        }
    }

    func close() {
        loop.deregister(listener.fd)
        listener.close()
        for connection in connections.values { connection.stream.close() }
        connections = [:]
    }
}

/// One client connection: parses requests, runs one at a time, writes answers in order.
final class HTTPConnection {
    let stream: TCPStream
    private unowned let server: ServerState
    private var parser: HTTPRequestParser
    private var busy = false
    private var closing = false

    init(stream: TCPStream, server: ServerState) {
        self.stream = stream
        self.server = server
        self.parser = HTTPRequestParser(limits: server.limits)
        stream.onBytes = { [unowned self] bytes in
            parser.append(bytes)
            serveNext()
        }
    }

    /// Whether `serveNext` is running (answers completed inside the handler continue its loop, not recurse).
    private var serving = false

    private func serveNext() {
        guard !serving else { return }
        serving = true
        defer { serving = false }
        while !busy, !closing, stream.state == .open {
            let request: HTTPRequest?
            do throws(HTTPParseError) {
                request = try parser.next()
            } catch {
                respond(.error(error), keepAlive: false, version: .http11)
                return
            }
            if parser.takeContinueRequest() { stream.write(HTTPResponse.continueInterim) }
            guard let request else { return }
            busy = true
            server.handler(request) { [self] response in
                busy = false
                respond(
                    response, keepAlive: request.keepAlive, version: request.version, head: request.method == "HEAD")
                if !serving { serveNext() }
            }
        }
    }

    private func respond(_ response: HTTPResponse, keepAlive: Bool, version: HTTPRequest.Version, head: Bool = false) {
        guard stream.state == .open else { return }
        stream.write(response.serialized(keepAlive: keepAlive, requestVersion: version, includeBody: !head))
        if !keepAlive {
            closing = true
            stream.onDrained = { [unowned stream] in stream.close() }
        }
    }
}
