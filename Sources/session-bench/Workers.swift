/// What one cycle of a browser tab sends.
enum CycleShape: String, Sendable {
    /// One page view of an app that embeds the node: `PATCH /session` reads the session and sets one attribute in
    /// one request, answering with the session (what a web app's request does with its session).
    case page
    /// The same through the node's REST contract as two requests: `GET /session`, then `PUT` of the attribute.
    case api
    /// Only the `PUT` (background writers of the lag measurement).
    case write

    /// HTTP requests per cycle.
    var requests: Int { self == .api ? 2 : 1 }
}

/// The web-style request cycle of a browser tab against one node, keep-alive, cookies `SESSIONID` and
/// `SESSIONVERSION` kept like a browser keeps them.
final class WebCycleWorker: LoadWorker {
    let client: HTTPClient
    private var counter = 0
    private let shape: CycleShape

    /// Logs `user` in on the node at `address` (not timed).
    init(address: String, user: String, shape: CycleShape) throws {
        client = HTTPClient(address: address)
        self.shape = shape
        let login = try client.postForm("/login", "user=\(user)")
        guard login.status == 200 else { throw BenchError("login of \(user) answered \(login.status)") }
    }

    func cycle() throws {
        counter += 1
        switch shape {
        case .page:
            let page = try client.postForm("/session", "x=value-\(counter)", method: "PATCH")
            guard page.status == 200 else { throw BenchError("PATCH /session answered \(page.status)") }
        case .api:
            let read = try client.request("GET", "/session")
            guard read.status == 200 else { throw BenchError("GET /session answered \(read.status)") }
            fallthrough
        case .write:
            let write = try client.request("PUT", "/session/attributes/x", body: Array("value-\(counter)".utf8))
            guard write.status == 204 else { throw BenchError("PUT answered \(write.status)") }
        }
    }

    func finish() { client.close() }
}

/// The same cycle the way Spring Session runs it against Redis (`RedisSessionRepository`): the session is a
/// hash; per request HGETALL (load), EXISTS, HSET of the changed attribute with `lastAccessedTime`, PEXPIREAT —
/// four round trips.
final class RedisCycleWorker: LoadWorker {
    private let client: RESPClient
    private let key: [UInt8]
    private var counter = 0
    private static let maxInactiveMillis: Int64 = 1_800_000

    init(port: UInt16, session: String) throws {
        client = try RESPClient(host: "127.0.0.1", port: port)
        key = Array("spring:session:sessions:\(session)".utf8)
        let now = Measure.wallMillis()
        try client.call([
            Array("HSET".utf8), key, Array("creationTime".utf8), Array("\(now)".utf8),
            Array("maxInactiveInterval".utf8), Array("1800".utf8), Array("lastAccessedTime".utf8),
            Array("\(now)".utf8), Array("sessionAttr:user".utf8), Array("user-\(session)".utf8),
        ])
    }

    func cycle() throws {
        guard case .array(let fields?) = try client.call([Array("HGETALL".utf8), key]), !fields.isEmpty else {
            throw BenchError("HGETALL found no session")
        }
        guard case .integer(1) = try client.call([Array("EXISTS".utf8), key]) else {
            throw BenchError("EXISTS: no session")
        }
        counter += 1
        let now = Measure.wallMillis()
        try client.call([
            Array("HSET".utf8), key, Array("sessionAttr:x".utf8), Array("value-\(counter)".utf8),
            Array("lastAccessedTime".utf8), Array("\(now)".utf8),
        ])
        try client.call([Array("PEXPIREAT".utf8), key, Array("\(now + Self.maxInactiveMillis)".utf8)])
    }

    func finish() { client.close() }
}
