import HTTPFrontEnd
import Testing

/// Responses on the wire, byte for byte.
@Suite struct HTTPResponseTests {
    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func jsonResponseWritesContentTypeAndLength() {
        let bytes = HTTPResponse.json(200, "{\"ok\":true}").serialized(keepAlive: true)
        #expect(
            text(bytes)
                == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
    }

    @Test func closingResponseSaysConnectionClose() {
        let bytes = HTTPResponse.text(404, "no such session").serialized(keepAlive: false)
        #expect(
            text(bytes)
                == "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 15\r\n"
                + "Connection: close\r\n\r\nno such session")
    }

    @Test func keptAliveHTTP10ConnectionIsAnnounced() {
        let bytes = HTTPResponse.empty(status: 401).serialized(keepAlive: true, requestVersion: .http10)
        #expect(text(bytes) == "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test func setCookieWritesDefaultAttributesInOrder() {
        var response = HTTPResponse.empty(status: 200)
        response.setCookie(name: "SID", value: "abc.node1")
        response.setCookie(name: "VT", value: "v1", maxAge: 1800, secure: true, sameSite: .strict, path: "/app")
        response.setCookie(name: "raw", value: "x", httpOnly: false, sameSite: nil, path: nil)
        #expect(
            text(response.serialized(keepAlive: true))
                == "HTTP/1.1 200 OK\r\n"
                + "Set-Cookie: SID=abc.node1; Path=/; HttpOnly; SameSite=Lax\r\n"
                + "Set-Cookie: VT=v1; Path=/app; Max-Age=1800; HttpOnly; Secure; SameSite=Strict\r\n"
                + "Set-Cookie: raw=x\r\n"
                + "Content-Length: 0\r\n\r\n")
    }

    @Test func clearCookieSetsEmptyValueAndMaxAgeZero() {
        var response = HTTPResponse.empty(status: 200)
        response.clearCookie(name: "SID")
        #expect(
            text(response.serialized(keepAlive: true))
                == "HTTP/1.1 200 OK\r\nSet-Cookie: SID=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax\r\n"
                + "Content-Length: 0\r\n\r\n")
    }

    @Test func noContentHasNeitherLengthNorBody() {
        var response = HTTPResponse.empty(status: 204)
        response.body = Array("ignored".utf8)
        #expect(text(response.serialized(keepAlive: true)) == "HTTP/1.1 204 No Content\r\n\r\n")
    }

    @Test func framingHeadersSetByTheCallerAreReplacedAndInjectionIsStripped() {
        var response = HTTPResponse.text(503, "busy")
        response.setHeader("Content-Length", "999")
        response.addHeader("Connection", "keep-alive")
        response.setHeader("Retry-After", "1\r\nX-Evil: yes")
        #expect(
            text(response.serialized(keepAlive: false))
                == "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + "Retry-After: 1X-Evil: yes\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy")
    }

    @Test func setHeaderReplacesEveryLineOfThatNameInPlace() {
        var response = HTTPResponse(status: 200, headers: [("A", "1"), ("B", "2"), ("a", "3")])
        response.setHeader("a", "4")
        #expect(response.headers.map { "\($0.name)=\($0.value)" } == ["a=4", "B=2"])
        #expect(response.header("A") == "4")
    }

    @Test func headResponseKeepsLengthButOmitsBody() {
        let bytes = HTTPResponse.text(200, "hello").serialized(keepAlive: true, includeBody: false)
        #expect(text(bytes).hasSuffix("Content-Length: 5\r\n\r\n"))
    }

    @Test func parseErrorResponseCarriesItsStatusAndReason() throws {
        let error = try #require(HTTPTestSupport.error("GET / HTTP/2.0\r\n\r\n"))
        let bytes = HTTPResponse.error(error).serialized(keepAlive: false)
        #expect(text(bytes).hasPrefix("HTTP/1.1 505 HTTP Version Not Supported\r\n"))
        #expect(text(bytes).hasSuffix("Connection: close\r\n\r\nunsupported HTTP version: \"HTTP/2.0\" (505)\n"))
    }

    @Test(arguments: [
        (200, "OK"), (204, "No Content"), (400, "Bad Request"), (401, "Unauthorized"), (404, "Not Found"),
        (405, "Method Not Allowed"), (408, "Request Timeout"), (411, "Length Required"), (413, "Content Too Large"),
        (414, "URI Too Long"),
        (431, "Request Header Fields Too Large"), (500, "Internal Server Error"), (501, "Not Implemented"),
        (503, "Service Unavailable"), (505, "HTTP Version Not Supported"), (299, "Success"), (499, "Client Error"),
    ])
    func reasonPhraseTableCoversTheCodesTheFrontEndUses(status: Int, reason: String) {
        #expect(HTTPResponse.reasonPhrase(for: status) == reason)
    }

    /// Every status the server itself sends (parse errors, deadlines, the cap, the session routes) has its own
    /// phrase, not its class's (a 408 read "Client Error").
    @Test(arguments: [100, 200, 204, 400, 401, 404, 405, 408, 413, 414, 431, 500, 501, 503, 505])
    func everyStatusTheServerSendsHasItsOwnPhrase(status: Int) {
        let classPhrases = ["Informational", "Success", "Redirection", "Client Error", "Server Error", "Unknown"]
        #expect(!classPhrases.contains(HTTPResponse.reasonPhrase(for: status)), "\(status)")
    }

    @Test func continueInterimIsAComplete100Response() {
        #expect(text(HTTPResponse.continueInterim) == "HTTP/1.1 100 Continue\r\n\r\n")
    }
}
