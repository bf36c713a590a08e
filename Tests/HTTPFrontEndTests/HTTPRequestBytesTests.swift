import Testing

@testable import HTTPFrontEnd

/// The request kept as bytes with its parts located: the public `String` view, the byte accessors the router
/// uses, and the request made by the public initializer, all agree.
@Suite struct HTTPRequestBytesTests {
    @Test func methodsAreTellApartWithoutText() throws {
        let cases: [(String, HTTPRequest.Method)] = [
            ("GET", .get), ("HEAD", .head), ("POST", .post), ("PUT", .put), ("DELETE", .delete), ("PATCH", .patch),
            ("OPTIONS", .options), ("get", .other), ("GETX", .other), ("PUTS", .other), ("TRACE", .other),
            ("OPTIONSX", .other), ("X", .other), ("PROPFIND", .other),
        ]
        for (text, kind) in cases {
            let parsed = try #require(HTTPTestSupport.single("\(text) / HTTP/1.1\r\n\r\n"), "\(text)")
            #expect(parsed.methodKind == kind && parsed.method == text, "\(text)")
            let made = try HTTPRequest(method: text, target: "/")
            #expect(made.methodKind == kind && made.method == text, "\(text)")
        }
    }

    @Test func partsReadFromTheBytesMatchWhatWasSent() throws {
        let text =
            "PUT http://n1:8080/session/attributes/a%20b?x=1&y=two+words HTTP/1.1\r\nHost: n1\r\n"
            + "Cookie: a=1\r\nX-Empty:\r\ncookie:  b=2 \t\r\nContent-Length: 2\r\n\r\nhi"
        let request = try #require(HTTPTestSupport.single(text))
        #expect(request.target == "http://n1:8080/session/attributes/a%20b?x=1&y=two+words")
        #expect(request.path == "/session/attributes/a b")
        #expect(Array(request.pathBytes) == Array("/session/attributes/a b".utf8))
        #expect(request.queryItems.map(\.value) == ["1", "two words"])
        #expect(request.headers.map(\.name) == ["Host", "Cookie", "X-Empty", "cookie", "Content-Length"])
        #expect(request.headers.map(\.value) == ["n1", "a=1", "", "b=2", "2"])
        #expect(request.header("COOKIE") == "a=1" && request.headers(named: "cookie") == ["a=1", "b=2"])
        var values: [String] = []
        request.forEachHeaderValue(named: "cookie") { value in
            values.append(String(decoding: value, as: UTF8.self))
            return true
        }
        #expect(values == ["a=1", "b=2"])
        values = []
        request.forEachHeaderValue(named: "cookie") { value in
            values.append(String(decoding: value, as: UTF8.self))
            return false
        }
        #expect(values == ["a=1"])
        #expect(request.bodyText == "hi" && request.keepAlive)
        // The same request made from parts reads the same.
        let made = try HTTPRequest(
            method: "PUT", target: request.target, headers: request.headers, body: Array("hi".utf8))
        #expect(made.path == request.path && Array(made.pathBytes) == Array(request.pathBytes))
        #expect(made.headers.map(\.value) == request.headers.map(\.value) && made.header("cookie") == "a=1")
        #expect(made.queryItem("y") == "two words" && made.target == request.target)
    }

    @Test func pathsWithoutEscapesAreTheRequestsOwnBytes() throws {
        for (target, path) in [
            ("/healthz", "/healthz"), ("/a?", "/a"), ("*", "*"), ("http://h", "/"), ("http://h?q", "/"),
        ] {
            let request = try #require(HTTPTestSupport.single("OPTIONS \(target) HTTP/1.1\r\n\r\n"), "\(target)")
            #expect(request.path == path && Array(request.pathBytes) == Array(path.utf8), "\(target)")
        }
        #expect(HTTPTestSupport.parse("GET /a%2 HTTP/1.1\r\n\r\n").error?.code == .invalidRequestTarget)
        #expect(HTTPTestSupport.parse("GET /%FF HTTP/1.1\r\n\r\n").error?.code == .invalidRequestTarget)
        #expect(HTTPTestSupport.parse("GET /a?%FF HTTP/1.1\r\n\r\n").error == nil)
    }
}
