import HTTPFrontEnd
import Testing

/// What a parsed request says beyond its request line: persistence, cookies, form fields.
@Suite struct HTTPRequestContentTests {
    private func request(_ version: String, _ headers: String = "", body: String = "") -> HTTPRequest? {
        let length = body.isEmpty ? "" : "Content-Length: \(body.utf8.count)\r\n"
        return HTTPTestSupport.single("POST /f HTTP/\(version)\r\n\(headers)\(length)\r\n\(body)")
    }

    @Test func http11KeepsAliveUnlessConnectionClose() {
        #expect(request("1.1")?.keepAlive == true)
        #expect(request("1.1", "Connection: close\r\n")?.keepAlive == false)
        #expect(request("1.1", "Connection: Upgrade, CLOSE\r\n")?.keepAlive == false)
        #expect(request("1.1", "Connection: keep-alive\r\nConnection: close\r\n")?.keepAlive == false)
        #expect(request("1.1", "Connection: closed\r\n")?.keepAlive == true)
    }

    @Test func http10ClosesUnlessConnectionKeepAlive() {
        #expect(request("1.0")?.keepAlive == false)
        #expect(request("1.0", "Connection: Keep-Alive\r\n")?.keepAlive == true)
        #expect(request("1.0", "connection: keep-alive, close\r\n")?.keepAlive == false)
    }

    @Test func cookiesFromSeveralHeadersAreTrimmedAndTheFirstOccurrenceWins() {
        let headers =
            "Cookie: SID=abc.node1;  theme = dark ;v=\"q1\"\r\nX: y\r\n"
            + "cookie: SID=later; lang=en; flag; =x\r\n"
        let cookies = request("1.1", headers)?.cookies
        #expect(cookies == ["SID": "abc.node1", "theme": "dark", "v": "q1", "lang": "en"])
        #expect(request("1.1")?.cookies == [:])
        // The single-cookie lookup follows the same rules without building the dictionary.
        let parsed = request("1.1", headers)
        for name in ["SID", "theme", "v", "lang", "flag", "", "missing", "sid"] {
            #expect(parsed?.cookie(name) == cookies?[name], "cookie \(name)")
        }
    }

    @Test func cookieValuesMayContainEqualsSigns() {
        #expect(request("1.1", "Cookie: token=a=b==\r\n")?.cookies == ["token": "a=b=="])
    }

    @Test func formBodyDecodesPlusAsSpaceAndPercentEscapes() {
        let fields = request("1.1", body: "user=al%20ice+x&b=&c&&d=%E2%82%AC&user=second")?.formFields()
        #expect(fields == ["user": "al ice x", "b": "", "c": "", "d": "\u{20AC}"])
    }

    @Test func formBodyKeepsInvalidEscapesLiterally() {
        let fields = request("1.1", body: "pct=100%&bad=%zz%4&ok=%41")?.formFields()
        #expect(fields == ["pct": "100%", "bad": "%zz%4", "ok": "A"])
    }

    @Test func emptyBodyHasNoFormFields() {
        #expect(request("1.1")?.formFields() == [:])
    }
}
