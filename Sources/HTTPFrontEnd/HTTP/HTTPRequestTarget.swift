/// The parts of a request target (RFC 9112 §3.2) a handler routes on: the decoded path and the query items.
///
/// Accepted forms: origin-form (`/path?query`), absolute-form (`http://host/path?query`, which servers MUST
/// accept) and asterisk-form (`*`, for `OPTIONS`). Authority-form (`CONNECT host:port`) is refused: this is not
/// a proxy.
struct HTTPRequestTarget: Sendable {
    /// The percent-decoded path, without the query. `*` for asterisk-form.
    var path: String
    /// The query's `name=value` pairs in order, form-decoded (`+` is a space).
    var queryItems: [(name: String, value: String)]

    /// Parses a target as sent on the request line.
    ///
    /// The path is decoded strictly — a bad `%` escape or a non-UTF-8 result is an error, because routing on a
    /// guessed path is worse than a 400 — while the query is decoded leniently, like a form body.
    static func parse(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPRequestTarget {
        guard !bytes.isEmpty, bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") }) else {
            throw HTTPParseError(.invalidRequestTarget, detail: HTTPParseError.excerpt(bytes))
        }
        if bytes.elementsEqual("*".utf8) {
            return HTTPRequestTarget(path: "*", queryItems: [])
        }
        let originForm = try originFormPart(of: bytes)
        let queryStart = originForm.firstIndex(of: UInt8(ascii: "?"))
        let pathBytes = originForm[..<(queryStart ?? originForm.endIndex)]
        guard let path = PercentDecoding.decodePath(pathBytes) else {
            throw HTTPParseError(.invalidRequestTarget, detail: HTTPParseError.excerpt(bytes))
        }
        let queryItems = queryStart.map { PercentDecoding.formPairs(originForm[($0 + 1)...]) } ?? []
        return HTTPRequestTarget(path: path, queryItems: queryItems)
    }

    /// The `/path?query` part: the target itself in origin-form; after the authority in absolute-form.
    private static func originFormPart(of bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> ArraySlice<UInt8> {
        if bytes.first == UInt8(ascii: "/") {
            return bytes
        }
        for scheme in ["http://", "https://"] where hasPrefixIgnoringCase(bytes, scheme) {
            let authorityStart = bytes.startIndex + scheme.utf8.count
            let rest = bytes[authorityStart...]
            guard let pathStart = rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") })
            else {
                return ArraySlice("/".utf8)
            }
            if bytes[pathStart] == UInt8(ascii: "?") {
                return ArraySlice("/".utf8) + bytes[pathStart...]
            }
            return bytes[pathStart...]
        }
        throw HTTPParseError(.invalidRequestTarget, detail: HTTPParseError.excerpt(bytes))
    }

    private static func hasPrefixIgnoringCase(_ bytes: ArraySlice<UInt8>, _ prefix: String) -> Bool {
        bytes.count >= prefix.utf8.count
            && zip(bytes, prefix.utf8).allSatisfy { HTTPSyntax.lowercased($0) == $1 }
    }
}

/// Percent-decoding (RFC 3986 §2.1) of paths, and of `application/x-www-form-urlencoded` text (WHATWG URL §5).
enum PercentDecoding {
    /// The decoded path, or nil when an escape is not `%` followed by two hex digits or the bytes are not UTF-8.
    /// `%2F` decodes to `/`: routes that care about segment boundaries MUST NOT accept encoded slashes.
    static func decodePath(_ bytes: ArraySlice<UInt8>) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex,
                    let high = HTTPSyntax.hexValue(bytes[index + 1]), let low = HTTPSyntax.hexValue(bytes[index + 2])
                else { return nil }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// One form-encoded name or value: `+` is a space and `%XX` a byte. Lenient, as browsers are: a `%` not
    /// followed by two hex digits stays a literal `%`, and bytes that are not UTF-8 become U+FFFD.
    static func decodeFormComponent(_ bytes: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.endIndex,
                let high = HTTPSyntax.hexValue(bytes[index + 1]), let low = HTTPSyntax.hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte == UInt8(ascii: "+") ? HTTPSyntax.space : byte)
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The `name=value` pairs of form-encoded text, in order. Empty pieces (`a=1&&b=2`) are skipped; a piece
    /// without `=` is a name with an empty value.
    static func formPairs(_ bytes: ArraySlice<UInt8>) -> [(name: String, value: String)] {
        bytes.split(separator: UInt8(ascii: "&")).map { piece in
            guard let equals = piece.firstIndex(of: UInt8(ascii: "=")) else {
                return (decodeFormComponent(piece), "")
            }
            return (decodeFormComponent(piece[..<equals]), decodeFormComponent(piece[(equals + 1)...]))
        }
    }
}
