import SessionCluster

/// Cookie and answer settings of the front end.
public struct FrontEndSettings: Sendable {
    /// The session cookie; its value is the session id, with `.node` appended when `routeSuffix` is on (a
    /// hint for sticky balancers; lookups ignore it).
    public var cookieName = "SESSIONID"
    /// The cookie carrying the client's version token, so a browser gets read-your-writes on any node.
    public var versionCookieName = "SESSIONVERSION"
    public var routeSuffix = true
    /// Adds `Secure` to the cookies (behind TLS).
    public var secureCookies = false
    /// Seconds a client is told to wait after a 503.
    public var retryAfterSeconds = 1

    public init() {}
}

/// The `session-node` HTTP contract on top of a `ClusterNode` — also the embedding example:
///
/// | request | answer |
/// |---|---|
/// | `POST /login` form `user=NAME` | 200 `{"session", "user", "node"}`, new session id (fixation protection) |
/// | `GET /session` | 200 `{"id", "node", "user", "attributes", "version"}`; 401 without a valid session |
/// | `PUT /session/attributes/NAME` body | 204; 401 without a session |
/// | `DELETE /session/attributes/NAME` | 204; 401 without a session |
/// | `POST /logout` | 204, session invalidated cluster-wide, cookies cleared |
/// | `GET /cluster/members`, `/cluster/stats`, `/metrics`, `/healthz` | membership, counters, Prometheus, `ok` |
///
/// Every answer carries `X-Served-By`; a session that cannot be served up to date is 503 with `Retry-After`.
public struct SessionRoutes: Sendable {
    public let node: ClusterNode
    public let settings: FrontEndSettings

    public init(node: ClusterNode, settings: FrontEndSettings = FrontEndSettings()) {
        self.node = node
        self.settings = settings
    }

    /// Answers one request.
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        var response = await route(request)
        response.setHeader("X-Served-By", node.me.name)
        return response
    }

    private func route(_ request: HTTPRequest) async -> HTTPResponse {
        let path = request.path
        let method = request.method
        switch path {
        case "/login": return method == "POST" ? await login(request) : notAllowed("POST")
        case "/logout": return method == "POST" ? await logout(request) : notAllowed("POST")
        case "/session":
            return method == "GET" || method == "HEAD" ? await readSession(request) : notAllowed("GET, HEAD")
        case "/healthz": return method == "GET" || method == "HEAD" ? .text(200, "ok\n") : notAllowed("GET, HEAD")
        case "/cluster/members": return method == "GET" ? await members() : notAllowed("GET")
        case "/cluster/stats": return method == "GET" ? await stats() : notAllowed("GET")
        case "/metrics": return method == "GET" ? await metrics() : notAllowed("GET")
        default:
            let prefix = "/session/attributes/"
            guard path.hasPrefix(prefix), path.count > prefix.count else { return .text(404, "not found\n") }
            let name = String(path.dropFirst(prefix.count))
            switch method {
            case "PUT": return await setAttribute(request, name: name)
            case "DELETE": return await removeAttribute(request, name: name)
            default: return notAllowed("PUT, DELETE")
            }
        }
    }

    // MARK: Sessions

    private func login(_ request: HTTPRequest) async -> HTTPResponse {
        guard let user = request.formFields()["user"], !user.isEmpty else {
            return .text(400, "form field user is required\n")
        }
        do {
            // A login always ends with a fresh id: an existing session moves to a new id (fixation protection).
            let update: (id: SessionID, version: VersionVector)
            if let (id, token) = credentials(request), let moved = try? await node.changeID(id, token: token) {
                let named = try await node.update(moved.id, token: moved.version) { _, changes in
                    changes.set("user", user)
                }
                update = (named.id, named.version)
            } else {
                let created = try await node.create { $0.set("user", user) }
                update = (created.id, created.version)
            }
            var response = HTTPResponse.json(
                200,
                .object([
                    ("session", .string(update.id.encoded)), ("user", .string(user)), ("node", .string(node.me.name)),
                ]))
            setCookies(&response, id: update.id, version: update.version)
            return response
        } catch {
            return failure(error)
        }
    }

    private func readSession(_ request: HTTPRequest) async -> HTTPResponse {
        guard let (id, token) = credentials(request) else { return unauthorized() }
        do {
            let session = try await node.read(id, token: token)
            var attributes = [(String, JSONText)]()
            for name in session.attributes.keys.sorted() where name != "user" {
                attributes.append((name, .string(session.string(name) ?? "")))
            }
            var response = HTTPResponse.json(
                200,
                .object([
                    ("id", .string(id.encoded)), ("node", .string(node.me.name)),
                    ("user", session.string("user").map { .string($0) } ?? .null), ("attributes", .object(attributes)),
                    ("version", .string(session.version.token)),
                ]))
            if session.lostWrites { response.setHeader("X-Session-Warning", "writes lost with a failed node") }
            setCookies(&response, id: id, version: session.version)
            return response
        } catch {
            return failure(error)
        }
    }

    private func setAttribute(_ request: HTTPRequest, name: String) async -> HTTPResponse {
        guard let (id, token) = credentials(request) else { return unauthorized() }
        let value = request.body
        return await commit(id, token: token) { changes in changes.set(name, value) }
    }

    private func removeAttribute(_ request: HTTPRequest, name: String) async -> HTTPResponse {
        guard let (id, token) = credentials(request) else { return unauthorized() }
        return await commit(id, token: token) { changes in changes.remove(name) }
    }

    private func commit(
        _ id: SessionID, token: VersionVector?, _ change: @escaping @Sendable (inout SessionChanges) -> Void
    )
        async -> HTTPResponse
    {
        do {
            let update = try await node.update(id, token: token) { _, changes in change(&changes) }
            var response = HTTPResponse.empty(status: 204)
            setCookies(&response, id: id, version: update.version)
            return response
        } catch {
            return failure(error)
        }
    }

    private func logout(_ request: HTTPRequest) async -> HTTPResponse {
        guard let (id, token) = credentials(request) else { return unauthorized() }
        do {
            try await node.invalidate(id, token: token)
            var response = HTTPResponse.empty(status: 204)
            clearCookies(&response)
            return response
        } catch {
            return failure(error)
        }
    }

    // MARK: Cluster

    private func members() async -> HTTPResponse {
        var entries: [JSONText] = [
            .object([
                ("name", .string(node.me.name)), ("id", .string(node.me.id.description)), ("state", .string("alive")),
                ("replication", .string(node.me.replication)), ("http", .string(node.me.http)),
            ])
        ]
        for member in await node.members() {
            entries.append(
                .object([
                    ("name", .string(member.info.name)), ("id", .string(member.info.id.description)),
                    ("state", .string(member.status.description)), ("replication", .string(member.info.replication)),
                    ("http", .string(member.info.http)),
                ]))
        }
        return .json(200, .object([("self", .string(node.me.name)), ("members", .array(entries))]))
    }

    private func stats() async -> HTTPResponse {
        let stats = await node.stats()
        return .json(200, .object(MetricsText.fields(stats).map { ($0.name, .integer($0.value)) }))
    }

    private func metrics() async -> HTTPResponse {
        var response = HTTPResponse.text(200, MetricsText.prometheus(await node.stats(), node: node.me.name))
        response.setHeader("Content-Type", "text/plain; version=0.0.4")
        return response
    }

    // MARK: Helpers

    /// The session id (route suffix ignored) and version token the client presented, if any.
    private func credentials(_ request: HTTPRequest) -> (SessionID, VersionVector?)? {
        guard let cookie = request.cookies[settings.cookieName], let id = SessionID(cookieValue: cookie) else {
            return nil
        }
        return (id, request.cookies[settings.versionCookieName].flatMap { VersionVector(token: $0) })
    }

    private func setCookies(_ response: inout HTTPResponse, id: SessionID, version: VersionVector) {
        let value = id.cookieValue(route: settings.routeSuffix ? node.me.name : nil)
        response.setCookie(name: settings.cookieName, value: value, secure: settings.secureCookies)
        response.setCookie(name: settings.versionCookieName, value: version.token, secure: settings.secureCookies)
    }

    private func clearCookies(_ response: inout HTTPResponse) {
        response.clearCookie(name: settings.cookieName)
        response.clearCookie(name: settings.versionCookieName)
    }

    private func unauthorized() -> HTTPResponse { .text(401, "no valid session\n") }

    private func notAllowed(_ allow: String) -> HTTPResponse {
        var response = HTTPResponse.text(405, "method not allowed\n")
        response.setHeader("Allow", allow)
        return response
    }

    private func failure(_ error: any Error) -> HTTPResponse {
        switch error as? SessionError {
        case .notFound?, .lost?:
            var response = unauthorized()
            clearCookies(&response)
            return response
        case .tooLarge?:
            return .text(413, "session size limit exceeded\n")
        case .unavailable?, .notAcknowledged?, .shuttingDown?, .full?:
            var response = HTTPResponse.text(503, "session temporarily unavailable, retry\n")
            response.setHeader("Retry-After", "\(settings.retryAfterSeconds)")
            return response
        case nil:
            return .text(500, "internal error\n")
        }
    }
}
