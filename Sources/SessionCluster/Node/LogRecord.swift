/// How much a log record matters, lowest first. `ClusterNodeSettings.logLevel` delivers records at or above it.
public enum LogLevel: Int, Comparable, Sendable, CaseIterable, CustomStringConvertible {
    /// Routine per-session happenings: a session expired.
    case debug = 0
    /// Membership and state-transfer progress: a member joined, recovered or left; a transfer started or ended.
    case info = 1
    /// Worth a look but expected: a member is suspect; concurrent writes were merged (at most one a second).
    case notice = 2
    /// Something failed and was repaired or refused: a member is dead, a link was reset, a peer could not be
    /// reached, a peer's clock is ahead, a client's token named lost writes, log records were dropped.
    case warning = 3
    /// Data was lost or the node cannot work as configured: a session's every holder failed.
    case error = 4

    /// The level named `name` (`debug`, `info`, `notice`, `warning`, `error`), or nil.
    public init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = level
    }

    /// The level's name, as written in the text and JSON forms: `debug`, `info`, `notice`, `warning`, `error`.
    public var description: String {
        switch self {
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warning"
        case .error: "error"
        }
    }

    /// Whether `lhs` matters less than `rhs`.
    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One notable event of a node, for `ClusterNodeSettings.logHandler`: a short fixed message (`member joined`)
/// and the specifics as ordered key-value fields (`peer=n2`), so logs can be filtered and parsed.
public struct LogRecord: Sendable {
    /// How much it matters.
    public var level: LogLevel
    /// A short, fixed sentence; the variable parts are in `fields`.
    public var message: String
    /// The specifics, in order: e.g. `peer`, `peer_id`, `session`, `sessions`, `millis`.
    public var fields: [(key: String, value: String)]
    /// The name of the node that logged it (`ClusterNodeSettings.name`).
    public var node: String
    /// When it was logged: wall-clock milliseconds since the Unix epoch.
    public var timestampMillis: Int64

    /// A record; `timestampMillis` is wall-clock milliseconds since the Unix epoch.
    public init(
        level: LogLevel, message: String, fields: [(key: String, value: String)] = [], node: String,
        timestampMillis: Int64
    ) {
        self.level = level
        self.message = message
        self.fields = fields
        self.node = node
        self.timestampMillis = timestampMillis
    }

    /// The value of the first field named `key`, or nil.
    public subscript(field key: String) -> String? {
        fields.first { $0.key == key }?.value
    }

    /// One line of text, logfmt-like, without a line break:
    /// `2026-11-28T03:14:02.123Z info node=n1 member joined peer=n2 replication=127.0.0.1:4001`.
    ///
    /// The timestamp is UTC with milliseconds; the message is written as is (line breaks escaped); a field value
    /// is quoted (`"…"`, with `\"`, `\\`, `\n` escapes) when it is empty or holds a space, `=`, `"`, `\` or a
    /// control character. A key is written with such characters replaced by `_`.
    public var formatted: String {
        var line = Self.iso8601(millis: timestampMillis)
        line += " \(level) node=\(Self.logfmtValue(node)) "
        line += message.contains(where: \.isNewline) ? Self.escapingLineBreaks(message) : message
        for (key, value) in fields {
            line += " \(Self.logfmtKey(key))=\(Self.logfmtValue(value))"
        }
        return line
    }

    /// One JSON object, without a line break: `{"ts":"2026-11-28T03:14:02.123Z","level":"info","node":"n1",
    /// "msg":"member joined","peer":"n2"}` — the fields follow in order, as strings. A field named `ts`,
    /// `level`, `node` or `msg` is written as `field.ts` (…) so that the object's keys stay unique.
    public var json: String {
        var object = "{\"ts\":\"\(Self.iso8601(millis: timestampMillis))\",\"level\":\"\(level)\""
        object += ",\"node\":\(Self.jsonString(node)),\"msg\":\(Self.jsonString(message))"
        for (key, value) in fields {
            let unique = ["ts", "level", "node", "msg"].contains(key) ? "field." + key : key
            object += ",\(Self.jsonString(unique)):\(Self.jsonString(value))"
        }
        return object + "}"
    }
}

extension LogRecord {
    /// `2026-11-28T03:14:02.123Z` for wall-clock milliseconds since the epoch (UTC; proleptic Gregorian).
    static func iso8601(millis: Int64) -> String {
        let milli = Int((millis % 1_000 + 1_000) % 1_000)
        let seconds = (millis - Int64(milli)) / 1_000
        var days = seconds / 86_400
        var second = seconds % 86_400
        if second < 0 {
            second += 86_400
            days -= 1
        }
        // Days since 1970-01-01 to a civil date (H. Hinnant's `civil_from_days`).
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(second / 3_600, 2)):"
            + "\(pad(second / 60 % 60, 2)):\(pad(second % 60, 2)).\(pad(Int64(milli), 3))Z"
    }

    static func needsQuotes(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "=" || scalar == "\"" || scalar == "\\" || scalar.value < 0x20
            || scalar.value == 0x7F
    }

    static func logfmtKey(_ key: String) -> String {
        guard key.unicodeScalars.contains(where: needsQuotes) || key.isEmpty else { return key }
        if key.isEmpty { return "_" }
        return String(String.UnicodeScalarView(key.unicodeScalars.map { needsQuotes($0) ? "_" : $0 }))
    }

    static func logfmtValue(_ value: String) -> String {
        guard value.isEmpty || value.unicodeScalars.contains(where: needsQuotes) else { return value }
        return "\"" + escaped(value) + "\""
    }

    /// Line breaks written as `\n` / `\r`, so that a record stays one line.
    static func escapingLineBreaks(_ message: String) -> String {
        var out = ""
        for character in message {
            switch character {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\r\n": out += "\\r\\n"
            default: out.append(character)
            }
        }
        return out
    }

    static func jsonString(_ value: String) -> String {
        "\"" + escaped(value) + "\""
    }

    /// `\\`, `\"`, `\n`, `\r`, `\t` and `\u00XX` for other control characters: valid in logfmt and in JSON.
    static func escaped(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
