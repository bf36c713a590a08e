/// Why a document is not the strict JSON `JSONParser` accepts, and where: 1-based line and column (columns count
/// Unicode scalars, so they match what an editor shows for a UTF-8 file).
struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The rule the document breaks.
    enum Problem: Sendable, Equatable {
        case tooLarge(byteCount: Int, limit: Int)
        case tooDeep(limit: Int)
        case unexpectedEnd(expected: String)
        case unexpectedCharacter(found: String, expected: String)
        case comment
        case trailingComma(closing: Character)
        case duplicateKey(String)
        case unterminatedString
        case controlCharacter(UInt8)
        case invalidEscape(found: String)
        case invalidUnicodeEscape
        case loneSurrogate(UInt16)
        case invalidUTF8
        case leadingZero
        case missingDigits(after: String)
        case trailingContent
    }

    /// The rule the document breaks.
    let problem: Problem
    /// Byte offset of the offending place in the document.
    let offset: Int
    /// 1-based line of `offset`.
    let line: Int
    /// 1-based column of `offset`, in Unicode scalars.
    let column: Int

    /// Locates `offset` in `bytes`.
    init(_ problem: Problem, at offset: Int, in bytes: [UInt8]) {
        self.problem = problem
        self.offset = offset
        var line = 1
        var column = 1
        let bomLength = bytes.starts(with: JSONParser.byteOrderMark) ? JSONParser.byteOrderMark.count : 0
        var index = min(bomLength, offset)
        let end = min(offset, bytes.count)
        while index < end {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {  // not a UTF-8 continuation byte: a new scalar starts
                column += 1
            }
            index += 1
        }
        self.line = line
        self.column = column
    }

    /// What is wrong, without the position.
    var message: String {
        switch problem {
        case .tooLarge(let byteCount, let limit):
            "the document is \(byteCount) bytes, more than the limit of \(limit) bytes"
        case .tooDeep(let limit):
            "arrays and objects are nested more than \(limit) levels deep"
        case .unexpectedEnd(let expected):
            "unexpected end of input; expected \(expected)"
        case .unexpectedCharacter(let found, let expected):
            "unexpected \(found); expected \(expected)"
        case .comment:
            "comments are not allowed in JSON"
        case .trailingComma(let closing):
            "trailing comma before '\(closing)' is not allowed in JSON"
        case .duplicateKey(let key):
            "duplicate key \(JSONValue.quoted(key)) in the same object"
        case .unterminatedString:
            "unterminated string: no closing '\"' on the line where it starts"
        case .controlCharacter(let byte):
            "control character U+\(Self.hex(byte, digits: 4)) must be escaped inside a string"
        case .invalidEscape(let found):
            "invalid escape \\\(found); JSON allows \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX"
        case .invalidUnicodeEscape:
            "\\u must be followed by four hexadecimal digits"
        case .loneSurrogate(let unit):
            "\\u\(Self.hex(unit, digits: 4)) is half of a UTF-16 surrogate pair without its other half"
        case .invalidUTF8:
            "invalid UTF-8 byte sequence"
        case .leadingZero:
            "numbers must not have leading zeros"
        case .missingDigits(let after):
            "expected a digit after \(after)"
        case .trailingContent:
            "unexpected content after the end of the JSON document"
        }
    }

    /// "line L, column C: message".
    var description: String { "line \(line), column \(column): \(message)" }

    private static func hex<T: BinaryInteger>(_ value: T, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
