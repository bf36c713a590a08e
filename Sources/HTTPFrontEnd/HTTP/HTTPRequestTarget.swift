/// Where the parts of a request target (RFC 9112 §3.2) that a handler routes on lie in its bytes: the path and
/// the query. Ranges, not strings: a request's path is only decoded to a `String` when someone asks for it.
///
/// Accepted forms: origin-form (`/path?query`), absolute-form (`http://host/path?query`, which servers MUST
/// accept) and asterisk-form (`*`, for `OPTIONS`). Authority-form (`CONNECT host:port`) is refused: this is not
/// a proxy.
struct HTTPRequestTarget: Sendable {
    /// How the path is written in the target.
    enum PathForm: Sendable {
        /// The path's bytes, as sent, are the path (no `%`).
        case plain
        /// The path's bytes hold `%` escapes (valid ones: checked when parsed).
        case escaped
        /// Absolute-form without a path (`http://host` or `http://host?q`): the path is `/`.
        case root
        /// Asterisk-form: the path is `*`.
        case asterisk
    }

    /// The path's bytes (empty for `.root`), as indices of the bytes `locate` was given.
    var path: Range<Int>
    var pathForm: PathForm
    /// The query's bytes after `?`, when there is a `?`.
    var query: Range<Int>?

    /// The same target in bytes that start `shift` further on.
    func shifted(by shift: Int) -> HTTPRequestTarget {
        HTTPRequestTarget(
            path: (path.lowerBound + shift)..<(path.upperBound + shift), pathForm: pathForm,
            query: query.map { ($0.lowerBound + shift)..<($0.upperBound + shift) })
    }

    /// Checks a target as sent on the request line and finds its parts.
    ///
    /// The path is decoded strictly — a bad `%` escape or a non-UTF-8 result is an error, because routing on a
    /// guessed path is worse than a 400 — while the query is decoded leniently, like a form body.
    static func locate(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPRequestTarget {
        var escaped = false
        for byte in bytes {
            guard byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "#") else {
                throw HTTPParseError(.invalidRequestTarget, detail: HTTPParseError.excerpt(bytes))
            }
            if byte == UInt8(ascii: "%") { escaped = true }
        }
        guard !bytes.isEmpty else {
            throw HTTPParseError(.invalidRequestTarget, detail: HTTPParseError.excerpt(bytes))
        }
        if bytes.count == 1 && bytes.first == UInt8(ascii: "*") {
            return HTTPRequestTarget(path: bytes.startIndex..<bytes.endIndex, pathForm: .asterisk, query: nil)
        }
        let originForm = try originFormPart(of: bytes)
        let queryStart = originForm.firstIndex(of: UInt8(ascii: "?"))
        let path = originForm.startIndex..<(queryStart ?? originForm.endIndex)
        let query = queryStart.map { ($0 + 1)..<originForm.endIndex }
        if path.isEmpty { return HTTPRequestTarget(path: path, pathForm: .root, query: query) }
        // Only a path with `%` escapes can decode to something invalid (the bytes are printable ASCII).
        if escaped, PercentDecoding.decodePath(bytes[path]) == nil {
            throw HTTPParseError(.invalidRequestTarget, detail: HTTPParseError.excerpt(bytes))
        }
        return HTTPRequestTarget(path: path, pathForm: escaped ? .escaped : .plain, query: query)
    }

    /// The decoded path of a target located in `bytes`.
    func pathString(in bytes: [UInt8]) -> String {
        switch pathForm {
        case .plain: String(decoding: bytes[path], as: UTF8.self)
        case .escaped: PercentDecoding.decodePath(bytes[path]) ?? ""
        case .root: "/"
        case .asterisk: "*"
        }
    }

    /// The decoded path's bytes: the target's own bytes (no copy) unless it has escapes.
    func pathBytes(in bytes: [UInt8]) -> ArraySlice<UInt8> {
        switch pathForm {
        case .plain, .asterisk: bytes[path]
        case .escaped: ArraySlice(pathString(in: bytes).utf8)
        case .root: ArraySlice("/".utf8)
        }
    }

    /// The query's `name=value` pairs in order, form-decoded (`+` is a space).
    func queryItems(in bytes: [UInt8]) -> [(name: String, value: String)] {
        query.map { PercentDecoding.formPairs(bytes[$0]) } ?? []
    }

    /// The `/path?query` part: the target itself in origin-form; after the authority in absolute-form (empty
    /// when the authority is followed by nothing or by `?query` only).
    private static func originFormPart(of bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> ArraySlice<UInt8> {
        if bytes.first == UInt8(ascii: "/") {
            return bytes
        }
        for scheme in ["http://", "https://"] where hasPrefixIgnoringCase(bytes, scheme) {
            let authorityStart = bytes.startIndex + scheme.utf8.count
            let rest = bytes[authorityStart...]
            guard let pathStart = rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") })
            else {
                return bytes[bytes.endIndex...]
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
