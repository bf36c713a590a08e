/// A session identifier: 128 random bits, written as 22 URL-safe base64 characters.
///
/// In a cookie the id may carry a `.route` suffix (a node name) for sticky load balancers; nothing in the
/// cluster depends on it and lookups ignore it (`SessionID(cookieValue:)`).
public struct SessionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The first 64 bits (the top one set only for named sessions, `SessionID(name:)`).
    public let high: UInt64
    /// The last 64 bits.
    public let low: UInt64

    /// The id with these 128 bits.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A fresh id with 128 bits from `generator`. The shell MUST pass a CSPRNG (`SystemRandomNumberGenerator`):
    /// session ids are bearer credentials.
    public init(using generator: inout some RandomNumberGenerator) {
        self.init(high: generator.next(), low: generator.next())
    }

    /// Parses the 22-character form, ignoring a `.route` suffix. Returns nil for anything else.
    public init?(cookieValue: some StringProtocol) {
        // 22 base64url characters: 21 carry 126 bits, the last 2 more and 4 zero bits of padding. Decoded in
        // place (every request does this), stopping at the route suffix.
        var high: UInt64 = 0
        var low: UInt64 = 0
        var count = 0
        for character in cookieValue.utf8 {
            if character == UInt8(ascii: ".") { break }
            guard count < 22, let value = Base64URL.value(of: character) else { return nil }
            let (shift, bits) = count < 21 ? (UInt64(6), UInt64(value)) : (UInt64(2), UInt64(value >> 4))
            if count == 21, value & 0x0F != 0 { return nil }
            high = high << shift | low >> (64 - shift)
            low = low << shift | bits
            count += 1
        }
        guard count == 22 else { return nil }
        self.init(high: high, low: low)
    }

    /// The 16 bytes, big-endian.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: high >> UInt64(shift)))
        }
        for shift in stride(from: 56, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: low >> UInt64(shift)))
        }
        return out
    }

    /// The 22-character URL-safe form.
    public var encoded: String { Base64URL.encode(bytes) }

    /// The cookie form: the id, then `.route` when a route is given.
    public func cookieValue(route: String?) -> String {
        guard let route, !route.isEmpty else { return encoded }
        return encoded + "." + route
    }

    /// Orders ids by their bits: the same in every process. (A node keeps and walks its copies in another order,
    /// keyed by a secret of its own: `SessionOrder`, `ClusterNode.heldSessions`.)
    public static func < (lhs: SessionID, rhs: SessionID) -> Bool { (lhs.high, lhs.low) < (rhs.high, rhs.low) }

    public var description: String { encoded }
}

/// URL-safe base64 without padding (RFC 4648 §5).
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// The text of `bytes`: 4 characters per 3 bytes, no padding.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index < bytes.count {
            let b0 = UInt32(bytes[index])
            let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
            let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            let available = min(3, bytes.count - index)
            for position in 0...available {
                out.append(alphabet[Int((triple >> UInt32(18 - 6 * position)) & 63)])
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The 6-bit value of a base64url character, nil for any other byte.
    @inline(__always)
    public static func value(of character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): 62
        case UInt8(ascii: "_"): 63
        default: nil
        }
    }

    /// The bytes of `text`; nil for any character outside the alphabet or non-zero padding bits.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var out = [UInt8]()
        var accumulator: UInt32 = 0
        var bits = 0
        for character in text.utf8 {
            guard let value = value(of: character) else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // Leftover bits must be zero padding of fewer than 6 bits, as `encode` writes them.
        guard bits < 6, accumulator & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
    }
}
