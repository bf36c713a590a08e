/// A parsed JSON document, as produced by `JSONParser`.
///
/// Objects keep their members in document order (so error messages and unknown-key reports follow the file) and,
/// because the parser rejects duplicate keys, each key appears once.
enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// The kind of value with its article, for messages: "must be a string, not a number".
    var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Compact JSON text of the value, cut to about `limit` characters, for quoting it in an error message.
    ///
    /// Control, bidirectional-override and line-separator characters are escaped, so a hostile file cannot forge
    /// extra log lines or reorder the text of the message it causes.
    func rendered(limit: Int = 80) -> String {
        var text = ""
        append(to: &text, budget: limit + 1)
        guard text.count > limit else { return text }
        return String(text.prefix(limit)) + "…"
    }

    private func append(to text: inout String, budget: Int) {
        guard text.utf8.count <= budget * 4 else { return }
        switch self {
        case .null: text += "null"
        case .bool(let value): text += value ? "true" : "false"
        case .number(let number): text += number.text
        case .string(let string): text += JSONValue.quoted(string)
        case .array(let elements):
            text += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { text += ", " }
                element.append(to: &text, budget: budget)
                if text.utf8.count > budget * 4 { break }
            }
            text += "]"
        case .object(let members):
            text += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { text += ", " }
                text += JSONValue.quoted(key) + ": "
                value.append(to: &text, budget: budget)
                if text.utf8.count > budget * 4 { break }
            }
            text += "}"
        }
    }

    /// `string` as a JSON string literal, with the characters that could garble a log line escaped.
    static func quoted(_ string: String) -> String {
        var text = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            default:
                if needsEscape(scalar) {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    text += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        return text + "\""
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }
}

extension JSONValue: Equatable {
    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let left), .bool(let right)): left == right
        case (.number(let left), .number(let right)): left == right
        case (.string(let left), .string(let right)): left == right
        case (.array(let left), .array(let right)): left == right
        case (.object(let left), .object(let right)):
            left.count == right.count && zip(left, right).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }
}

/// A JSON number kept as its source text, so integers stay exact: `47001` is the integer 47001, never a `Double`
/// that happens to round-trip, and `1.5` or `1e400` are not integers at all.
struct JSONNumber: Sendable, Equatable {
    /// The number exactly as written in the document.
    let text: String

    /// The value, when it was written as an integer (no fraction, no exponent) that fits in `Int64`.
    let integer: Int64?

    /// Whether it was written without fraction or exponent (it may still be too large for `integer`).
    let isIntegerLiteral: Bool

    init(text: String, isIntegerLiteral: Bool) {
        self.text = text
        self.isIntegerLiteral = isIntegerLiteral
        self.integer = isIntegerLiteral ? Int64(text) : nil
    }

    /// The nearest `Double` (infinite when out of range); configuration fields do not use it, other readers may.
    var double: Double { Double(text) ?? .nan }
}
