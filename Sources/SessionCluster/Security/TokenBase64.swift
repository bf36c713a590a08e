import SessionClusterCore

/// URL-safe base64 without padding, as `Base64URL` in the core writes it, specialised for the version token's
/// hot path: decoding reads a `String`'s UTF-8 in place, encoding writes the `String` directly — no generic
/// iteration over `StringProtocol`, no intermediate array of characters.
enum TokenBase64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// `Base64URL.decode(text)`: the bytes, nil for a character outside the alphabet or non-zero padding bits.
    static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { characters -> [UInt8]? in
            var out = [UInt8]()
            out.reserveCapacity(characters.count * 3 / 4)
            var accumulator: UInt32 = 0
            var bits = 0
            for character in characters {
                guard let value = Base64URL.value(of: character) else { return nil }
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

    /// `Base64URL.encode(bytes)`, written into one `String` of the exact length.
    static func encode(_ bytes: [UInt8]) -> String {
        let count = (bytes.count * 4 + 2) / 3
        return String(unsafeUninitializedCapacity: count) { out in
            var at = 0
            var index = 0
            while index < bytes.count {
                let b0 = UInt32(bytes[index])
                let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
                let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
                let triple = b0 << 16 | b1 << 8 | b2
                for position in 0...min(3, bytes.count - index) {
                    out[at] = alphabet[Int((triple >> UInt32(18 - 6 * position)) & 63)]
                    at += 1
                }
                index += 3
            }
            return at
        }
    }
}
