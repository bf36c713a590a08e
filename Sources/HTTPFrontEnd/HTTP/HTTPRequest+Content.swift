/// What a request says beyond its request line: connection persistence, cookies and form fields.
extension HTTPRequest {
    /// The fields of an `application/x-www-form-urlencoded` body (WHATWG URL §5.1).
    ///
    /// `+` is a space and `%XX` a byte. Decoding is lenient, as in browsers and servlet containers: a `%` not
    /// followed by two hex digits is kept literally (`100%` stays `100%`), and bytes that are not UTF-8 become
    /// U+FFFD. A piece without `=` is a field with an empty value; empty pieces are skipped; the first occurrence
    /// of a name wins. The `Content-Type` is not checked: the caller decides whether the body is a form.
    public func formFields() -> [String: String] {
        var fields: [String: String] = [:]
        for (name, value) in PercentDecoding.formPairs(body[...]) where fields[name] == nil {
            fields[name] = value
        }
        return fields
    }

    /// The body as text: UTF-8, with invalid sequences replaced by U+FFFD.
    public var bodyText: String {
        String(decoding: body, as: UTF8.self)
    }

    /// Persistence per RFC 9112 §9.3: the `Connection` header's tokens (all such headers, any case) decide.
    static func isKeepAlive(version: Version, fields: [HTTPField], in bytes: [UInt8]) -> Bool {
        var sawClose = false
        var sawKeepAlive = false
        for field in fields where field.nameIs("connection", in: bytes) {
            for token in bytes[field.value].split(separator: UInt8(ascii: ",")) {
                let token = HTTPSyntax.trimmingWhitespace(token)
                if HTTPSyntax.equalsIgnoringASCIICase(token, "close".utf8) { sawClose = true }
                if HTTPSyntax.equalsIgnoringASCIICase(token, "keep-alive".utf8) { sawKeepAlive = true }
            }
        }
        switch version {
        case .http11: return !sawClose
        case .http10: return sawKeepAlive && !sawClose
        }
    }

    /// The cookies of every `Cookie` header, first occurrence of a name winning (RFC 6265 §5.4 orders cookies
    /// with longer paths first, so the first is the most specific).
    static func parseCookies(headers: [(name: String, value: String)]) -> [String: String] {
        var cookies: [String: String] = [:]
        forEachCookie(headers) { name, value in
            let key = String(name)
            if cookies[key] == nil { cookies[key] = String(value) }
            return false
        }
        return cookies
    }

    /// The value of the first cookie named `name` (the rules of `cookies`), without building the dictionary.
    public func cookie(_ name: String) -> String? {
        var found: String?
        Self.forEachCookie(headers) { cookieName, value in
            guard cookieName == name else { return false }
            found = String(value)
            return true
        }
        return found
    }

    /// Calls `body` with each cookie's trimmed name and unquoted value, in order, until it returns true.
    private static func forEachCookie(
        _ headers: [(name: String, value: String)], _ body: (Substring, Substring) -> Bool
    ) {
        for (name, value) in headers where HTTPSyntax.equalsIgnoringASCIICase(name, "cookie") {
            for piece in value.split(separator: ";") {
                guard let equals = piece.firstIndex(of: "=") else { continue }
                let cookieName = HTTPSyntax.trimmingWhitespace(piece[..<equals])
                var cookieValue = HTTPSyntax.trimmingWhitespace(piece[piece.index(after: equals)...])
                guard !cookieName.isEmpty else { continue }
                if cookieValue.utf8.count >= 2, cookieValue.hasPrefix("\""), cookieValue.hasSuffix("\"") {
                    cookieValue = cookieValue.dropFirst().dropLast()
                }
                if body(cookieName, cookieValue) { return }
            }
        }
    }
}
