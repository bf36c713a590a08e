import SessionCluster

/// Cookie and answer settings of the front end.
public struct FrontEndSettings: Sendable {
    /// The session-id and version-token cookies (names, `Secure`), as every framework adapter uses them.
    public var cookies = SessionCookies()
    /// Appends `.<node name>` to the session id in its cookie (a hint for sticky balancers; lookups ignore it),
    /// unless `cookies.route` names a route already.
    public var routeSuffix = true
    /// Seconds a client is told to wait after a 503.
    public var retryAfterSeconds = 1

    /// The defaults: `SESSIONID` / `SESSIONVERSION` cookies, route suffix on, `Retry-After: 1`.
    public init() {}
}

/// The `session-node` HTTP contract on top of a `ClusterNode` — also the embedding example:
///
/// | request | answer |
/// |---|---|
/// | `POST /login` form `user=NAME` | 200 `{"session", "user", "node"}`, new session id (fixation protection) |
/// | `GET /session` | 200 `{"id", "node", "user", "attributes", "version"}`; 401 without a valid session |
/// | `PATCH /session` form `NAME=VALUE&…` | 200, the session as `GET` shows it after the change (one request that reads and writes, like a web page's) |
/// | `PUT /session/attributes/NAME` body | 204; 401 without a session |
/// | `DELETE /session/attributes/NAME` | 204; 401 without a session |
/// | `POST /logout` | 204, session invalidated cluster-wide, cookies cleared |
/// | `GET /cluster/members`, `/cluster/stats`, `/metrics`, `/healthz` | membership, counters, Prometheus, `ok` |
///
/// `/healthz` answers 503 with the reason while `ClusterNode.notServingReason` gives one.
///
/// Every answer carries `X-Served-By`; a session that cannot be served up to date is 503 with `Retry-After`.
///
/// It runs on the node's event loop (`HTTPServer.start(…, on: node.eventLoop, handler: routes.handle)`): a
/// request for a session held here is answered within one loop turn, with no thread hop.
public struct SessionRoutes: Sendable {
    /// Called exactly once with the answer, on the node's loop.
    public typealias Respond = (HTTPResponse) -> Void

    /// The node the routes serve.
    public let node: ClusterNode
    /// Cookies and answers, as given.
    public let settings: FrontEndSettings
    /// The server these routes answer for, when it runs on the node's loop: its connection figures
    /// (`HTTPServerStats`) then join `/cluster/stats` and `/metrics`.
    public let server = HTTPServerReference()
    /// The cookies, with this node's route when `routeSuffix` is on.
    private let cookies: SessionCookies

    /// The routes of `node`; `settings.routeSuffix` appends the node's name to session-id cookies.
    public init(node: ClusterNode, settings: FrontEndSettings = FrontEndSettings()) {
        self.node = node
        self.settings = settings
        var cookies = settings.cookies
        if settings.routeSuffix && cookies.route == nil { cookies.route = node.me.name }
        self.cookies = cookies
    }

    /// Answers one request on the node's loop: `respond` is called exactly once, on that loop.
    public func handle(_ request: HTTPRequest, respond: @escaping Respond) {
        let me = node.me.name
        route(request) { response in
            var response = response
            response.setHeader("X-Served-By", me)
            respond(response)
        }
    }

    /// Answers one request from any task (hops to the node's loop and back).
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let loop = node.eventLoop
        return await withCheckedContinuation { continuation in
            loop.execute { handle(request) { continuation.resume(returning: $0) } }
        }
    }

    /// The paths routed, as bytes: matched against the request's path bytes, with no `String` made.
    private enum Paths {
        static let login = Array("/login".utf8)
        static let logout = Array("/logout".utf8)
        static let session = Array("/session".utf8)
        static let healthz = Array("/healthz".utf8)
        static let members = Array("/cluster/members".utf8)
        static let stats = Array("/cluster/stats".utf8)
        static let metrics = Array("/metrics".utf8)
        static let attributes = Array("/session/attributes/".utf8)
    }

    private func route(_ request: HTTPRequest, _ respond: @escaping Respond) {
        let path = request.pathBytes
        let method = request.methodKind
        if path.elementsEqual(Paths.session) {
            switch method {
            case .get, .head: readSession(request, respond)
            case .patch: patchSession(request, respond)
            default: respond(notAllowed("GET, HEAD, PATCH"))
            }
        } else if path.count > Paths.attributes.count, path.starts(with: Paths.attributes) {
            let name = String(decoding: path.dropFirst(Paths.attributes.count), as: UTF8.self)
            // The login sets `user`: a client must not make itself someone else.
            if name == "user" && (method == .put || method == .delete) { return respond(readOnlyUser) }
            switch method {
            case .put:
                let value = request.body
                commit(request, respond) { changes in changes.set(name, value) }
            case .delete: commit(request, respond) { changes in changes.remove(name) }
            default: respond(notAllowed("PUT, DELETE"))
            }
        } else if path.elementsEqual(Paths.login) {
            method == .post ? login(request, respond) : respond(notAllowed("POST"))
        } else if path.elementsEqual(Paths.logout) {
            method == .post ? logout(request, respond) : respond(notAllowed("POST"))
        } else if path.elementsEqual(Paths.healthz) {
            guard method == .get || method == .head else { return respond(notAllowed("GET, HEAD")) }
            respond(node.notServingReason.map { .text(503, "not serving: \($0)\n") } ?? .text(200, "ok\n"))
        } else if path.elementsEqual(Paths.members) {
            method == .get ? members(respond) : respond(notAllowed("GET"))
        } else if path.elementsEqual(Paths.stats) {
            method == .get ? stats(respond) : respond(notAllowed("GET"))
        } else if path.elementsEqual(Paths.metrics) {
            method == .get ? metrics(respond) : respond(notAllowed("GET"))
        } else {
            respond(.text(404, "not found\n"))
        }
    }

    // MARK: Sessions

    private func login(_ request: HTTPRequest, _ respond: @escaping Respond) {
        guard let user = request.formFields()["user"], !user.isEmpty else {
            return respond(.text(400, "form field user is required\n"))
        }
        let answer: (Result<SessionUpdate<Void>, SessionError>) -> Void = { result in
            switch result {
            case .success(let update):
                var response = HTTPResponse.json(
                    200,
                    .object([
                        ("session", .string(update.id.encoded)), ("user", .string(user)),
                        ("node", .string(node.me.name)),
                    ]))
                setCookies(&response, id: update.id, version: update.version)
                respond(response)
            case .failure(let error): respond(failure(error))
            }
        }
        var initial = SessionChanges()
        initial.set("user", user)
        let create = { [initial] in node.create(initial, then: answer) }
        // A login always ends with a fresh id: an existing session moves to a new id (fixation protection).
        guard let (id, token) = credentials(request) else { return create() }
        node.changeID(id, token: token) { moved in
            guard case .success(let moved) = moved else { return create() }
            node.update(moved.id, token: moved.version, { _, changes in changes.set("user", user) }, then: answer)
        }
    }

    private func readSession(_ request: HTTPRequest, _ respond: @escaping Respond) {
        guard let (id, token) = credentials(request) else { return respond(unauthorized()) }
        node.read(id, token: token) { result in
            switch result {
            case .success(let session):
                respond(
                    sessionAnswer(
                        id: id, attributes: session.attributes, version: session.version,
                        lostWrites: session.lostWrites))
            case .failure(let error): respond(failure(error))
            }
        }
    }

    /// Sets the form's fields and answers with the session as it now is: read and write in one request.
    private func patchSession(_ request: HTTPRequest, _ respond: @escaping Respond) {
        guard let (id, token) = credentials(request) else { return respond(unauthorized()) }
        let fields = request.formFields()
        if fields.keys.contains("") { return respond(.text(400, "an attribute name may not be empty\n")) }
        if fields.keys.contains("user") { return respond(readOnlyUser) }
        node.update(
            id, token: token,
            { session, changes -> (attributes: [String: [UInt8]], lostWrites: Bool) in
                var attributes = session.attributes
                for (name, value) in fields {
                    let bytes = Array(value.utf8)
                    changes.set(name, bytes)
                    attributes[name] = bytes
                }
                return (attributes, session.lostWrites)
            },
            then: { result in
                switch result {
                case .success(let update):
                    respond(
                        sessionAnswer(
                            id: id, attributes: update.value.attributes, version: update.version,
                            lostWrites: update.value.lostWrites))
                case .failure(let error): respond(failure(error))
                }
            })
    }

    private func commit(
        _ request: HTTPRequest, _ respond: @escaping Respond, _ change: @escaping (inout SessionChanges) -> Void
    ) {
        guard let (id, token) = credentials(request) else { return respond(unauthorized()) }
        node.write(
            id, token: token, { changes in change(&changes) },
            then: { result in
                switch result {
                case .success(let update):
                    var response = HTTPResponse.empty(status: 204)
                    setCookies(&response, id: id, version: update.version)
                    respond(response)
                case .failure(let error): respond(failure(error))
                }
            })
    }

    private func logout(_ request: HTTPRequest, _ respond: @escaping Respond) {
        guard let (id, token) = credentials(request) else { return respond(unauthorized()) }
        node.invalidate(id, token: token) { result in
            switch result {
            case .success:
                var response = HTTPResponse.empty(status: 204)
                clearCookies(&response)
                respond(response)
            case .failure(let error): respond(failure(error, clearingOn401: true))
            }
        }
    }

    /// The answer to a request that would change `user`, which only a login sets.
    private var readOnlyUser: HTTPResponse { .text(403, "the user attribute is set by POST /login only\n") }

    /// The session as `GET /session` shows it.
    private func sessionAnswer(
        id: SessionID, attributes: [String: [UInt8]], version: VersionToken, lostWrites: Bool
    ) -> HTTPResponse {
        var shown = [(String, JSONText)]()
        for name in attributes.keys.sorted() where name != "user" {
            shown.append((name, .string(String(decoding: attributes[name]!, as: UTF8.self))))
        }
        let user = attributes["user"].map { JSONText.string(String(decoding: $0, as: UTF8.self)) } ?? .null
        var response = HTTPResponse.json(
            200,
            .object([
                ("id", .string(id.encoded)), ("node", .string(node.me.name)), ("user", user),
                ("attributes", .object(shown)), ("version", .string(version.text)),
            ]))
        if lostWrites { response.setHeader("X-Session-Warning", "writes lost with a failed node") }
        setCookies(&response, id: id, version: version)
        return response
    }

    // MARK: Cluster

    private func members(_ respond: @escaping Respond) {
        let me = node.me
        node.members { members in
            var entries: [JSONText] = [
                .object([
                    ("name", .string(me.name)), ("id", .string(me.id.description)), ("state", .string("alive")),
                    ("replication", .string(me.replication)), ("http", .string(me.http)),
                ])
            ]
            for member in members {
                entries.append(
                    .object([
                        ("name", .string(member.info.name)), ("id", .string(member.info.id.description)),
                        ("state", .string(member.status.description)),
                        ("replication", .string(member.info.replication)), ("http", .string(member.info.http)),
                    ]))
            }
            respond(.json(200, .object([("self", .string(me.name)), ("members", .array(entries))])))
        }
    }

    private func stats(_ respond: @escaping Respond) {
        let server = server.value
        node.stats { stats in
            let fields = MetricsText.fields(stats) + (server?.currentStats.fields ?? [])
            respond(.json(200, .object(fields.map { ($0.name, .integer($0.value)) })))
        }
    }

    private func metrics(_ respond: @escaping Respond) {
        let name = node.me.name
        let server = server.value
        node.stats { stats in
            var response = HTTPResponse.text(
                200, MetricsText.prometheus(stats, node: name, server: server?.currentStats))
            response.setHeader("Content-Type", "text/plain; version=0.0.4")
            respond(response)
        }
    }

    // MARK: Helpers

    /// The session id (route suffix ignored) and version token the client presented, if any.
    private func credentials(_ request: HTTPRequest) -> (SessionID, VersionToken?)? {
        // A key's session (the Redis front end's) is never reached by cookie: its id is derived from a name
        // anyone may know, and the Redis endpoint has its own password.
        // Both cookies in one pass over the `Cookie` headers' bytes.
        var reader = SessionCookieReader(cookies)
        request.forEachHeaderValue(named: "cookie") { value in
            reader.read(value)
            return !reader.isComplete
        }
        guard let client = reader.session else { return nil }
        return (client.id, client.token)
    }

    private func setCookies(_ response: inout HTTPResponse, id: SessionID, version: VersionToken) {
        for line in cookies.setCookieHeaders(id: id, version: version) { response.addHeader("Set-Cookie", line) }
    }

    private func clearCookies(_ response: inout HTTPResponse) {
        for line in cookies.clearingCookieHeaders() { response.addHeader("Set-Cookie", line) }
    }

    private func unauthorized() -> HTTPResponse { .text(401, "no valid session\n") }

    private func notAllowed(_ allow: String) -> HTTPResponse {
        var response = HTTPResponse.text(405, "method not allowed\n")
        response.setHeader("Allow", allow)
        return response
    }

    /// The answer to a failed operation. A 401 clears the cookies only on logout: elsewhere the request may come
    /// from another tab still carrying an id that a new login in this browser has replaced, and clearing would
    /// delete the new login's cookies. A dead id left in a browser only costs a 401 until the next login.
    private func failure(_ error: SessionError, clearingOn401: Bool = false) -> HTTPResponse {
        switch error {
        case .notFound, .lost:
            var response = unauthorized()
            if clearingOn401 { clearCookies(&response) }
            return response
        case .tooLarge:
            return .text(413, "session limit exceeded: too many attributes or too many bytes\n")
        case .unavailable, .notAcknowledged, .shuttingDown, .full:
            var response = HTTPResponse.text(503, "session temporarily unavailable, retry\n")
            response.setHeader("Retry-After", "\(settings.retryAfterSeconds)")
            return response
        case .alreadyExists, .invalidAttribute, .aborted:
            // None of these routes creates named sessions, decodes JSON or aborts an update.
            return .text(500, "internal error: \(error)\n")
        }
    }
}
