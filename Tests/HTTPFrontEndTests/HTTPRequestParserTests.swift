import Testing

@testable import HTTPFrontEnd

/// Well-formed input: what the parser returns, whatever the chunking.
@Suite struct HTTPRequestParserTests {
    @Test func simpleGetIsParsedIntoItsParts() throws {
        let request = try #require(
            HTTPTestSupport.single(
                "GET /sessions/abc%20d?x=1&y=two+words HTTP/1.1\r\nHost: node1\r\nAccept: */*\r\n\r\n"))
        #expect(request.method == "GET")
        #expect(request.target == "/sessions/abc%20d?x=1&y=two+words")
        #expect(request.path == "/sessions/abc d")
        #expect(request.queryItems.map(\.name) == ["x", "y"])
        #expect(request.queryItems.map(\.value) == ["1", "two words"])
        #expect(request.queryItem("y") == "two words")
        #expect(request.version == .http11)
        #expect(request.headers.map(\.name) == ["Host", "Accept"])
        #expect(request.header("host") == "node1")
        #expect(request.header("ACCEPT") == "*/*")
        #expect(request.header("missing") == nil)
        #expect(request.body.isEmpty)
        #expect(request.keepAlive)
    }

    @Test func postBodyFedOneByteAtATimeArrivesWhole() throws {
        let body = "user=alice&password=secret"
        let text = "POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        var parser = HTTPRequestParser()
        var requests: [HTTPRequest] = []
        for (offset, byte) in text.utf8.enumerated() {
            parser.append([byte])
            if let request = try parser.next() {
                requests.append(request)
                #expect(offset == text.utf8.count - 1, "returned before the last byte arrived")
            }
        }
        #expect(requests.count == 1)
        #expect(requests.first?.bodyText == body)
        #expect(requests.first?.method == "POST")
        #expect(parser.isIdle)
    }

    @Test func pipelinedRequestsInOneBufferComeOutOneByOneInOrder() throws {
        let text =
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
            + "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
            + "DELETE /c HTTP/1.1\r\nConnection: close\r\n\r\n"
            + "GET /partial HTTP/1.1\r\nHo"
        var parser = HTTPRequestParser()
        parser.append(Array(text.utf8))
        #expect(try parser.next()?.path == "/a")
        let post = try parser.next()
        #expect(post?.path == "/b")
        #expect(post?.bodyText == "xyz")
        let delete = try parser.next()
        #expect(delete?.method == "DELETE")
        #expect(delete?.keepAlive == false)
        #expect(try parser.next() == nil)
        #expect(!parser.isIdle)
        parser.append(Array("st: y\r\n\r\n".utf8))
        #expect(try parser.next()?.header("host") == "y")
        #expect(parser.isIdle)
    }

    @Test func everyChunkSizeYieldsTheSameRequests() {
        let text =
            "PUT /s/1 HTTP/1.1\r\nContent-Length: 5\r\nCookie: a=1\r\n\r\nhello"
            + "GET /s/2 HTTP/1.0\r\n\r\n"
        let whole = HTTPTestSupport.parse(text)
        #expect(whole.error == nil && whole.requests.count == 2)
        for chunkSize in 1...text.utf8.count {
            let chunked = HTTPTestSupport.parse(text, chunkSize: chunkSize)
            #expect(chunked.error == nil)
            #expect(chunked.requests.map(\.path) == ["/s/1", "/s/2"], "chunk size \(chunkSize)")
            #expect(chunked.requests.map(\.body) == whole.requests.map(\.body), "chunk size \(chunkSize)")
        }
    }

    @Test func bareLineFeedsAndLeadingEmptyLinesAreAccepted() throws {
        let result = HTTPTestSupport.parse("\r\n\nGET / HTTP/1.1\nHost: x\n\n")
        #expect(result.error == nil)
        #expect(result.requests.first?.header("Host") == "x")
    }

    @Test func headerValuesAreTrimmedAndRepeatedHeadersKeptInOrder() throws {
        let request = try #require(
            HTTPTestSupport.single("GET / HTTP/1.1\r\nX-A:  one \t\r\nx-a: two\r\nEmpty:\r\n\r\n"))
        #expect(request.headers(named: "X-A") == ["one", "two"])
        #expect(request.header("empty") == "")
    }

    @Test func absoluteFormAndAsteriskFormTargetsYieldAPath() throws {
        #expect(HTTPTestSupport.single("GET http://node1:8080/s/x?q=1 HTTP/1.1\r\n\r\n")?.path == "/s/x")
        #expect(HTTPTestSupport.single("GET HTTPS://node1 HTTP/1.1\r\n\r\n")?.path == "/")
        #expect(HTTPTestSupport.single("GET http://node1?q=1 HTTP/1.1\r\n\r\n")?.queryItem("q") == "1")
        #expect(HTTPTestSupport.single("OPTIONS * HTTP/1.1\r\n\r\n")?.path == "*")
    }

    @Test func contentLengthRepeatedWithOneValueIsAccepted() throws {
        let request = try #require(
            HTTPTestSupport.single("POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2, 2\r\n\r\nok"))
        #expect(request.bodyText == "ok")
    }

    @Test func higherMinorVersionIsReadAsHTTP11() throws {
        #expect(HTTPTestSupport.single("GET / HTTP/1.2\r\n\r\n")?.version == .http11)
        #expect(HTTPTestSupport.single("GET / HTTP/1.0\r\n\r\n")?.version == .http10)
    }

    @Test func expectContinueIsSignalledOnceWhileTheBodyIsPending() throws {
        var parser = HTTPRequestParser()
        parser.append(Array("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n".utf8))
        #expect(try parser.next() == nil)
        let first = parser.takeContinueRequest()
        let second = parser.takeContinueRequest()
        #expect(first && !second)
        parser.append(Array("body".utf8))
        #expect(try parser.next()?.bodyText == "body")
        let afterBody = parser.takeContinueRequest()
        #expect(!afterBody)
    }

    @Test func consumedBytesAreCompactedOnALongLivedConnection() throws {
        var parser = HTTPRequestParser()
        let request = Array("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        // A request and a half per read: a partial request always remains, so the buffer never simply empties.
        let stream = Array(repeating: request, count: 3_000).flatMap { $0 }
        let chunk = request.count * 3 / 2
        var received = 0
        for start in stride(from: 0, to: stream.count, by: chunk) {
            parser.append(stream[start..<min(stream.count, start + chunk)])
            while let next = try parser.next() {
                #expect(next.path == "/ping")
                received += 1
            }
            #expect(parser.bufferedByteCount < request.count)
            #expect(parser.storedByteCount <= 2 * request.count + chunk)
        }
        #expect(received == 3_000)
        #expect(parser.isIdle)
    }

    @Test func requestCanBeBuiltWithoutTheParser() throws {
        let request = try HTTPRequest(
            method: "GET", target: "/a%2Fb?k=v", version: .http10, headers: [("Connection", "keep-alive")])
        #expect(request.path == "/a/b")
        #expect(request.queryItem("k") == "v")
        #expect(request.keepAlive)
        #expect(throws: HTTPParseError.self) { try HTTPRequest(method: "GET", target: "no-slash") }
    }
}
