/// A strict RFC 8259 JSON parser over UTF-8 bytes, written for configuration files.
///
/// Stricter than most: no comments, no trailing commas, no duplicate keys, no invalid UTF-8 or lone surrogates, no
/// unescaped control characters, nothing after the document; at most `maximumBytes` of input and `maximumDepth`
/// levels of nesting, so hostile input costs bounded memory and stack. A leading UTF-8 byte order mark is ignored
/// (RFC 8259 §8.1 allows that; Windows editors write one). Every error carries line and column.
struct JSONParser {
    /// The largest document accepted: 1 MiB, far beyond any cluster definition.
    static let maximumBytes = 1 << 20
    /// The deepest nesting of arrays and objects accepted; bounds the parser's recursion.
    static let maximumDepth = 64
    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    private let bytes: [UInt8]
    private var position: Int
    private var depth = 0

    private init(bytes: [UInt8], position: Int) {
        self.bytes = bytes
        self.position = position
    }

    /// Parses one complete JSON document.
    static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        guard bytes.count <= maximumBytes else {
            throw JSONParseError(
                .tooLarge(byteCount: bytes.count, limit: maximumBytes), at: maximumBytes, in: bytes)
        }
        var parser = JSONParser(bytes: bytes, position: bytes.starts(with: byteOrderMark) ? byteOrderMark.count : 0)
        try parser.skipWhitespace()
        let value = try parser.parseValue()
        try parser.skipWhitespace()
        guard parser.position == bytes.count else { throw parser.error(.trailingContent) }
        return value
    }

    // MARK: Values

    private mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard position < bytes.count else { throw error(.unexpectedEnd(expected: "a value")) }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try parseLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try parseLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try parseLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw unexpected(expected: "a value")
        }
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        position += 1  // "{"
        var members: [(String, JSONValue)] = []
        var keys: Set<String> = []
        try skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return .object(members)
        }
        while true {
            guard position < bytes.count else { throw error(.unexpectedEnd(expected: "a key in double quotes")) }
            guard bytes[position] == UInt8(ascii: "\"") else { throw unexpected(expected: "a key in double quotes") }
            let keyStart = position
            let key = try parseString()
            guard keys.insert(key).inserted else { throw error(.duplicateKey(key), at: keyStart) }
            try skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after the key")
            try skipWhitespace()
            members.append((key, try parseValue()))
            try skipWhitespace()
            if try atClosing(UInt8(ascii: "}"), expected: "',' or '}'") { break }
        }
        depth -= 1
        return .object(members)
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        position += 1  // "["
        var elements: [JSONValue] = []
        try skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue())
            try skipWhitespace()
            if try atClosing(UInt8(ascii: "]"), expected: "',' or ']'") { break }
        }
        depth -= 1
        return .array(elements)
    }

    private mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        guard depth <= Self.maximumDepth else { throw error(.tooDeep(limit: Self.maximumDepth)) }
    }

    /// After a member or element: consumes `closing` (true) or a comma that a further item follows (false).
    private mutating func atClosing(_ closing: UInt8, expected: String) throws(JSONParseError) -> Bool {
        guard position < bytes.count else { throw error(.unexpectedEnd(expected: expected)) }
        switch bytes[position] {
        case closing:
            position += 1
            return true
        case UInt8(ascii: ","):
            let comma = position
            position += 1
            try skipWhitespace()
            if position < bytes.count, bytes[position] == closing {
                throw error(.trailingComma(closing: Character(Unicode.Scalar(closing))), at: comma)
            }
            return false
        default:
            throw unexpected(expected: expected)
        }
    }

    private mutating func parseLiteral(_ word: String, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
        for byte in word.utf8 {
            guard position < bytes.count else { throw error(.unexpectedEnd(expected: word)) }
            guard bytes[position] == byte else { throw unexpected(expected: word) }
            position += 1
        }
        return value
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = position
        if bytes[position] == UInt8(ascii: "-") {
            position += 1
        }
        guard position < bytes.count, isDigit(bytes[position]) else {
            throw position < bytes.count
                ? unexpected(expected: "a digit after '-'") : error(.unexpectedEnd(expected: "a digit after '-'"))
        }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            if position < bytes.count, isDigit(bytes[position]) { throw error(.leadingZero, at: start) }
        } else {
            skipDigits()
        }
        var isIntegerLiteral = true
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            isIntegerLiteral = false
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw error(.missingDigits(after: "the decimal point"))
            }
            skipDigits()
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            isIntegerLiteral = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw error(.missingDigits(after: "the exponent marker"))
            }
            skipDigits()
        }
        return JSONNumber(
            text: String(decoding: bytes[start..<position], as: UTF8.self), isIntegerLiteral: isIntegerLiteral)
    }

    private mutating func skipDigits() {
        while position < bytes.count, isDigit(bytes[position]) {
            position += 1
        }
    }

    private func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    // MARK: Strings

    /// Parses the string starting at the opening quote under `position`.
    private mutating func parseString() throws(JSONParseError) -> String {
        let opening = position
        position += 1
        var decoded: [UInt8] = []
        var runStart = position  // start of the bytes not yet copied into `decoded`
        while true {
            guard position < bytes.count else { throw error(.unterminatedString, at: opening) }
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                decoded.append(contentsOf: bytes[runStart..<position])
                position += 1
                return String(decoding: decoded, as: UTF8.self)
            case UInt8(ascii: "\\"):
                decoded.append(contentsOf: bytes[runStart..<position])
                try parseEscape(into: &decoded)
                runStart = position
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                // Almost always a missing closing quote rather than a deliberate raw line break.
                throw error(.unterminatedString, at: opening)
            case 0..<0x20:
                throw error(.controlCharacter(byte))
            case 0x80...:
                position += try utf8SequenceLength(at: position)
            default:
                position += 1
            }
        }
    }

    /// Decodes the escape under `position` (at its backslash) and appends its UTF-8 bytes.
    private mutating func parseEscape(into decoded: inout [UInt8]) throws(JSONParseError) {
        let backslash = position
        position += 1
        guard position < bytes.count else { throw error(.unexpectedEnd(expected: "an escape character")) }
        let simple: UInt8? =
            switch bytes[position] {
            case UInt8(ascii: "\""): UInt8(ascii: "\"")
            case UInt8(ascii: "\\"): UInt8(ascii: "\\")
            case UInt8(ascii: "/"): UInt8(ascii: "/")
            case UInt8(ascii: "b"): 0x08
            case UInt8(ascii: "f"): 0x0C
            case UInt8(ascii: "n"): 0x0A
            case UInt8(ascii: "r"): 0x0D
            case UInt8(ascii: "t"): 0x09
            default: nil
            }
        if let simple {
            decoded.append(simple)
            position += 1
            return
        }
        guard bytes[position] == UInt8(ascii: "u") else {
            throw error(.invalidEscape(found: describe(at: position, quoted: false)), at: backslash)
        }
        position += 1
        let unit = try parseHex4()
        var scalarValue = UInt32(unit)
        switch unit {
        case 0xD800...0xDBFF:
            guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                bytes[position + 1] == UInt8(ascii: "u")
            else { throw error(.loneSurrogate(unit), at: backslash) }
            position += 2
            let low = try parseHex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw error(.loneSurrogate(unit), at: backslash) }
            scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
        case 0xDC00...0xDFFF:
            throw error(.loneSurrogate(unit), at: backslash)
        default:
            break
        }
        guard let scalar = Unicode.Scalar(scalarValue) else { throw error(.invalidUnicodeEscape, at: backslash) }
        decoded.append(contentsOf: String(Character(scalar)).utf8)
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard position < bytes.count else { throw error(.invalidUnicodeEscape) }
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error(.invalidUnicodeEscape)
            }
            value = value << 4 | UInt16(digit)
            position += 1
        }
        return value
    }

    /// Length of the well-formed UTF-8 sequence starting at `index` (Unicode Table 3-7: no overlong forms, no
    /// surrogates, nothing above U+10FFFF).
    private func utf8SequenceLength(at index: Int) throws(JSONParseError) -> Int {
        let lead = bytes[index]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            secondRange = 0x80...0x9F
        case 0xF0:
            length = 4
            secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            secondRange = 0x80...0x8F
        default: throw error(.invalidUTF8, at: index)
        }
        guard index + length <= bytes.count else { throw error(.invalidUTF8, at: index) }
        guard secondRange.contains(bytes[index + 1]) else { throw error(.invalidUTF8, at: index) }
        for offset in 2..<length where bytes[index + offset] & 0xC0 != 0x80 {
            throw error(.invalidUTF8, at: index)
        }
        return length
    }

    // MARK: Whitespace and errors

    /// Skips JSON whitespace; a `//` or `/*` where a token may start is reported as a comment.
    private mutating func skipWhitespace() throws(JSONParseError) {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                position += 1
            case UInt8(ascii: "/"):
                let next = position + 1 < bytes.count ? bytes[position + 1] : 0
                if next == UInt8(ascii: "/") || next == UInt8(ascii: "*") { throw error(.comment) }
                return
            default:
                return
            }
        }
    }

    private mutating func expect(_ byte: UInt8, _ expected: String) throws(JSONParseError) {
        guard position < bytes.count else { throw error(.unexpectedEnd(expected: expected)) }
        guard bytes[position] == byte else { throw unexpected(expected: expected) }
        position += 1
    }

    private func error(_ problem: JSONParseError.Problem, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(problem, at: offset ?? position, in: bytes)
    }

    private func unexpected(expected: String) -> JSONParseError {
        error(.unexpectedCharacter(found: describe(at: position, quoted: true), expected: expected))
    }

    /// The character at `index` for a message: `'x'`, a control byte as `U+000A`, a typographic quote as
    /// `'“' (U+201C)` so a pasted smart quote is recognisable.
    private func describe(at index: Int, quoted: Bool) -> String {
        let byte = bytes[index]
        if (0x21...0x7E).contains(byte) {
            return quoted ? "'\(Character(Unicode.Scalar(byte)))'" : String(Character(Unicode.Scalar(byte)))
        }
        if byte < 0x80 {
            return "U+" + String(repeating: "0", count: byte < 0x10 ? 3 : 2) + String(byte, radix: 16, uppercase: true)
        }
        guard let length = try? utf8SequenceLength(at: index),
            let scalar = String(decoding: bytes[index..<index + length], as: UTF8.self).unicodeScalars.first
        else { return "byte 0x" + String(byte, radix: 16, uppercase: true) }
        let code = String(scalar.value, radix: 16, uppercase: true)
        let padded = "U+" + String(repeating: "0", count: max(0, 4 - code.count)) + code
        return JSONValue.quoted(String(Character(scalar))).dropFirst().dropLast() == String(Character(scalar))
            ? "'\(Character(scalar))' (\(padded))" : padded
    }
}
