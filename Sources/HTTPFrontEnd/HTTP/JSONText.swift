/// A piece of JSON output (RFC 8259), built from escaped parts so that it is always well-formed.
///
/// Output only: compact text, no whitespace, members in the order given. For example
/// `.object([("id", .string(id)), ("attributes", .object(["a": .string("b")]))])` is
/// `{"id":"…","attributes":{"a":"b"}}`.
public struct JSONText: Hashable, Sendable, CustomStringConvertible {
    /// The JSON text.
    public let text: String

    private init(text: String) {
        self.text = text
    }

    /// Wraps text that is already JSON. The caller MUST guarantee it is a well-formed JSON value.
    public static func raw(_ json: String) -> JSONText {
        JSONText(text: json)
    }

    /// A JSON string holding `value`, escaped (see `quoted(_:)`).
    public static func string(_ value: String) -> JSONText {
        JSONText(text: quoted(value))
    }

    /// A JSON number from an integer.
    public static func integer(_ value: some BinaryInteger) -> JSONText {
        JSONText(text: String(value))
    }

    /// A JSON number from a floating-point value; `null` for NaN and infinities, which JSON cannot express.
    public static func number(_ value: Double) -> JSONText {
        value.isFinite ? JSONText(text: String(value)) : .null
    }

    /// `true` or `false`.
    public static func bool(_ value: Bool) -> JSONText {
        JSONText(text: value ? "true" : "false")
    }

    /// `null`.
    public static let null = JSONText(text: "null")

    /// A JSON array of `elements`, in order.
    public static func array(_ elements: [JSONText]) -> JSONText {
        JSONText(text: "[" + elements.map(\.text).joined(separator: ",") + "]")
    }

    /// A JSON object with `members` in the order given. Names SHOULD be unique (RFC 8259 §4); they are not checked.
    public static func object(_ members: [(String, JSONText)]) -> JSONText {
        JSONText(text: "{" + members.map { quoted($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}")
    }

    /// A JSON object from a dictionary, members sorted by name so the output is deterministic.
    public static func object(_ members: [String: JSONText]) -> JSONText {
        object(members.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// A JSON object of string values, members sorted by name — e.g. a session's text attributes.
    public static func object(strings: [String: String]) -> JSONText {
        object(strings.mapValues(JSONText.string))
    }

    /// `value` as a JSON string literal, quotes included.
    ///
    /// `"` and `\` are escaped with a backslash; LF, CR and TAB as `\n`, `\r`, `\t`; every other control
    /// character (U+0000…U+001F) as `\u00XX`. Everything else, non-ASCII included, is written as UTF-8: RFC 8259
    /// requires UTF-8 between systems, so `\u` escapes for it would only cost bytes.
    public static func quoted(_ value: String) -> String {
        let hexDigits = Array("0123456789abcdef".utf8)
        let backslash = UInt8(ascii: "\\")
        var out: [UInt8] = [UInt8(ascii: "\"")]
        out.reserveCapacity(value.utf8.count + 2)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), backslash:
                out += [backslash, byte]
            case UInt8(ascii: "\n"):
                out += [backslash, UInt8(ascii: "n")]
            case UInt8(ascii: "\r"):
                out += [backslash, UInt8(ascii: "r")]
            case UInt8(ascii: "\t"):
                out += [backslash, UInt8(ascii: "t")]
            case 0..<0x20:
                out += [backslash, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")]
                out += [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }

    /// The JSON text as UTF-8 bytes, ready for a response body.
    public var utf8Bytes: [UInt8] { Array(text.utf8) }

    /// The JSON text.
    public var description: String { text }
}
