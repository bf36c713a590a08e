import SessionCluster
import Synchronization

/// A small HTTP/1.1 server on an event loop: keep-alive, pipelining (answered in order, one at a time per
/// connection), bounded request sizes (400 / 413 / 414 / 431 / 501 / 505), per-connection deadlines (408 for a
/// head or body that does not arrive in time, silent close of idle connections), back-pressure (a connection is
/// not read while its request runs) and a bounded number of connections (`HTTPServerSettings`).
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
    private let loops: [EventLoop]
    private let ownsLoop: Bool
    private let states: [LoopConfined<ServerState>]
    private let figures: ServerFigures

    /// Binds `host:port` and starts serving on a loop of its own; each request runs `handler` in a task.
    public static func start(
        host: String, port: UInt16, limits: HTTPLimits = HTTPLimits(), settings: HTTPServerSettings = .init(),
        handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse
    ) throws -> HTTPServer {
        let loop = try EventLoop(name: "http-\(port)")
        let server = try start(
            host: host, port: port, limits: limits, settings: settings, loop: loop, ownsLoop: true
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
        host: String, port: UInt16, limits: HTTPLimits = HTTPLimits(), settings: HTTPServerSettings = .init(),
        on loop: EventLoop, handler: @escaping Handler
    ) throws -> HTTPServer {
        try start(
            host: host, port: port, limits: limits, settings: settings, loops: [loop], ownsLoop: false,
            handler: handler)
    }

    /// Binds `host:port` and serves on every loop of `loops` (already running, e.g. `ClusterNode.eventLoops`):
    /// the first accepts, and the connections are handed to the loops in turn; `handler` is called on the loop
    /// of the request's connection. Each loop holds its share of `settings.maxConnections` (rounded up).
    /// `stop()` leaves the loops running.
    public static func start(
        host: String, port: UInt16, limits: HTTPLimits = HTTPLimits(), settings: HTTPServerSettings = .init(),
        on loops: [EventLoop], handler: @escaping Handler
    ) throws -> HTTPServer {
        precondition(!loops.isEmpty, "HTTPServer needs a loop")
        return try start(
            host: host, port: port, limits: limits, settings: settings, loops: loops, ownsLoop: false,
            handler: handler)
    }

    private static func start(
        host: String, port: UInt16, limits: HTTPLimits, settings: HTTPServerSettings, loop: EventLoop,
        ownsLoop: Bool, handler: @escaping Handler
    ) throws -> HTTPServer {
        try start(
            host: host, port: port, limits: limits, settings: settings, loops: [loop], ownsLoop: ownsLoop,
            handler: handler)
    }

    private static func start(
        host: String, port: UInt16, limits: HTTPLimits, settings: HTTPServerSettings, loops: [EventLoop],
        ownsLoop: Bool, handler: @escaping Handler
    ) throws -> HTTPServer {
        let listener = try Listener(host: host, port: port)
        let figures = ServerFigures(count: loops.count)
        var share = settings
        share.maxConnections = (settings.maxConnections + loops.count - 1) / loops.count
        let states = loops.enumerated().map { index, loop in
            ServerState(
                loop: loop, listener: index == 0 ? listener : nil, limits: limits,
                settings: loops.count == 1 ? settings : share, handler: handler, index: index, shared: figures)
        }
        if loops.count > 1 { states[0].siblings = states.map { LoopConfined(value: $0) } }
        let server = HTTPServer(
            address: listener.address, loops: loops, ownsLoop: ownsLoop, states: states, figures: figures)
        for (loop, state) in zip(loops, server.states) { loop.execute { state.value.begin() } }
        return server
    }

    private init(
        address: String, loops: [EventLoop], ownsLoop: Bool, states: [ServerState], figures: ServerFigures
    ) {
        self.address = address
        self.loops = loops
        self.ownsLoop = ownsLoop
        self.states = states.map { LoopConfined(value: $0) }
        self.figures = figures
    }

    /// The server's counters and open connections (every loop's), from any thread.
    public var currentStats: HTTPServerStats { figures.total }

    /// The server's counters and open connections, from any task.
    public func stats() async -> HTTPServerStats { figures.total }

    /// Stops accepting and closes every connection; stops the loop when it is the server's own.
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
        if ownsLoop { for loop in loops { await loop.stop() } }
    }
}

/// A late-bound `HTTPServer`, for handlers created before the server they run in (`SessionRoutes` shows the
/// server's figures in `/cluster/stats` and `/metrics`).
public final class HTTPServerReference: Sendable {
    private let server = Mutex<HTTPServer?>(nil)

    /// Not yet bound to a server.
    public init() {}

    /// The server, once set.
    public var value: HTTPServer? {
        get { server.withLock { $0 } }
        set { server.withLock { $0 = newValue } }
    }
}
