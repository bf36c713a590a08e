import SessionCluster
import Synchronization

/// A small HTTP/1.1 server on its own event loop: keep-alive, pipelining (answered in order, one at a time per
/// connection), bounded request sizes (400 / 413 / 414 / 431 / 501 / 505) and a bounded number of connections.
///
/// Each request is handed to `handler` in a task; the answer goes back on the loop.
public final class HTTPServer: Sendable {
    /// The bound address (`host:port`; the real port when 0 was asked for).
    public let address: String
    private let loop: EventLoop
    private let state: LoopConfined<ServerState>

    /// Binds `host:port` and starts serving.
    public static func start(
        host: String, port: UInt16, limits: HTTPLimits = HTTPLimits(), maxConnections: Int = 1_024,
        handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse
    ) throws -> HTTPServer {
        let loop = try EventLoop(name: "http-\(port)")
        let listener = try Listener(host: host, port: port)
        let state = ServerState(
            loop: loop, listener: listener, limits: limits, maxConnections: maxConnections, handler: handler)
        let server = HTTPServer(address: listener.address, loop: loop, state: state)
        loop.start()
        let confined = server.state
        loop.execute { confined.value.begin() }
        return server
    }

    private init(address: String, loop: EventLoop, state: ServerState) {
        self.address = address
        self.loop = loop
        self.state = LoopConfined(value: state)
    }

    /// Stops accepting, closes every connection and stops the loop.
    public func stop() async {
        let confined = state
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute {
                confined.value.close()
                continuation.resume()
            }
        }
        await loop.stop()
    }
}

/// The server's loop-confined side.
final class ServerState {
    let loop: EventLoop
    let listener: Listener
    let limits: HTTPLimits
    let maxConnections: Int
    let handler: @Sendable (HTTPRequest) async -> HTTPResponse
    var connections: [Int32: HTTPConnection] = [:]

    init(
        loop: EventLoop, listener: Listener, limits: HTTPLimits, maxConnections: Int,
        handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse
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

    private func serveNext() {
        guard !busy, !closing, stream.state == .open else { return }
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
        let handler = server.handler
        let loop = server.loop
        let connection = LoopConfined(value: self)
        Task {
            let response = await handler(request)
            loop.execute {
                connection.value.busy = false
                connection.value.respond(
                    response, keepAlive: request.keepAlive, version: request.version,
                    head: request.method == "HEAD")
            }
        }
    }

    private func respond(_ response: HTTPResponse, keepAlive: Bool, version: HTTPRequest.Version, head: Bool = false) {
        guard stream.state == .open else { return }
        stream.write(response.serialized(keepAlive: keepAlive, requestVersion: version, includeBody: !head))
        if keepAlive {
            serveNext()
        } else {
            closing = true
            stream.onDrained = { [unowned stream] in stream.close() }
        }
    }
}
