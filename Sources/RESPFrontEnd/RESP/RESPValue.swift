/// A reply, written in the protocol version the connection chose (`HELLO 2|3`; 2 until then).
///
/// RESP3 types are written in their RESP2 form on a RESP2 connection, as Redis does: a map as a flat array of
/// keys and values, a set as an array, a boolean as the integer 0 or 1, a double as a bulk string, null as the
/// null bulk string (`nullArray` as the null array).
public indirect enum RESPValue: Sendable, Equatable {
    case simple(String)
    /// An error reply; `message` starts with its code (`ERR`, `WRONGTYPE`, `NOAUTH`…).
    case error(String)
    case integer(Int)
    case bulk([UInt8])
    case array([RESPValue])
    /// No value: RESP3 `_`, RESP2 `$-1`.
    case null
    /// No array: RESP3 `_`, RESP2 `*-1` (what Redis answers for e.g. `EXEC` after a failed `WATCH`).
    case nullArray
    case map([(RESPValue, RESPValue)])
    case set([RESPValue])
    case double(Double)
    case boolean(Bool)

    /// `+OK`.
    public static let ok = RESPValue.simple("OK")

    /// A bulk string of UTF-8 text.
    public static func text(_ string: String) -> RESPValue { .bulk(Array(string.utf8)) }

    /// Redis's generic error: `-ERR <message>`.
    public static func err(_ message: String) -> RESPValue { .error("ERR " + message) }

    /// About the bytes this value takes encoded (at least that, in either protocol version): what a reply of many
    /// values is measured by before it is built whole (`KeySpace.maxReplyBytes`).
    var encodedSizeEstimate: Int {
        switch self {
        case .simple(let text), .error(let text): 3 + text.utf8.count
        case .integer, .double: 24
        case .bulk(let bytes): 16 + bytes.count
        case .array(let values), .set(let values): values.reduce(16) { $0 + $1.encodedSizeEstimate }
        case .map(let pairs):
            pairs.reduce(16) { $0 + $1.0.encodedSizeEstimate + $1.1.encodedSizeEstimate }
        case .null, .nullArray, .boolean: 5
        }
    }

    /// Same type and same content.
    public static func == (lhs: RESPValue, rhs: RESPValue) -> Bool {
        switch (lhs, rhs) {
        case (.simple(let a), .simple(let b)), (.error(let a), .error(let b)): a == b
        case (.integer(let a), .integer(let b)): a == b
        case (.bulk(let a), .bulk(let b)): a == b
        case (.array(let a), .array(let b)), (.set(let a), .set(let b)): a == b
        case (.null, .null), (.nullArray, .nullArray): true
        case (.map(let a), .map(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.double(let a), .double(let b)): a == b || (a.isNaN && b.isNaN)
        case (.boolean(let a), .boolean(let b)): a == b
        default: false
        }
    }

    /// The reply's bytes for protocol `version` (2 or 3).
    public func encoded(version: Int) -> [UInt8] {
        var out = [UInt8]()
        encode(into: &out, version: version)
        return out
    }

    /// Appends the reply's bytes for protocol `version` (2 or 3) to `out`.
    public func encode(into out: inout [UInt8], version: Int) {
        let resp3 = version >= 3
        switch self {
        case .simple(let string):
            out.append(UInt8(ascii: "+"))
            Self.appendLine(string, to: &out)
        case .error(let message):
            out.append(UInt8(ascii: "-"))
            Self.appendLine(message, to: &out)
        case .integer(let value):
            out.append(UInt8(ascii: ":"))
            Self.appendNumber(value, to: &out)
        case .bulk(let bytes):
            out.append(UInt8(ascii: "$"))
            Self.appendNumber(bytes.count, to: &out)
            out.append(contentsOf: bytes)
            out.append(contentsOf: Self.crlf)
        case .array(let elements):
            Self.appendAggregate(resp3 ? "*" : "*", elements, to: &out, version: version)
        case .set(let elements):
            Self.appendAggregate(resp3 ? "~" : "*", elements, to: &out, version: version)
        case .null:
            out.append(contentsOf: resp3 ? Array("_\r\n".utf8) : Array("$-1\r\n".utf8))
        case .nullArray:
            out.append(contentsOf: resp3 ? Array("_\r\n".utf8) : Array("*-1\r\n".utf8))
        case .map(let pairs):
            out.append(resp3 ? UInt8(ascii: "%") : UInt8(ascii: "*"))
            Self.appendNumber(resp3 ? pairs.count : pairs.count * 2, to: &out)
            for (key, value) in pairs {
                key.encode(into: &out, version: version)
                value.encode(into: &out, version: version)
            }
        case .double(let value):
            let text = Self.doubleText(value)
            if resp3 {
                out.append(UInt8(ascii: ","))
                Self.appendLine(text, to: &out)
            } else {
                RESPValue.text(text).encode(into: &out, version: version)
            }
        case .boolean(let value):
            if resp3 {
                out.append(contentsOf: Array((value ? "#t\r\n" : "#f\r\n").utf8))
            } else {
                RESPValue.integer(value ? 1 : 0).encode(into: &out, version: version)
            }
        }
    }

    private static let crlf: [UInt8] = [13, 10]

    /// A simple string or error line: CR and LF inside would break the framing, so they become spaces (as Redis
    /// does for error messages).
    private static func appendLine(_ string: String, to out: inout [UInt8]) {
        for byte in string.utf8 { out.append(byte == 13 || byte == 10 ? 32 : byte) }
        out.append(contentsOf: crlf)
    }

    private static func appendNumber(_ value: Int, to out: inout [UInt8]) {
        out.append(contentsOf: String(value).utf8)
        out.append(contentsOf: crlf)
    }

    private static func appendAggregate(
        _ marker: Character, _ elements: [RESPValue], to out: inout [UInt8], version: Int
    ) {
        out.append(contentsOf: String(marker).utf8)
        appendNumber(elements.count, to: &out)
        for element in elements { element.encode(into: &out, version: version) }
    }

    /// A double as Redis writes it: `inf`, `-inf`, `nan`, else the shortest text that reads back the same.
    static func doubleText(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value == value.rounded(), abs(value) < 1e17 { return String(Int64(value)) }
        return "\(value)"
    }
}
