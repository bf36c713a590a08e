/// One parsed HTTP/1.x request: the request line taken apart, the headers in order, and the whole body.
///
/// Values come from `HTTPRequestParser`, which has already enforced `HTTPLimits` and the syntax. The request
/// keeps its head as bytes with the parts located in them: `method`, `target`, `path`, `queryItems` and
/// `headers` are made as `String`s when read; `methodKind`, `keepAlive` and `body` are stored.
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

    /// The methods the router tells apart without text; anything else is `.other` (its text is in `method`).
    public enum Method: Hashable, Sendable {
        case get, head, post, put, delete, patch, options
        /// Any other token (`TRACE`, `CONNECT`, an extension method, or a known one in another case).
        case other

        /// The method of a request line's method bytes (case-sensitive, as methods are).
        init(_ bytes: ArraySlice<UInt8>) {
            var word: UInt64 = 0
            guard bytes.count <= 7 else {
                self = .other
                return
            }
            for byte in bytes { word = word << 8 | UInt64(byte) }
            switch (bytes.count, word) {
            case (3, 0x47_45_54): self = .get
            case (4, 0x48_45_41_44): self = .head
            case (4, 0x50_4F_53_54): self = .post
            case (3, 0x50_55_54): self = .put
            case (6, 0x44_45_4C_45_54_45): self = .delete
            case (5, 0x50_41_54_43_48): self = .patch
            case (7, 0x4F_50_54_49_4F_4E_53): self = .options
            default: self = .other
            }
        }
    }

    /// The request line and the headers' names and values, back to back; the ranges below point into it.
    private let head: [UInt8]
    private let methodRange: Range<Int>
    private let targetRange: Range<Int>
    private let parsedTarget: HTTPRequestTarget
    private let fields: [HTTPField]

    /// The method, for routing without comparing text: `.other` for any method not in `Method`.
    public let methodKind: Method
    /// The method as sent (methods are case-sensitive: `GET`, never `get`). A token; not checked against a list —
    /// unknown methods are the router's 405.
    public var method: String { String(decoding: head[methodRange], as: UTF8.self) }
    /// The request target exactly as sent on the request line (ASCII), e.g. `/sessions/abc?x=1`.
    public var target: String { String(decoding: head[targetRange], as: UTF8.self) }
    /// The percent-decoded path without the query, e.g. `/sessions/abc`; `*` for asterisk-form.
    public var path: String { parsedTarget.pathString(in: head) }
    /// The query's `name=value` pairs in order, form-decoded (`+` is a space); empty without a query.
    public var queryItems: [(name: String, value: String)] { parsedTarget.queryItems(in: head) }
    /// The protocol version of the request.
    public let version: Version
    /// The header lines in the order received, names as sent; values with surrounding whitespace removed.
    /// Made on each use from the request's bytes: `header(_:)` finds one without making the others.
    public var headers: [(name: String, value: String)] {
        fields.map {
            (String(decoding: head[$0.name], as: UTF8.self), String(decoding: head[$0.value], as: UTF8.self))
        }
    }
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

    /// Makes a request from a parsed head; derives `keepAlive`.
    init(head: HTTPRequestHead, body: [UInt8]) {
        self.head = head.bytes
        self.methodKind = head.method
        self.methodRange = head.methodRange
        self.targetRange = head.targetRange
        self.parsedTarget = head.parsedTarget
        self.fields = head.fields
        self.version = head.version
        self.body = body
        self.keepAlive = Self.isKeepAlive(version: head.version, fields: head.fields, in: head.bytes)
    }

    /// Builds a request without the parser — for tests and for embedders that receive requests another way.
    ///
    /// `target` is parsed as on the wire; it MUST be printable ASCII in origin-, absolute- or asterisk-form.
    /// Headers and body are taken as given: the caller MUST keep `Content-Length` consistent if it matters.
    public init(
        method: String, target: String, version: Version = .http11,
        headers: [(name: String, value: String)] = [], body: [UInt8] = []
    ) throws(HTTPParseError) {
        let targetBytes = Array(target.utf8)
        let parsedTarget = try HTTPRequestTarget.locate(targetBytes[...])
        self.init(
            head: HTTPRequestHead(
                method: method, target: target, parsedTarget: parsedTarget, version: version, headers: headers),
            body: body)
    }

    /// The decoded path's bytes, for routing: the request's own bytes unless the path has `%` escapes.
    var pathBytes: ArraySlice<UInt8> { parsedTarget.pathBytes(in: head) }

    /// Calls `body` with the value bytes of each header named `lowercased` (given in lower case; compared
    /// ignoring ASCII case), in order, until it returns false.
    func forEachHeaderValue(named lowercased: StaticString, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) {
        head.withUnsafeBufferPointer { all in
            for field in fields where field.nameIs(lowercased, in: head) {
                let value = UnsafeBufferPointer(rebasing: all[field.value])
                if !body(value) { return }
            }
        }
    }

    /// The value of the first header named `name` (compared ignoring ASCII case), or nil.
    public func header(_ name: String) -> String? {
        guard let field = fields.first(where: { HTTPSyntax.equalsIgnoringASCIICase(head[$0.name], name.utf8) }) else {
            return nil
        }
        return String(decoding: head[field.value], as: UTF8.self)
    }

    /// The values of every header named `name` (compared ignoring ASCII case), in the order received.
    public func headers(named name: String) -> [String] {
        fields.filter { HTTPSyntax.equalsIgnoringASCIICase(head[$0.name], name.utf8) }.map {
            String(decoding: head[$0.value], as: UTF8.self)
        }
    }

    /// The value of the first query item named `name` (exact match), or nil.
    public func queryItem(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }
}
