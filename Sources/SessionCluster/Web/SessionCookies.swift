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
        let suffix = route.flatMap { $0.isEmpty ? nil : "." + $0 } ?? ""
        return [line(name, suffix, id: id, maxAge: nil), line(versionName, version.text, maxAge: nil)]
    }

    /// The `Set-Cookie` header values for an answer that moved the session (`SessionUpdate`).
    public func setCookieHeaders<Value>(for update: SessionUpdate<Value>) -> [String] {
        setCookieHeaders(id: update.id, version: update.version)
    }

    /// The `Set-Cookie` header values that delete both cookies (after a logout).
    public func clearingCookieHeaders() -> [String] {
        [line(name, "", maxAge: 0), line(versionName, "", maxAge: 0)]
    }

    /// `cookie=<id><value>; Path=…; Max-Age=…; HttpOnly; Secure; SameSite=…` (attributes as set), written into
    /// one string of the exact length: no intermediate strings (every answer that moves a session sets two).
    private func line(_ cookie: String, _ value: String, id: SessionID? = nil, maxAge: Int?) -> String {
        let maxAgeText = maxAge.map { "\($0)" } ?? ""
        var count = cookie.utf8.count + 1 + (id == nil ? 0 : 22) + value.utf8.count + 7 + path.utf8.count + 10
        if maxAge != nil { count += 10 + maxAgeText.utf8.count }
        if secure { count += 8 }
        if let sameSite { count += 11 + sameSite.utf8.count }
        return String(unsafeUninitializedCapacity: count) { buffer in
            var at = 0
            func put(_ text: String) {
                for byte in text.utf8 {
                    buffer[at] = byte
                    at += 1
                }
            }
            put(cookie)
            put("=")
            if let id {
                Self.encode(id, into: buffer, at: at)
                at += 22
            }
            put(value)
            put("; Path=")
            put(path)
            if maxAge != nil {
                put("; Max-Age=")
                put(maxAgeText)
            }
            put("; HttpOnly")
            if secure { put("; Secure") }
            if let sameSite {
                put("; SameSite=")
                put(sameSite)
            }
            return at
        }
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// `id.encoded` (22 URL-safe base64 characters) written at `buffer[at...]`.
    private static func encode(_ id: SessionID, into buffer: UnsafeMutableBufferPointer<UInt8>, at start: Int) {
        withUnsafeBytes(of: (id.high.bigEndian, id.low.bigEndian)) { bytes in
            var at = start
            var index = 0
            while index < 16 {
                let b0 = UInt32(bytes[index])
                let b1 = index + 1 < 16 ? UInt32(bytes[index + 1]) : 0
                let b2 = index + 2 < 16 ? UInt32(bytes[index + 2]) : 0
                let triple = b0 << 16 | b1 << 8 | b2
                for position in 0...min(3, 16 - index) {
                    buffer[at] = alphabet[Int((triple >> UInt32(18 - 6 * position)) & 63)]
                    at += 1
                }
                index += 3
            }
        }
    }
}
