/// An incremental HTTP/1.1 request parser for one connection: bytes in, requests out.
///
/// Feed whatever the socket delivered to `append(_:)`, then call `next()` until it returns nil ("need more
/// bytes"). Several pipelined requests in one read come out one by one, in order. Lines end in CRLF; a bare LF
/// is accepted too (RFC 9112 §2.2). Bodies are framed by `Content-Length` only.
///
/// Limits (`HTTPLimits`) are enforced as bytes arrive: a request line that is already too long fails with 414
/// before its line ending shows up, so the parser never buffers more than about `limits.maxBufferedBytes` plus
/// the last `append`. Each line is parsed and dropped when complete, the search for a line ending resumes where
/// the last one stopped, and consumed bytes are compacted away once they outnumber the rest, so the work per
/// byte is constant.
///
/// After `next()` throws, the parser is failed: it keeps throwing the same error and ignores further input. The
/// caller MUST answer `error.status` and close the connection — the stream's framing is lost.
public struct HTTPRequestParser: Sendable {
    private enum Phase: Sendable {
        /// Waiting for a request line; empty lines before it are skipped (RFC 9112 §2.2).
        case requestLine
        /// The request line is in `head`; reading header lines.
        case headers
        /// The head is complete; waiting for `bodyLength` body bytes.
        case body
    }

    /// The limits this parser enforces.
    public let limits: HTTPLimits

    private var buffer: [UInt8] = []
    /// First byte not yet consumed: the start of the line or body being received.
    private var readIndex = 0
    /// Where the search for the next line feed resumes; bytes in `readIndex..<scanIndex` hold none.
    private var scanIndex = 0
    private var phase = Phase.requestLine
    /// Set in `.headers` and `.body`.
    private var head: HTTPRequestHead?
    /// Bytes of the current head's header lines so far, line endings included.
    private var headerBytes = 0
    private var bodyLength = 0
    private var continueRequested = false
    private var failure: HTTPParseError?
    /// Bytes from `readIndex` of an incomplete request line already checked to be a method prefix (`tchar`s);
    /// nil once its first space arrived. Each byte is checked once, however the line is trickled.
    private var methodChecked: Int? = 0

    /// A parser with the given limits.
    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Bytes received and not yet returned as part of a request (or dropped as a parsed line).
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Bytes held in storage, consumed ones not yet compacted away included (for tests of the compaction).
    var storedByteCount: Int { buffer.count }

    /// Whether no request is partly received: closing the connection now loses nothing the client sent.
    public var isIdle: Bool { failure == nil && phase == .requestLine && readIndex == buffer.count }

    /// Whether a request's head is complete and its body is still arriving.
    public var isReceivingBody: Bool { failure == nil && phase == .body }

    /// Whether `next()` has thrown; the parser then stays failed.
    public var isFailed: Bool { failure != nil }

    /// Adds bytes read from the connection. Ignored once the parser has failed.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// The next complete request, or nil when more bytes are needed.
    ///
    /// Throws when the buffered bytes cannot start a valid request or break a limit; see `HTTPParseError` for
    /// the status of each case.
    public mutating func next() throws(HTTPParseError) -> HTTPRequest? {
        if let failure { throw failure }
        do {
            return try advance()
        } catch {
            failure = error
            buffer = []
            readIndex = 0
            scanIndex = 0
            methodChecked = 0
            head = nil
            throw error
        }
    }

    /// Whether to send `100 Continue` now: true once per request whose head asked for it
    /// (`Expect: 100-continue`, HTTP/1.1) and passed every check, while its body has not fully arrived.
    /// Call after `next()` returned nil; write `HTTPResponse.continueInterim` when it says so.
    public mutating func takeContinueRequest() -> Bool {
        defer { continueRequested = false }
        return continueRequested && failure == nil && phase == .body
    }

    private mutating func advance() throws(HTTPParseError) -> HTTPRequest? {
        while true {
            switch phase {
            case .requestLine:
                guard let line = try nextLine() else { return nil }
                if line.isEmpty { continue }
                head = try HTTPRequestHead(requestLine: line)
                headerBytes = 0
                phase = .headers
            case .headers:
                guard let line = try nextLine() else { return nil }
                if line.isEmpty {
                    bodyLength = try head!.bodyLength(limits: limits)
                    continueRequested = bodyLength > 0 && head!.expectsContinue
                    phase = .body
                } else {
                    guard head!.headerCount < limits.maxHeaderCount else {
                        throw HTTPParseError(.tooManyHeaders, detail: "more than \(limits.maxHeaderCount) lines")
                    }
                    try head!.appendHeaderLine(line)
                }
            case .body:
                guard buffer.count - readIndex >= bodyLength else { return nil }
                let body = Array(buffer[readIndex..<(readIndex + bodyLength)])
                readIndex += bodyLength
                scanIndex = readIndex
                methodChecked = 0
                let request = head!.makeRequest(body: body)
                head = nil
                continueRequested = false
                phase = .requestLine
                return request
            }
        }
    }

    /// The next complete line without its ending, consumed; nil when no line feed has arrived yet. Enforces
    /// the line limits of the current phase on complete and incomplete lines alike.
    private mutating func nextLine() throws(HTTPParseError) -> ArraySlice<UInt8>? {
        guard let lineFeed = buffer[scanIndex...].firstIndex(of: HTTPSyntax.lineFeed) else {
            scanIndex = buffer.count
            try checkIncompleteLine(byteCount: buffer.count - readIndex)
            return nil
        }
        var end = lineFeed
        if end > readIndex, buffer[end - 1] == HTTPSyntax.carriageReturn { end -= 1 }
        if phase == .requestLine, end > readIndex { try checkMethod(lineBytes: end - readIndex, complete: true) }
        let line = buffer[readIndex..<end]
        let lineBytes = lineFeed + 1 - readIndex
        readIndex = lineFeed + 1
        scanIndex = readIndex
        methodChecked = 0
        if phase == .requestLine, line.count > limits.maxRequestLineBytes {
            throw HTTPParseError(
                .requestLineTooLong, detail: "\(line.count) bytes > limit \(limits.maxRequestLineBytes)")
        }
        if phase == .headers, !line.isEmpty {
            headerBytes += lineBytes
            if headerBytes > limits.maxHeaderBytes {
                throw HTTPParseError(.headersTooLarge, detail: "\(headerBytes) bytes > limit \(limits.maxHeaderBytes)")
            }
        }
        return line
    }

    /// Fails as soon as a line without its ending is certain to break its limit once complete (one byte of
    /// slack: the last byte may be the CR of the line ending), or, for a request line, at the first byte that
    /// cannot belong to a method: a TLS ClientHello (0x16) or other non-HTTP bytes get 400 at once rather than
    /// after the header timeout.
    private mutating func checkIncompleteLine(byteCount: Int) throws(HTTPParseError) {
        if phase == .requestLine { try checkMethod(lineBytes: byteCount, complete: false) }
        switch phase {
        case .requestLine where byteCount > limits.maxRequestLineBytes + 1:
            throw HTTPParseError(
                .requestLineTooLong, detail: "over \(limits.maxRequestLineBytes) bytes without a line ending")
        case .headers where headerBytes + byteCount > limits.maxHeaderBytes + 1:
            throw HTTPParseError(
                .headersTooLarge, detail: "over \(limits.maxHeaderBytes) bytes without the end of the head")
        default:
            return
        }
    }

    /// Fails at the first byte of the request line starting at `readIndex` that cannot belong to its method (a
    /// `tchar` run ended by a space). Bytes already checked are skipped. Only the first `maxRequestLineBytes + 2`
    /// bytes are looked at — the point where an incomplete line fails with 414 — so the outcome (400 or 414)
    /// does not depend on how the bytes were split into reads.
    private mutating func checkMethod(lineBytes: Int, complete: Bool) throws(HTTPParseError) {
        guard var checked = methodChecked else { return }
        let end = min(lineBytes, limits.maxRequestLineBytes + 2)
        while checked < end {
            let byte = buffer[readIndex + checked]
            if byte == HTTPSyntax.space && checked > 0 {
                methodChecked = nil
                return
            }
            if !HTTPSyntax.isTokenByte(byte) {
                // A CR last in an incomplete line may be its ending's (or an empty line's): decided when the LF
                // comes.
                if byte == HTTPSyntax.carriageReturn && !complete && checked == lineBytes - 1 { return }
                throw HTTPParseError(
                    .malformedRequestLine,
                    detail: "cannot begin a request: " + HTTPParseError.excerpt(buffer[readIndex...].prefix(16)))
            }
            checked += 1
            methodChecked = checked
        }
    }

    /// Drops consumed bytes once they are at least half the buffer, so each byte is moved at most once on
    /// average and a long-lived connection does not grow its buffer.
    private mutating func compact() {
        guard readIndex > 0 else { return }
        if readIndex == buffer.count {
            if buffer.capacity > 64 * 1024 {
                buffer = []
            } else {
                buffer.removeAll(keepingCapacity: true)
            }
        } else if readIndex >= buffer.count - readIndex {
            buffer.removeSubrange(0..<readIndex)
        } else {
            return
        }
        scanIndex -= readIndex
        readIndex = 0
    }
}
