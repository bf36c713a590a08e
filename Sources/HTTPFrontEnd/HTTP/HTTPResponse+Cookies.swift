/// Writing cookies (RFC 6265 §4.1) — the session id and the version token travel this way.
extension HTTPResponse {
    /// The `SameSite` attribute of a cookie.
    public enum SameSite: String, Hashable, Sendable {
        /// Sent only on same-site requests.
        case strict = "Strict"
        /// Sent on same-site requests and top-level navigations: the browsers' default, and ours.
        case lax = "Lax"
        /// Sent on cross-site requests too; browsers require `Secure` with it.
        case none = "None"
    }

    /// Adds a `Set-Cookie` header: `name=value; Path=/; Max-Age=N; HttpOnly; Secure; SameSite=Lax`, attributes
    /// present as asked, in that order.
    ///
    /// `name` MUST be a token and `value` MUST be cookie-octets (no space, `"`, `,`, `;` or `\`) — session ids
    /// and version tokens are URL-safe base64, which is. They are written as given, not escaped.
    ///
    /// - Parameters:
    ///   - maxAge: seconds until the browser drops it; nil for a cookie that lasts the browser session, 0 to
    ///     delete it at once (see `clearCookie(name:path:)`).
    ///   - httpOnly: hide it from scripts. Default true: a session id is a credential.
    ///   - secure: send it over HTTPS only. Default false because the node itself speaks plain HTTP (TLS ends
    ///     at the load balancer); deployments behind HTTPS SHOULD set it.
    ///   - sameSite: the `SameSite` attribute, or nil to omit it. Default `.lax`.
    ///   - path: the `Path` attribute, or nil to omit it. Default `/`: the whole site shares the session.
    public mutating func setCookie(
        name: String, value: String, maxAge: Int? = nil, httpOnly: Bool = true, secure: Bool = false,
        sameSite: SameSite? = .lax, path: String? = "/"
    ) {
        var line = name + "=" + value
        if let path {
            line += "; Path=" + path
        }
        if let maxAge {
            line += "; Max-Age=\(max(0, maxAge))"
        }
        if httpOnly {
            line += "; HttpOnly"
        }
        if secure {
            line += "; Secure"
        }
        if let sameSite {
            line += "; SameSite=" + sameSite.rawValue
        }
        addHeader("Set-Cookie", line)
    }

    /// Adds a `Set-Cookie` header that deletes the cookie: empty value, `Max-Age=0`. `path` MUST match the one
    /// the cookie was set with, or the browser keeps it.
    public mutating func clearCookie(name: String, path: String? = "/") {
        setCookie(name: name, value: "", maxAge: 0, path: path)
    }
}
