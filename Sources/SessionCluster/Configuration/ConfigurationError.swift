/// A cluster configuration that cannot be used: which key, which value, and what is wrong with it.
///
/// One line from `description`, e.g. `replication.mode: "fast" is not one of delta, backup`, or for a syntax error
/// `cluster.json:3:17: trailing comma before '}' is not allowed in JSON`. Values are quoted as JSON with control
/// characters escaped; the secret is never quoted, only its length.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file the configuration came from; nil when it was parsed from bytes.
    public let file: String?
    /// 1-based line of a JSON syntax error; nil for errors about a key's value.
    public let line: Int?
    /// 1-based column (in Unicode scalars) of a JSON syntax error; nil for errors about a key's value.
    public let column: Int?
    /// The offending key, as a path from the top of the file: `membership.multicast.port`, `nodes[1].name`.
    /// Empty for errors about the whole document (syntax, size, an unreadable file).
    public let keyPath: String
    /// The offending value as JSON text (`"fast"`, `70000`), shortened when long; nil when there is none to show
    /// (a missing key, an unknown key, a syntax error).
    public let value: String?
    /// What is wrong, phrased to follow the value: `is not one of delta, backup`.
    public let problem: String

    init(
        keyPath: String, value: String?, problem: String, file: String? = nil, line: Int? = nil, column: Int? = nil
    ) {
        self.keyPath = keyPath
        self.value = value
        self.problem = problem
        self.file = file
        self.line = line
        self.column = column
    }

    /// A JSON syntax error, positioned.
    init(syntax error: JSONParseError) {
        self.init(keyPath: "", value: nil, problem: error.message, line: error.line, column: error.column)
    }

    /// The same error, attributed to `file`.
    func inFile(_ file: String) -> ConfigurationError {
        ConfigurationError(
            keyPath: keyPath, value: value, problem: problem, file: file, line: line, column: column)
    }

    /// One line: `[file:line:column: | line L, column C: ][keyPath: ][value ]problem`.
    public var description: String {
        var text = ""
        if let file {
            text += file
            if let line, let column { text += ":\(line):\(column)" }
            text += ": "
        } else if let line, let column {
            text += "line \(line), column \(column): "
        }
        // `key: value problem` when there is a value, `key problem` when there is none (a missing or unknown key).
        if !keyPath.isEmpty { text += keyPath + (value == nil ? " " : ": ") }
        if let value { text += value + " " }
        return text + problem
    }
}
