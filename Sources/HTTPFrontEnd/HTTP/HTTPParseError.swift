/// Why a request could not be parsed, and the status to answer with before closing the connection.
///
/// After throwing one of these, `HTTPRequestParser` is failed for good: the byte stream has lost its framing,
/// so the front end MUST answer `status` (see `HTTPResponse.error(_:)`) and close the connection.
public struct HTTPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong, one case per answer a client may need to tell apart.
    public enum Code: Hashable, Sendable {
        /// The request line is not `method SP target SP version`, or the method is not a token. → 400
        case malformedRequestLine
        /// The target is not origin-, absolute- or asterisk-form, has a bad percent escape or is not UTF-8. → 400
        case invalidRequestTarget
        /// The version is not `HTTP/<digit>.<digit>`. → 400
        case malformedVersion
        /// A header line is not `token ":" value`, or its value holds control characters. → 400
        case malformedHeader
        /// A header line starts with whitespace: obsolete line folding (RFC 9112 §5.2), refused. → 400
        case obsoleteLineFolding
        /// `Content-Length` is not digits, or several values disagree (a request-smuggling vector). → 400
        case invalidContentLength
        /// `Transfer-Encoding` is present. Chunked request bodies are not supported: every client of the session
        /// API knows its body length up front, and refusing TE closes the smuggling vector of TE + CL. → 501
        case unsupportedTransferEncoding
        /// The request line is longer than `HTTPLimits.maxRequestLineBytes`. → 414
        case requestLineTooLong
        /// The header lines together exceed `HTTPLimits.maxHeaderBytes`. → 431
        case headersTooLarge
        /// There are more than `HTTPLimits.maxHeaderCount` header lines. → 431
        case tooManyHeaders
        /// `Content-Length` declares more than `HTTPLimits.maxBodyBytes`. → 413
        case bodyTooLarge
        /// A well-formed version other than HTTP/1.x, such as `HTTP/2.0` (an h2 prior-knowledge preface). → 505
        case unsupportedVersion
    }

    /// What was wrong.
    public let code: Code
    /// The offending value or limit, escaped for logs (non-printable bytes as `\xHH`, at most 48 bytes shown).
    public let detail: String

    /// Creates an error; `detail` names the offending value or the limit it broke.
    public init(_ code: Code, detail: String) {
        self.code = code
        self.detail = detail
    }

    /// The HTTP status to answer with.
    public var status: Int {
        switch code {
        case .malformedRequestLine, .invalidRequestTarget, .malformedVersion, .malformedHeader,
            .obsoleteLineFolding, .invalidContentLength:
            400
        case .unsupportedTransferEncoding: 501
        case .requestLineTooLong: 414
        case .headersTooLarge, .tooManyHeaders: 431
        case .bodyTooLarge: 413
        case .unsupportedVersion: 505
        }
    }

    /// One line: what failed, the offending value, and the status.
    public var description: String {
        let what =
            switch code {
            case .malformedRequestLine: "malformed request line"
            case .invalidRequestTarget: "invalid request target"
            case .malformedVersion: "malformed HTTP version"
            case .malformedHeader: "malformed header line"
            case .obsoleteLineFolding: "obsolete line folding"
            case .invalidContentLength: "invalid Content-Length"
            case .unsupportedTransferEncoding: "Transfer-Encoding is not supported"
            case .requestLineTooLong: "request line too long"
            case .headersTooLarge: "headers too large"
            case .tooManyHeaders: "too many headers"
            case .bodyTooLarge: "body too large"
            case .unsupportedVersion: "unsupported HTTP version"
            }
        return "\(what): \(detail) (\(status))"
    }

    /// `bytes` quoted for a log line: printable ASCII as is, anything else as `\xHH`, cut after `limit` bytes.
    static func excerpt(_ bytes: some Collection<UInt8>, limit: Int = 48) -> String {
        let hexDigits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for byte in bytes.prefix(limit) {
            if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
            }
        }
        out.append(UInt8(ascii: "\""))
        let text = String(decoding: out, as: UTF8.self)
        return bytes.count > limit ? text + "… (\(bytes.count) bytes)" : text
    }
}
