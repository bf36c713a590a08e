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

/// The one-pass byte reader (`SessionCookieReader`) against the rules as first written: per cookie name, a split on
/// `;` of every header's text and a `String` per value.
struct SessionCookieReaderTests {
    let id = SessionID(high: 0x1234_5678_9ABC_DEF0 & ~(1 << 63), low: 0x0FED_CBA9_8765_4321)
    let token = "AAECAwQFBgcICQoLDA0ODw"

    /// The former `SessionCookies.session(cookieHeaders:)`: one scan of all headers per cookie name.
    private func reference(_ cookies: SessionCookies, _ headers: [String]) -> SessionReference? {
        func cookie(_ name: String) -> String? {
            for header in headers {
                for piece in header.split(separator: ";", omittingEmptySubsequences: false) {
                    let bytes = Array(piece.utf8)
                    guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { continue }
                    let key = trim(bytes[..<equals])
                    guard !key.isEmpty, key.elementsEqual(name.utf8) else { continue }
                    var value = trim(bytes[(equals + 1)...])
                    if value.count >= 2, value.first == UInt8(ascii: "\""), value.last == UInt8(ascii: "\"") {
                        value = value.dropFirst().dropLast()
                    }
                    return String(decoding: value, as: UTF8.self)
                }
            }
            return nil
        }
        guard let value = cookie(cookies.name), let id = SessionID(cookieValue: value), !id.isKeyID else { return nil }
        return SessionReference(id: id, token: cookie(cookies.versionName).flatMap { VersionToken($0) })
    }

    private func trim(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var text = bytes
        while let first = text.first, first == 32 || first == 9 { text = text.dropFirst() }
        while let last = text.last, last == 32 || last == 9 { text = text.dropLast() }
        return text
    }

    @Test func readsBothCookiesAsTheRulesSay() {
        let cookies = SessionCookies()
        let named = SessionID(name: "cart").encoded
        let cases: [[String]] = [
            ["SESSIONID=\(id.encoded).n1; SESSIONVERSION=\(token)"],
            ["SESSIONVERSION=\(token);SESSIONID=\(id.encoded)"],
            ["theme=dark; SESSIONID=\"\(id.encoded)\"", "SESSIONVERSION= \"\(token)\" \t"],
            // The first occurrence decides, valid or not.
            ["SESSIONID=bad; SESSIONID=\(id.encoded)"],
            ["SESSIONID=\(id.encoded); SESSIONVERSION=%%; SESSIONVERSION=\(token)"],
            ["SESSIONID=\(id.encoded)", "SESSIONID=\(named); SESSIONVERSION=\(token)"],
            ["SESSIONID=\(named)"], ["SESSIONID=\(id.encoded)x"], ["SESSIONID=\(id.encoded.dropLast())"],
            // The last character carries 2 bits and 4 bits of zero padding.
            ["SESSIONID=\(id.encoded.dropLast())B"], ["SESSIONID=\(id.encoded)..x"],
            ["SESSIONID; SESSIONID =\(id.encoded); =x; ; SESSIONVERSION=\"\""],
            ["sessionid=\(id.encoded)"], ["SESSIONIDX=\(id.encoded)"], [" SESSIONID\t= \(id.encoded) "],
            ["SESSIONID=\(id.encoded); SESSIONVERSION=\(String(repeating: "A", count: VersionToken.maxTextCount + 1))"],
            ["SESSIONID=\"\(id.encoded)"], [""], [], [";;;"], ["SESSIONID=é\(id.encoded)"],
        ]
        for headers in cases {
            #expect(cookies.session(cookieHeaders: headers) == reference(cookies, headers), "\(headers)")
            var reader = SessionCookieReader(cookies)
            for header in headers {
                var bytes = Array(header.utf8)
                bytes.withUnsafeMutableBufferPointer { reader.read(UnsafeBufferPointer($0)) }
            }
            #expect(reader.session == reference(cookies, headers), "\(headers) as bytes")
        }
        #expect(reference(cookies, cases[0]) == SessionReference(id: id, token: VersionToken(token)))
        #expect(reference(cookies, cases[2])?.token == VersionToken(token))
    }

    @Test func readsOtherCookieNames() {
        let cookies = SessionCookies(name: "__Host-S", versionName: "v")
        let headers = ["SESSIONID=x; v=\(token); __Host-S=\(id.encoded)"]
        #expect(cookies.session(cookieHeaders: headers) == SessionReference(id: id, token: VersionToken(token)))
        #expect(cookies.session(cookieHeaders: headers) == reference(cookies, headers))
    }
}

/// `Set-Cookie` lines, now written into one string of the exact length, against the former concatenation.
struct SessionCookieLineTests {
    private func reference(_ cookies: SessionCookies, _ name: String, _ value: String, maxAge: Int?) -> String {
        var line = name + "=" + value + "; Path=" + cookies.path
        if let maxAge { line += "; Max-Age=\(maxAge)" }
        line += "; HttpOnly"
        if cookies.secure { line += "; Secure" }
        if let sameSite = cookies.sameSite { line += "; SameSite=" + sameSite }
        return line
    }

    @Test func linesAreWrittenAsBefore() throws {
        let ids = [
            SessionID(high: 0, low: 0), SessionID(high: 0x7FFF_FFFF_FFFF_FFFF, low: .max),
            SessionID(high: 0x1234_5678_9ABC_DEF0, low: 0x0FED_CBA9_8765_4321), SessionID.random(),
        ]
        let token = try #require(VersionToken("AAECAwQFBgcICQoLDA0ODw"))
        for route in [nil, "", "n1", "node-é"] {
            for secure in [false, true] {
                for sameSite in [nil, "Lax", "None"] {
                    var cookies = SessionCookies(name: "SID", secure: secure, route: route)
                    cookies.sameSite = sameSite
                    cookies.path = route == nil ? "/" : "/app"
                    for id in ids {
                        #expect(
                            cookies.setCookieHeaders(id: id, version: token) == [
                                reference(cookies, "SID", id.cookieValue(route: route), maxAge: nil),
                                reference(cookies, cookies.versionName, token.text, maxAge: nil),
                            ])
                    }
                    #expect(
                        cookies.clearingCookieHeaders() == [
                            reference(cookies, "SID", "", maxAge: 0),
                            reference(cookies, cookies.versionName, "", maxAge: 0),
                        ])
                }
            }
        }
    }
}
