import HTTPFrontEnd
import Testing

/// Malformed and oversized input: every case fails with its own code and the status to answer with.
@Suite struct HTTPRequestParserErrorTests {
    private let small = HTTPLimits(maxRequestLineBytes: 64, maxHeaderBytes: 128, maxHeaderCount: 4, maxBodyBytes: 16)

    @Test(arguments: [
        "garbage\r\n\r\n",
        "GET /\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 extra\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        " GET / HTTP/1.1\r\n\r\n",
    ])
    func garbageRequestLineIs400(text: String) {
        let error = HTTPTestSupport.error(text)
        #expect(error?.code == .malformedRequestLine)
        #expect(error?.status == 400)
    }

    @Test(arguments: [
        "GET / HTTP/1.x\r\n\r\n", "GET / http/1.1\r\n\r\n", "GET / HTTP/11\r\n\r\n", "GET / HTTP\r\n\r\n",
    ])
    func badVersionIs400(text: String) {
        let error = HTTPTestSupport.error(text)
        #expect(error?.code == .malformedVersion)
        #expect(error?.status == 400)
    }

    @Test(arguments: ["GET / HTTP/2.0\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "GET / HTTP/0.9\r\n\r\n"])
    func unsupportedMajorVersionIs505(text: String) {
        let error = HTTPTestSupport.error(text)
        #expect(error?.code == .unsupportedVersion)
        #expect(error?.status == 505)
    }

    @Test(arguments: [
        "GET nopath HTTP/1.1\r\n\r\n", "GET /a%zz HTTP/1.1\r\n\r\n", "GET /a%ff HTTP/1.1\r\n\r\n",
        "GET /a#frag HTTP/1.1\r\n\r\n", "CONNECT host:443 HTTP/1.1\r\n\r\n", "GET /caf\u{e9} HTTP/1.1\r\n\r\n",
    ])
    func invalidTargetIs400(text: String) {
        let error = HTTPTestSupport.error(text)
        #expect(error?.code == .invalidRequestTarget)
        #expect(error?.status == 400)
    }

    @Test(arguments: [
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n", "GET / HTTP/1.1\r\nBad Name: v\r\n\r\n",
        "GET / HTTP/1.1\r\nName : v\r\n\r\n", "GET / HTTP/1.1\r\n: v\r\n\r\n", "GET / HTTP/1.1\r\nA: x\u{1}y\r\n\r\n",
        "GET / HTTP/1.1\r\nA: x\ry\r\n\r\n",
    ])
    func malformedHeaderLineIs400(text: String) {
        let error = HTTPTestSupport.error(text)
        #expect(error?.code == .malformedHeader)
        #expect(error?.status == 400)
    }

    @Test func obsoleteLineFoldingIs400() {
        let error = HTTPTestSupport.error("GET / HTTP/1.1\r\nX-A: one\r\n  two\r\n\r\n")
        #expect(error?.code == .obsoleteLineFolding)
        #expect(error?.status == 400)
    }

    @Test(arguments: [
        "Content-Length: 5\r\nContent-Length: 6", "Content-Length: 5, 6", "Content-Length: abc",
        "Content-Length: -1", "Content-Length: +5", "Content-Length:", "Content-Length: 5,",
    ])
    func invalidOrConflictingContentLengthIs400(header: String) {
        let error = HTTPTestSupport.error("POST / HTTP/1.1\r\n\(header)\r\n\r\nhello!")
        #expect(error?.code == .invalidContentLength)
        #expect(error?.status == 400)
    }

    @Test(arguments: ["Transfer-Encoding: chunked", "transfer-encoding: gzip, chunked\r\nContent-Length: 4"])
    func transferEncodingIs501(header: String) {
        let error = HTTPTestSupport.error("POST / HTTP/1.1\r\n\(header)\r\n\r\n4\r\nbody\r\n0\r\n\r\n")
        #expect(error?.code == .unsupportedTransferEncoding)
        #expect(error?.status == 501)
    }

    @Test func longRequestLineStreamedWithoutLineEndingIs414BeforeItEnds() throws {
        var parser = HTTPRequestParser(limits: small)
        parser.append(Array("GET /".utf8))
        var thrown: HTTPParseError?
        var fed = 5
        while thrown == nil, fed < 10_000 {
            parser.append([UInt8(ascii: "a")])
            fed += 1
            do { _ = try parser.next() } catch { thrown = error }
            #expect(parser.bufferedByteCount <= small.maxRequestLineBytes + 2)
        }
        #expect(thrown?.code == .requestLineTooLong)
        #expect(thrown?.status == 414)
        #expect(fed <= small.maxRequestLineBytes + 2, "failed only after \(fed) bytes")
    }

    @Test func completeRequestLineOverTheLimitIs414() {
        let error = HTTPTestSupport.error("GET /\(String(repeating: "a", count: 80)) HTTP/1.1\r\n\r\n", limits: small)
        #expect(error?.code == .requestLineTooLong)
        #expect(error?.status == 414)
        #expect(
            HTTPTestSupport.error("GET /\(String(repeating: "a", count: 50)) HTTP/1.1\r\n\r\n", limits: small) == nil)
    }

    @Test func tooManyHeadersIs431() {
        let headers = (0..<5).map { "H\($0): v\r\n" }.joined()
        let error = HTTPTestSupport.error("GET / HTTP/1.1\r\n\(headers)\r\n", limits: small)
        #expect(error?.code == .tooManyHeaders)
        #expect(error?.status == 431)
        let four = (0..<4).map { "H\($0): v\r\n" }.joined()
        #expect(HTTPTestSupport.error("GET / HTTP/1.1\r\n\(four)\r\n", limits: small) == nil)
    }

    @Test func tooLargeHeadersAre431WhetherCompleteOrStillStreaming() {
        let value = String(repeating: "x", count: 70)
        let complete = "GET / HTTP/1.1\r\nA: \(value)\r\nB: \(value)\r\n\r\n"
        #expect(HTTPTestSupport.error(complete, limits: small)?.code == .headersTooLarge)
        #expect(HTTPTestSupport.error(complete, limits: small)?.status == 431)
        let streaming = "GET / HTTP/1.1\r\nA: \(String(repeating: "x", count: 200))"
        #expect(HTTPTestSupport.error(streaming, limits: small)?.code == .headersTooLarge)
    }

    @Test func declaredBodyOverTheLimitIs413BeforeTheBodyArrives() {
        let error = HTTPTestSupport.error("POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n", limits: small)
        #expect(error?.code == .bodyTooLarge)
        #expect(error?.status == 413)
        let huge = HTTPTestSupport.error("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n")
        #expect(huge?.code == .bodyTooLarge)
        #expect(HTTPTestSupport.error("POST / HTTP/1.1\r\nContent-Length: 16\r\n\r\n", limits: small) == nil)
    }

    @Test func failedParserKeepsThrowingAndIgnoresInput() throws {
        var parser = HTTPRequestParser()
        parser.append(Array("BAD\r\n".utf8))
        let first = #expect(throws: HTTPParseError.self) { try parser.next() }
        parser.append(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        let second = #expect(throws: HTTPParseError.self) { try parser.next() }
        #expect(first == second)
        #expect(parser.isFailed)
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func errorDescriptionNamesTheProblemTheValueAndTheStatus() {
        let error = HTTPTestSupport.error("POST / HTTP/1.1\r\nContent-Length: 1\u{e9}2\r\n\r\n")
        #expect(error?.description == "invalid Content-Length: \"1\\xc3\\xa92\" (400)")
    }

    /// Bytes that cannot begin a method (a TLS ClientHello starts 0x16 0x03) fail at once, without a line ending:
    /// before, the parser waited for one and the client got 408 after the header timeout.
    @Test(arguments: [[0x16, 0x03, 0x01, 0x02, 0x00], [0x47, 0x00], [0x0D, 0x58], [0x20], [0x80]] as [[UInt8]])
    func bytesThatCannotBeginAMethodFailAtOnce(bytes: [UInt8]) {
        var parser = HTTPRequestParser()
        parser.append(bytes)
        #expect(throws: HTTPParseError.self) { try parser.next() }
        #expect(HTTPTestSupport.parse(bytes).error?.status == 400)
    }

    /// A method prefix, a trailing CR (an empty line's, before its LF) or a request line past its method is not
    /// judged early, however it is trickled; empty lines before a request are still skipped.
    @Test(arguments: ["GE", "GET", "\r", "\r\n\r\nGET", "GET /pa", "PRI * HT"])
    func aValidPrefixWaitsForMore(text: String) {
        let result = HTTPTestSupport.parse(text, chunkSize: 1)
        #expect(result.error == nil && result.requests.isEmpty)
    }

    @Test func aTrickledRequestAfterAnEmptyLineAndABodyIsStillParsed() {
        let text = "\r\nPUT /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n"
        let result = HTTPTestSupport.parse(text, chunkSize: 1)
        #expect(result.error == nil && result.requests.map(\.path) == ["/a", "/b"])
    }
}
