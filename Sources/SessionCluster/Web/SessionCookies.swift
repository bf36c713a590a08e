import SessionClusterCore

/// A client's session as its request names it: the session id and, when it sent one, the version token of the
/// last answer it got (read-your-writes on whichever node it reaches next).
public struct SessionReference: Sendable, Hashable {
    /// The session.
    public var id: SessionID
    /// The version token of the client's last answer; nil when it sent none (or one that cannot be a token).
    public var token: VersionToken?

    /// A reference to session `id`, at `token`.
    public init(id: SessionID, token: VersionToken?) {
        self.id = id
        self.token = token
    }

    /// Both in one cookie-safe string, `<id>.<token>` (or the id alone): for frameworks that keep the session in
    /// one cookie of their own, such as Vapor's session id. At most 22 + 1 + `VersionToken.maxTextCount`
    /// characters, all URL-safe base64 and `.`.
    public var combined: String {
        guard let token else { return id.encoded }
        return id.encoded + "." + token.text
    }

    /// Parses `combined`; nil when the id is not one `SessionID.random()` gives (22 characters, and never the id of
    /// a named session, `SessionID(name:)`: anyone who knows a name can compute its id, so a cookie must not reach
    /// it). A token that cannot be a token is dropped (the request is then served as one without a token), never
    /// an error.
    public init?(combined text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 22, let id = SessionID(cookieValue: String(decoding: utf8[..<22], as: UTF8.self)),
            !id.isKeyID, utf8.count == 22 || utf8[22] == UInt8(ascii: ".")
        else { return nil }
        self.id = id
        token = utf8.count > 23 ? VersionToken(String(decoding: utf8[23...], as: UTF8.self)) : nil
    }
}

/// The cookies that carry sessions between a browser and the cluster, written once for every framework adapter:
/// from a request's `Cookie` header to the client's `SessionReference`, and from an answer to the `Set-Cookie`
/// values that hand the client its id and new version token.
///
/// Two cookies: `name` holds the session id (with `.<node>` appended when `route` is set, a hint for sticky
/// balancers that lookups ignore), `versionName` the version token. Both `HttpOnly`, `Path=/`, `SameSite=Lax`,
/// `Secure` when `secure`, and without `Max-Age` (browser-session cookies: the cluster expires the session).
public struct SessionCookies: Sendable, Equatable {
    /// The session-id cookie's name (an RFC 6265 token).
    public var name: String
    /// The version-token cookie's name; MUST differ from `name`.
    public var versionName: String
    /// `Secure`: the browser sends the cookies over HTTPS only. Turn it on behind TLS.
    public var secure: Bool
    /// Appended to the id as `.<route>` (Tomcat's jvmRoute) for a sticky load balancer; nil: the id alone.
    public var route: String?
    /// The `Path` attribute.
    public var path = "/"
    /// The `SameSite` attribute (`Lax`, `Strict` or `None`; `None` needs `secure`); nil leaves it out.
    public var sameSite: String? = "Lax"

    /// Cookies named `name` and `versionName`.
    public init(
        name: String = "SESSIONID", versionName: String = ClusterConfiguration.Sessions.versionCookieName,
        secure: Bool = false, route: String? = nil
    ) {
        self.name = name
        self.versionName = versionName
        self.secure = secure
        self.route = route
    }

    /// The cookies of a cluster file's `sessions` section (`cookieName`, `secureCookies`, and `routeSuffix` with
    /// `node` as the route).
    public init(configuration: ClusterConfiguration, node: String? = nil) {
        self.init(
            name: configuration.sessions.cookieName, secure: configuration.sessions.secureCookies,
            route: configuration.sessions.routeSuffix ? node : nil)
    }

    /// The session a request's `Cookie` header values name; nil when they name none (no cookie, or a value that
    /// is not a session id). Ids of named sessions (`SessionID(name:)`) are refused: a name anyone may know is
    /// not a login.
    public func session(cookieHeaders: [String]) -> SessionReference? {
        // One pass over the headers' bytes for both cookies (`SessionCookieReader`).
        var reader = SessionCookieReader(self)
        for header in cookieHeaders where !reader.isComplete { reader.read(header) }
        return reader.session
    }

    /// The session named by cookies a framework already parsed: `cookie(name)` answers a cookie's value.
    public func session(cookie: (String) -> String?) -> SessionReference? {
        guard let value = cookie(name), let id = SessionID(cookieValue: value), !id.isKeyID else { return nil }
        return SessionReference(id: id, token: cookie(versionName).flatMap { VersionToken($0) })
    }

    /// The `Set-Cookie` header values that hand the client session `id` at `version`.
    public func setCookieHeaders(id: SessionID, version: VersionToken) -> [String] {
        [line(name, id.cookieValue(route: route), maxAge: nil), line(versionName, version.text, maxAge: nil)]
    }

    /// The `Set-Cookie` header values for an answer that moved the session (`SessionUpdate`).
    public func setCookieHeaders<Value>(for update: SessionUpdate<Value>) -> [String] {
        setCookieHeaders(id: update.id, version: update.version)
    }

    /// The `Set-Cookie` header values that delete both cookies (after a logout).
    public func clearingCookieHeaders() -> [String] {
        [line(name, "", maxAge: 0), line(versionName, "", maxAge: 0)]
    }

    private func line(_ cookie: String, _ value: String, maxAge: Int?) -> String {
        var line = cookie + "=" + value + "; Path=" + path
        if let maxAge { line += "; Max-Age=\(maxAge)" }
        line += "; HttpOnly"
        if secure { line += "; Secure" }
        if let sameSite { line += "; SameSite=" + sameSite }
        return line
    }
}
