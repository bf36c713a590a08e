/// How long an HTTP connection may take over each part of its life, and how many may be open.
///
/// Each deadline bounds what a client can hold without doing work:
/// - `headerMillis`: from the first byte of a request to the end of its head (request line and headers).
///   Counted from that first byte, not renewed by each byte, so a client trickling one byte a second
///   (slowloris) is answered 408 and closed after this long, however it paces itself. Default 10 s.
/// - `bodyMillis`: from the end of the head to the last byte of the body (`Content-Length`). 408 and close
///   when it passes. Default 30 s (1 MiB at a slow 35 KiB/s).
/// - `idleMillis`: a keep-alive connection with no request in progress and nothing partly received is closed
///   silently after this long (no answer: nothing was asked). Default 60 s, as nginx's `keepalive_timeout` 75 s
///   and Tomcat's 60 s.
///
/// No deadline runs while a request is being handled (its own waits are bounded by the node), and the server
/// reads nothing from that connection meanwhile.
public struct HTTPServerSettings: Sendable, Hashable {
    /// Most connections open at once. At the cap, a new connection displaces, in this order:
    /// 1. the connection whose incomplete request (head or body still arriving) began longest ago, if that was
    ///    at least `incompleteGraceMillis` ago — a slow or stalled sender (slowloris) goes before anyone who
    ///    completes requests promptly;
    /// 2. else the connection idle longest: a keep-alive connection between requests (closed as a server may
    ///    close any idle keep-alive connection; clients retry on a new one) or one accepted that has sent
    ///    nothing yet — but not one whose next request already waits unread in the kernel, nor one accepted in
    ///    the same accept pass as the newcomer;
    /// 3. else (every connection is running a request, began one less than the grace ago, or is still sending
    ///    answers) the newcomer is answered `503` and closed.
    /// Pipelined requests read but not yet served (while answers wait beyond `maxPendingOutputBytes`) count as
    /// an incomplete request: a client that does not take its answers goes like a slow sender.
    ///
    /// What an attacker can still do: to keep its own connections from being displaced it must renew all of them
    /// within the grace, i.e. open about `maxConnections / grace` connections per second (1,024/s by default,
    /// the same rate that exhausts any cap); slower, each newcomer displaces its oldest partial request. A
    /// legitimate slow upload (or a head slower than the grace) is displaced like an attacker's under such a
    /// flood. Default 1,024.
    public var maxConnections: Int
    /// How long a request may have been arriving before, at the connection cap, its connection may be displaced
    /// to admit a newcomer, in milliseconds (`maxConnections`). Default 1,000.
    public var incompleteGraceMillis: Int64
    /// Time to receive a request head once its first byte arrived, in milliseconds. Default 10,000.
    public var headerTimeoutMillis: Int64
    /// Time to receive a request body once its head arrived, in milliseconds. Default 30,000.
    public var bodyTimeoutMillis: Int64
    /// Time a keep-alive connection may sit idle between requests, in milliseconds. Default 60,000.
    public var idleTimeoutMillis: Int64
    /// Time a connection being closed (after a final answer, a 408 or the over-limit 503) is given to take its
    /// answer before it is closed anyway, in milliseconds. Default 2,000.
    public var closeGraceMillis: Int64
    /// Bytes of answers waiting to be sent on one connection above which the server reads no further
    /// (pipelined) requests from it until they are taken. Default 1 MiB.
    public var maxPendingOutputBytes: Int

    /// The defaults: 1,024 connections; 10 s header, 30 s body, 60 s idle; 2 s close grace; 1 MiB output.
    public init() {
        maxConnections = 1_024
        incompleteGraceMillis = 1_000
        headerTimeoutMillis = 10_000
        bodyTimeoutMillis = 30_000
        idleTimeoutMillis = 60_000
        closeGraceMillis = 2_000
        maxPendingOutputBytes = 1 << 20
    }
}

/// What an `HTTPServer` did with its connections: counters since it started, and what is open now.
public struct HTTPServerStats: Sendable, Equatable {
    /// Connections open now (including those being closed after a final answer).
    public var open = 0
    /// Connections accepted.
    public var accepted = 0
    /// Connections answered `503` at the cap because none could be displaced.
    public var rejected = 0
    /// Connections closed to admit a new one at the cap (idle or with an incomplete request).
    public var evicted = 0
    /// Of `evicted`, those closed while a request was partly received (older than the grace).
    public var evictedIncomplete = 0
    /// Requests answered `408` because their head did not arrive within the header timeout.
    public var headerTimeouts = 0
    /// Requests answered `408` because their body did not arrive within the body timeout.
    public var bodyTimeouts = 0
    /// Idle connections closed after the idle timeout.
    public var idleTimeouts = 0
    /// `accept` failures (out of descriptors or memory); the listener then pauses briefly.
    public var acceptErrors = 0

    /// All zero.
    public init() {}

    /// Adds the counters of `other` (another loop's connections of the same server).
    mutating func add(_ other: HTTPServerStats) {
        open += other.open
        accepted += other.accepted
        rejected += other.rejected
        evicted += other.evicted
        evictedIncomplete += other.evictedIncomplete
        headerTimeouts += other.headerTimeouts
        bodyTimeouts += other.bodyTimeouts
        idleTimeouts += other.idleTimeouts
        acceptErrors += other.acceptErrors
    }

    /// (name, value) pairs for stats pages, prefixed `http_`.
    public var fields: [(name: String, value: Int)] {
        [
            ("http_connections_open", open), ("http_connections_accepted", accepted),
            ("http_connections_rejected", rejected), ("http_connections_evicted", evicted),
            ("http_connections_evicted_incomplete", evictedIncomplete),
            ("http_header_timeouts", headerTimeouts), ("http_body_timeouts", bodyTimeouts),
            ("http_idle_timeouts", idleTimeouts), ("http_accept_errors", acceptErrors),
        ]
    }
}
