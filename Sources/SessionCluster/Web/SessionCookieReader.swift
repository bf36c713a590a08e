import SessionClusterCore

/// Reads a request's session id and version token out of its `Cookie` header values in one pass over their
/// bytes: no `String` per cookie, no second scan for the second cookie (every request of a front end does this).
///
/// Feed each `Cookie` header value in the order received (`read(_:)`), then take `session`. The rules are those
/// of `SessionCookies.session(cookieHeaders:)`: pieces split on `;`, names and values trimmed of spaces and tabs,
/// surrounding double quotes removed from a value, pieces without `=` ignored, the first cookie of each name wins
/// (even when its value is not valid: a later one does not replace it).
public struct SessionCookieReader {
    private let cookies: SessionCookies
    /// Whether the id cookie / the token cookie was seen (the first occurrence decides).
    private var sawID = false
    private var sawToken = false
    private var id: SessionID?
    private var token: VersionToken?

    /// A reader for the cookies named by `cookies` (`name`, `versionName`).
    public init(_ cookies: SessionCookies) {
        self.cookies = cookies
    }

    /// Whether both cookies were seen: further headers cannot change `session`.
    public var isComplete: Bool { sawID && sawToken }

    /// The session the headers read so far name; nil when they name none (no id cookie, or its value is not the
    /// id of a random session: a named session's id is refused, as anyone may compute it).
    public var session: SessionReference? {
        guard let id else { return nil }
        return SessionReference(id: id, token: token)
    }

    /// Reads one `Cookie` header value (UTF-8 text).
    public mutating func read(_ header: some StringProtocol) {
        var text = String(header)
        text.withUTF8 { read($0) }
    }

    /// Reads one `Cookie` header value given as its bytes.
    public mutating func read(_ header: UnsafeBufferPointer<UInt8>) {
        guard !isComplete, let base = header.baseAddress else { return }
        var idName = cookies.name
        var tokenName = cookies.versionName
        idName.withUTF8 { idName in
            tokenName.withUTF8 { tokenName in
                var start = 0
                let end = header.count
                while start < end, !isComplete {
                    var stop = start
                    while stop < end, base[stop] != UInt8(ascii: ";") { stop += 1 }
                    piece(base, start, stop, idName: idName, tokenName: tokenName)
                    start = stop + 1
                }
            }
        }
    }

    /// One `name=value` piece in `base[start..<end]`.
    private mutating func piece(
        _ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, idName: UnsafeBufferPointer<UInt8>,
        tokenName: UnsafeBufferPointer<UInt8>
    ) {
        var equals = start
        while equals < end, base[equals] != UInt8(ascii: "=") { equals += 1 }
        guard equals < end else { return }
        let (nameStart, nameEnd) = Self.trim(base, start, equals)
        guard nameEnd > nameStart else { return }
        var (valueStart, valueEnd) = Self.trim(base, equals + 1, end)
        if valueEnd - valueStart >= 2, base[valueStart] == UInt8(ascii: "\""), base[valueEnd - 1] == UInt8(ascii: "\"")
        {
            valueStart += 1
            valueEnd -= 1
        }
        let name = UnsafeBufferPointer(start: base + nameStart, count: nameEnd - nameStart)
        let value = UnsafeBufferPointer(start: base + valueStart, count: valueEnd - valueStart)
        if !sawID, name.elementsEqual(idName) {
            sawID = true
            if let parsed = Self.sessionID(value), !parsed.isKeyID { id = parsed }
        }
        if !sawToken, name.elementsEqual(tokenName) {
            sawToken = true
            token = VersionToken(utf8: value)
        }
    }

    /// `base[start..<end]` without leading and trailing spaces and tabs.
    private static func trim(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> (Int, Int) {
        var start = start
        var end = end
        while start < end, base[start] == UInt8(ascii: " ") || base[start] == UInt8(ascii: "\t") { start += 1 }
        while end > start, base[end - 1] == UInt8(ascii: " ") || base[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        return (start, end)
    }

    /// `SessionID(cookieValue:)` on bytes: 22 base64url characters (the last with 4 zero padding bits), then
    /// nothing or a `.route` suffix, which is ignored.
    static func sessionID(_ value: UnsafeBufferPointer<UInt8>) -> SessionID? {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var count = 0
        for character in value {
            if character == UInt8(ascii: ".") { break }
            guard count < 22, let bits = Base64URL.value(of: character) else { return nil }
            if count < 21 {
                high = high << 6 | low >> 58
                low = low << 6 | UInt64(bits)
            } else {
                guard bits & 0x0F == 0 else { return nil }
                high = high << 2 | low >> 62
                low = low << 2 | UInt64(bits >> 4)
            }
            count += 1
        }
        guard count == 22 else { return nil }
        return SessionID(high: high, low: low)
    }
}
