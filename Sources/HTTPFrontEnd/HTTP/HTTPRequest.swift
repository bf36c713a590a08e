/// One parsed HTTP/1.x request: the request line taken apart, the headers in order, and the whole body.
///
/// Values come from `HTTPRequestParser`, which has already enforced `HTTPLimits` and the syntax; derived
/// fields (`path`, `queryItems`, `keepAlive`, `cookies`) are computed once, when the request is made.
public struct HTTPRequest: Sendable {
    /// The protocol versions this server speaks. `HTTP/1.2`…`HTTP/1.9` are read as 1.1 (RFC 9110 §6.2).
    public enum Version: Hashable, Sendable, CustomStringConvertible {
        /// HTTP/1.0: one request per connection unless `Connection: keep-alive`.
        case http10
        /// HTTP/1.1: persistent connections unless `Connection: close`.
        case http11

        /// `HTTP/1.0` or `HTTP/1.1`, as on the wire.
        public var description: String {
            switch self {
            case .http10: "HTTP/1.0"
            case .http11: "HTTP/1.1"
            }
        }
    }

    /// The method as sent (methods are case-sensitive: `GET`, never `get`). A token; not checked against a list —
    /// unknown methods are the router's 405.
    public let method: String
    /// The request target exactly as sent on the request line (ASCII), e.g. `/sessions/abc?x=1`.
    public let target: String
    /// The percent-decoded path without the query, e.g. `/sessions/abc`; `*` for asterisk-form.
    public let path: String
    /// The query's `name=value` pairs in order, form-decoded (`+` is a space); empty without a query.
    public let queryItems: [(name: String, value: String)]
    /// The protocol version of the request.
    public let version: Version
    /// The header lines in the order received, names as sent; values with surrounding whitespace removed.
    public let headers: [(name: String, value: String)]
    /// The body: exactly `Content-Length` bytes, or empty.
    public let body: [UInt8]
    /// Whether the connection may carry another request after this one: HTTP/1.1 unless `Connection: close`;
    /// HTTP/1.0 only with `Connection: keep-alive` (and no `close`).
    public let keepAlive: Bool
    /// Cookies from every `Cookie` header (RFC 6265 §5.4): `name=value` pairs split on `;`, spaces trimmed,
    /// surrounding double quotes removed; the first occurrence of a name wins, as browsers send the most specific
    /// cookie first. Pieces without `=` or with an empty name are ignored. Parsed on each use: a router that
    /// needs one cookie should call `cookie(_:)`, which builds no dictionary.
    public var cookies: [String: String] { Self.parseCookies(headers: headers) }

    /// Makes a request from parser output; derives `keepAlive`.
    init(
        method: String, target: String, parsedTarget: HTTPRequestTarget, version: Version,
        headers: [(name: String, value: String)], body: [UInt8]
    ) {
        self.method = method
        self.target = target
        self.path = parsedTarget.path
        self.queryItems = parsedTarget.queryItems
        self.version = version
        self.headers = headers
        self.body = body
        self.keepAlive = Self.isKeepAlive(version: version, headers: headers)
    }

    /// Builds a request without the parser — for tests and for embedders that receive requests another way.
    ///
    /// `target` is parsed as on the wire; it MUST be printable ASCII in origin-, absolute- or asterisk-form.
    /// Headers and body are taken as given: the caller MUST keep `Content-Length` consistent if it matters.
    public init(
        method: String, target: String, version: Version = .http11,
        headers: [(name: String, value: String)] = [], body: [UInt8] = []
    ) throws(HTTPParseError) {
        let parsedTarget = try HTTPRequestTarget.parse(ArraySlice(target.utf8))
        self.init(
            method: method, target: target, parsedTarget: parsedTarget, version: version, headers: headers,
            body: body)
    }

    /// The value of the first header named `name` (compared ignoring ASCII case), or nil.
    public func header(_ name: String) -> String? {
        headers.first { HTTPSyntax.equalsIgnoringASCIICase($0.name, name) }?.value
    }

    /// The values of every header named `name` (compared ignoring ASCII case), in the order received.
    public func headers(named name: String) -> [String] {
        headers.filter { HTTPSyntax.equalsIgnoringASCIICase($0.name, name) }.map(\.value)
    }

    /// The value of the first query item named `name` (exact match), or nil.
    public func queryItem(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }
}
