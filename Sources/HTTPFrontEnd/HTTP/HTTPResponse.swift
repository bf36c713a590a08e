/// An HTTP/1.1 response to write back: status, headers and a body held whole.
///
/// The framing headers are the writer's job: `serialized(keepAlive:)` always writes `Content-Length` (except
/// where the RFC forbids a body) and `Connection`, and drops any the caller set, so a handler can never
/// desynchronise the connection.
public struct HTTPResponse: Sendable {
    /// The status code, 100…599.
    public var status: Int
    /// The reason phrase; defaults to the standard one for `status` (`HTTPResponse.reasonPhrase(for:)`).
    public var reason: String
    /// Header lines in the order they will be written. `Content-Length`, `Connection` and `Transfer-Encoding`
    /// here are ignored by `serialized(keepAlive:)`.
    public var headers: [(name: String, value: String)]
    /// The body. Not written for 1xx, 204 and 304, which cannot have one.
    public var body: [UInt8]

    /// The bytes of an interim `100 Continue`, for a client that sent `Expect: 100-continue`
    /// (see `HTTPRequestParser.takeContinueRequest()`).
    public static let continueInterim: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// A response with the standard reason phrase for `status`.
    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.reason = Self.reasonPhrase(for: status)
        self.headers = headers
        self.body = body
    }

    /// A JSON response; `body` MUST already be JSON text (build it with `JSONText`).
    public static func json(_ status: Int, _ body: String) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
    }

    /// A JSON response from a built value.
    public static func json(_ status: Int, _ body: JSONText) -> HTTPResponse {
        json(status, body.text)
    }

    /// A plain-text response, UTF-8.
    public static func text(_ status: Int, _ body: String) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array(body.utf8))
    }

    /// A response without a body.
    public static func empty(status: Int) -> HTTPResponse {
        HTTPResponse(status: status)
    }

    /// The answer to a request that failed to parse: its status and the error's description as text. The
    /// connection MUST be closed after writing it (serialize with `keepAlive: false`).
    public static func error(_ error: HTTPParseError) -> HTTPResponse {
        text(error.status, error.description + "\n")
    }

    /// The value of the first header named `name` (compared ignoring ASCII case), or nil.
    public func header(_ name: String) -> String? {
        headers.first { HTTPSyntax.equalsIgnoringASCIICase($0.name, name) }?.value
    }

    /// Replaces every header named `name` (ignoring ASCII case) with one line, where the first one was.
    public mutating func setHeader(_ name: String, _ value: String) {
        guard let first = headers.firstIndex(where: { HTTPSyntax.equalsIgnoringASCIICase($0.name, name) }) else {
            headers.reserveCapacity(4)
            headers.append((name, value))
            return
        }
        headers[first] = (name, value)
        // Later lines of the name go (none, usually: then nothing is moved or allocated).
        var index = first + 1
        while index < headers.count {
            if HTTPSyntax.equalsIgnoringASCIICase(headers[index].name, name) {
                headers.remove(at: index)
            } else {
                index += 1
            }
        }
    }

    /// Appends a header line, keeping any others of the same name (as `Set-Cookie` needs).
    public mutating func addHeader(_ name: String, _ value: String) {
        headers.reserveCapacity(4)
        headers.append((name, value))
    }

    /// The response as bytes on the wire.
    ///
    /// Writes `HTTP/1.1`, the status line, the headers in order, then `Content-Length` (omitted for 1xx, 204 and
    /// 304, where RFC 9110 §8.6 forbids it) and `Connection: close` when `keepAlive` is false — or
    /// `Connection: keep-alive` when the connection stays open for an HTTP/1.0 client, which would otherwise
    /// close it. CR, LF and NUL are removed from names, values and the reason, so no value can inject a header.
    ///
    /// - Parameters:
    ///   - keepAlive: whether the connection stays open after this response (`HTTPRequest.keepAlive`, or false
    ///     after a parse error or when shutting down).
    ///   - requestVersion: the version of the request answered.
    ///   - includeBody: false for a `HEAD` request: the headers describe the body that a `GET` would get.
    public func serialized(
        keepAlive: Bool, requestVersion: HTTPRequest.Version = .http11, includeBody: Bool = true
    ) -> [UInt8] {
        let allowsBody = !(100...199).contains(status) && status != 204 && status != 304
        let writesBody = allowsBody && includeBody
        // Sized once: the status line, each header and its framing, the framing headers, the body.
        var capacity = 64 + reason.utf8.count + (writesBody ? body.count : 0)
        for (name, value) in headers { capacity += name.utf8.count + value.utf8.count + 4 }
        var out: [UInt8] = []
        out.reserveCapacity(capacity)
        if let line = Self.statusLine(status), reason == Self.reasonPhrase(for: status) {
            out += line
        } else {
            out += Self.httpVersionSpace
            Self.appendDecimal(status, to: &out)
            out.append(HTTPSyntax.space)
            Self.appendSanitized(reason, to: &out)
            out += Self.crlf
        }
        for (name, value) in headers where !Self.isFramingHeader(name) {
            Self.appendSanitized(name, to: &out)
            out += Self.colonSpace
            Self.appendSanitized(value, to: &out)
            out += Self.crlf
        }
        if allowsBody {
            out += Self.contentLengthPrefix
            Self.appendDecimal(body.count, to: &out)
            out += Self.crlf
        }
        if !keepAlive {
            out += Self.connectionClose
        } else if requestVersion == .http10 {
            out += Self.connectionKeepAlive
        }
        out += Self.crlf
        if writesBody {
            out += body
        }
        return out
    }

    // Constant pieces of every response, made once.
    private static let httpVersionSpace = Array("HTTP/1.1 ".utf8)
    private static let crlf: [UInt8] = [HTTPSyntax.carriageReturn, HTTPSyntax.lineFeed]
    private static let colonSpace = Array(": ".utf8)
    private static let contentLengthPrefix = Array("Content-Length: ".utf8)
    private static let connectionClose = Array("Connection: close\r\n".utf8)
    private static let connectionKeepAlive = Array("Connection: keep-alive\r\n".utf8)
    /// `HTTP/1.1 <code> <standard reason>\r\n` for the codes in the reason table (100…599; nil elsewhere).
    private static let statusLines: [[UInt8]?] = (100...599).map { code in
        let reason = reasonPhrase(for: code)
        guard reason != classPhrase(for: code) else { return nil }
        return Array("HTTP/1.1 \(code) \(reason)\r\n".utf8)
    }

    /// The precomputed status line of `status` with its standard reason, if it has one.
    private static func statusLine(_ status: Int) -> [UInt8]? {
        guard status >= 100 && status <= 599 else { return nil }
        return statusLines[status - 100]
    }

    /// `value` in decimal ASCII (a small string: no allocation).
    private static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        out.append(contentsOf: String(value).utf8)
    }

    private static func isFramingHeader(_ name: String) -> Bool {
        HTTPSyntax.equalsIgnoringASCIICase(name, "content-length")
            || HTTPSyntax.equalsIgnoringASCIICase(name, "connection")
            || HTTPSyntax.equalsIgnoringASCIICase(name, "transfer-encoding")
    }

    private static func appendSanitized(_ text: String, to out: inout [UInt8]) {
        // Almost always clean: checked and copied whole.
        let copied = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard !bytes.contains(where: { $0 == HTTPSyntax.carriageReturn || $0 == HTTPSyntax.lineFeed || $0 == 0 })
            else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        guard copied != true else { return }
        for byte in text.utf8 where byte != HTTPSyntax.carriageReturn && byte != HTTPSyntax.lineFeed && byte != 0 {
            out.append(byte)
        }
    }
}
