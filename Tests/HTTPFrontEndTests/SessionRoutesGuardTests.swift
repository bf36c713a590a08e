import HTTPFrontEnd
import SessionCluster
import TestSupport
import Testing

/// The demo routes keep `user` for the login: a client may not rename itself, nor create a nameless attribute.
@Suite struct SessionRoutesGuardTests {
    @Test func onlyTheLoginSetsUserAndNamesMayNotBeEmpty() async throws {
        var settings = ClusterNodeSettings(cluster: "routes-test", name: "n1")
        settings.secret = "routes guard test secret of at least thirty-two bytes"
        settings.multicast = nil
        settings.loops = TestLoops.count
        let node = try await ClusterNode.start(settings)
        let routes = SessionRoutes(node: node)
        let login = await routes.handle(
            try HTTPRequest(
                method: "POST", target: "/login",
                headers: [("Host", "t"), ("Content-Type", "application/x-www-form-urlencoded")],
                body: Array("user=alice".utf8)))
        #expect(login.status == 200)
        let cookies = login.headers.filter { $0.name == "Set-Cookie" }.map { $0.value.split(separator: ";")[0] }
            .joined(separator: "; ")
        func send(_ method: String, _ target: String, _ body: String = "") async throws -> Int {
            await routes.handle(
                try HTTPRequest(
                    method: method, target: target, headers: [("Host", "t"), ("Cookie", cookies)],
                    body: Array(body.utf8))
            ).status
        }
        #expect(try await send("PUT", "/session/attributes/user", "root") == 403)
        #expect(try await send("DELETE", "/session/attributes/user") == 403)
        #expect(try await send("PATCH", "/session", "theme=dark&user=mallory") == 403)
        #expect(try await send("PATCH", "/session", "=3") == 400)
        #expect(try await send("PATCH", "/session", "theme=dark") == 200)
        let session = try await node.read(
            try #require(SessionID(cookieValue: String(cookies.split(separator: "=")[1].split(separator: ";")[0]))),
            token: nil)
        #expect(session.string("user") == "alice")
        await node.shutdown()
    }
}
