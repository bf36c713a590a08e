import SessionCluster
import Testing

/// The cookie seam every framework adapter uses: request cookies to a session reference, answers to `Set-Cookie`.
struct SessionCookiesTests {
    let id = SessionID(high: 0x1234_5678_9ABC_DEF0 & ~(1 << 63), low: 0x0FED_CBA9_8765_4321)
    let token = VersionToken("AAECAwQFBgcICQoLDA0ODw")!

    @Test func aRequestsCookieHeadersNameTheSessionAndItsToken() {
        let cookies = SessionCookies()
        let headers = ["theme=dark; SESSIONID=\(id.encoded).n2", "SESSIONVERSION=\"\(token.text)\""]
        #expect(cookies.session(cookieHeaders: headers) == SessionReference(id: id, token: token))
        // No id, or not an id: no session. A bad token is dropped, not an error.
        #expect(cookies.session(cookieHeaders: ["theme=dark"]) == nil)
        #expect(cookies.session(cookieHeaders: ["SESSIONID=not-an-id"]) == nil)
        #expect(
            cookies.session(cookieHeaders: ["SESSIONID=\(id.encoded); SESSIONVERSION=%%%"])
                == SessionReference(id: id, token: nil))
        // A named session's id (anyone can derive it) is never a login.
        let named = SessionID(name: "cart")
        #expect(cookies.session(cookieHeaders: ["SESSIONID=\(named.encoded)"]) == nil)
    }

    @Test func answersSetBothCookiesWithTheConfiguredAttributes() throws {
        var cookies = SessionCookies(name: "__Host-S", secure: true, route: "n1")
        #expect(
            cookies.setCookieHeaders(id: id, version: token) == [
                "__Host-S=\(id.encoded).n1; Path=/; HttpOnly; Secure; SameSite=Lax",
                "SESSIONVERSION=\(token.text); Path=/; HttpOnly; Secure; SameSite=Lax",
            ])
        cookies.sameSite = nil
        #expect(
            cookies.clearingCookieHeaders() == [
                "__Host-S=; Path=/; Max-Age=0; HttpOnly; Secure", "SESSIONVERSION=; Path=/; Max-Age=0; HttpOnly; Secure",
            ])
        let file = try ClusterConfiguration.parse(
            Array(
                #"""
                {"cluster": "c", "secret": "a secret of at least thirty-two bytes, really",
                 "sessions": {"cookieName": "SID", "secureCookies": true},
                 "nodes": [{"name": "n1", "replication": "127.0.0.1:47100", "http": "127.0.0.1:8081"}]}
                """#.utf8))
        let configured = SessionCookies(configuration: file, node: "n1")
        #expect(configured.name == "SID" && configured.secure && configured.route == "n1")
    }

    @Test func oneStringCarriesIdAndToken() {
        let reference = SessionReference(id: id, token: token)
        #expect(reference.combined == "\(id.encoded).\(token.text)")
        #expect(SessionReference(combined: reference.combined) == reference)
        #expect(SessionReference(combined: id.encoded) == SessionReference(id: id, token: nil))
        #expect(SessionReference(combined: id.encoded + ".!!") == SessionReference(id: id, token: nil))
        #expect(SessionReference(combined: id.encoded + "x" + token.text) == nil)
        #expect(SessionReference(combined: "short") == nil)
        #expect(SessionReference(combined: "") == nil)
        // A named session's id is computable by anyone who knows the name: never reachable by cookie.
        let named = SessionID(name: "user:42:prefs")
        #expect(SessionReference(combined: named.encoded) == nil)
        #expect(SessionReference(combined: named.encoded + "." + token.text) == nil)
    }
}
