/// One JSON object of a configuration file, read key by key with errors that name the key's full path.
///
/// Construction rejects every key it was not told about, before any value is looked at: a misspelt key is far
/// more often the real mistake than the value its section then falls back to.
struct ConfigurationObject {
    /// Path of the object itself: "" for the document, `membership.multicast`, `nodes[2]`.
    let path: String
    private let members: [(String, JSONValue)]

    init(_ value: JSONValue, at path: String, keys: [String]) throws(ConfigurationError) {
        guard case .object(let members) = value else { throw .wrongType(value, at: path, expected: "an object") }
        for (key, _) in members where !keys.contains(key) {
            throw ConfigurationError(
                keyPath: Self.keyPath(path, key), value: nil, problem: Self.unknownKeyProblem(key, known: keys))
        }
        self.path = path
        self.members = members
    }

    /// Path of `key` in this object.
    func keyPath(_ key: String) -> String { Self.keyPath(path, key) }

    /// The raw value of `key`, nil when absent.
    func value(_ key: String) -> JSONValue? {
        members.first { $0.0 == key }?.1
    }

    /// The raw value of a key the file must have.
    func required(_ key: String) throws(ConfigurationError) -> JSONValue {
        guard let value = value(key) else {
            throw ConfigurationError(keyPath: keyPath(key), value: nil, problem: "is required but missing")
        }
        return value
    }

    /// The nested object at `key`, nil when absent.
    func object(_ key: String, keys: [String]) throws(ConfigurationError) -> ConfigurationObject? {
        guard let value = value(key) else { return nil }
        return try ConfigurationObject(value, at: keyPath(key), keys: keys)
    }

    /// The string at `key`, nil when absent. A `redacted` value is never quoted in errors.
    func string(_ key: String, redacted: Bool = false) throws(ConfigurationError) -> String? {
        guard let value = value(key) else { return nil }
        return try Self.string(value, at: keyPath(key), redacted: redacted)
    }

    /// The boolean at `key`, nil when absent.
    func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else { throw .wrongType(value, at: keyPath(key), expected: "true or false") }
        return flag
    }

    /// The integer at `key`, nil when absent. Only integer literals count: `1.0`, `1e3` and `1.5` are errors, so a
    /// value is never silently rounded.
    func integer(_ key: String) throws(ConfigurationError) -> Int64? {
        guard let value = value(key) else { return nil }
        return try Self.integer(value, at: keyPath(key))
    }

    /// The UDP/TCP port at `key`, nil when absent.
    func port(_ key: String) throws(ConfigurationError) -> UInt16? {
        guard let value = value(key) else { return nil }
        let path = keyPath(key)
        guard case .number(let number) = value, number.isIntegerLiteral else {
            throw .wrongType(value, at: path, expected: "an integer port in 1...65535")
        }
        guard let integer = number.integer, (1...65_535).contains(integer) else {
            throw ConfigurationError(keyPath: path, value: number.text, problem: "is not a port in 1...65535")
        }
        return UInt16(integer)
    }

    /// The enumeration case named by the string at `key`, nil when absent.
    func choice<Choice: RawRepresentable & CaseIterable>(
        _ key: String, as type: Choice.Type = Choice.self
    ) throws(ConfigurationError) -> Choice? where Choice.RawValue == String {
        guard let value = value(key) else { return nil }
        let names = Choice.allCases.map(\.rawValue).joined(separator: ", ")
        guard case .string(let name) = value else {
            throw .wrongType(value, at: keyPath(key), expected: "one of \(names)")
        }
        guard let choice = Choice(rawValue: name) else {
            throw ConfigurationError(keyPath: keyPath(key), value: value.rendered(), problem: "is not one of \(names)")
        }
        return choice
    }

    /// The array at `key` with each element's path, nil when absent.
    func array(_ key: String) throws(ConfigurationError) -> [(value: JSONValue, path: String)]? {
        guard let value = value(key) else { return nil }
        guard case .array(let elements) = value else { throw .wrongType(value, at: keyPath(key), expected: "an array") }
        return elements.enumerated().map { (value: $1, path: "\(keyPath(key))[\($0)]") }
    }

    // MARK: Values outside an object (array elements)

    static func string(_ value: JSONValue, at path: String, redacted: Bool = false) throws(ConfigurationError)
        -> String
    {
        guard case .string(let string) = value else {
            if redacted {
                throw ConfigurationError(
                    keyPath: path, value: nil, problem: "must be a string, not \(value.kindDescription)")
            }
            throw .wrongType(value, at: path, expected: "a string")
        }
        return string
    }

    static func integer(_ value: JSONValue, at path: String) throws(ConfigurationError) -> Int64 {
        guard case .number(let number) = value else { throw .wrongType(value, at: path, expected: "an integer") }
        guard number.isIntegerLiteral else {
            throw ConfigurationError(
                keyPath: path, value: number.text, problem: "must be an integer, without fraction or exponent")
        }
        guard let integer = number.integer else {
            throw ConfigurationError(keyPath: path, value: number.text, problem: "is too large for an integer setting")
        }
        return integer
    }

    static func endpoint(_ value: JSONValue, at path: String) throws(ConfigurationError) -> Endpoint {
        guard case .string(let text) = value else {
            throw .wrongType(value, at: path, expected: "a \"host:port\" string")
        }
        do throws(Endpoint.SyntaxError) {
            return try Endpoint(parsing: text)
        } catch {
            throw ConfigurationError(keyPath: path, value: value.rendered(), problem: error.problem)
        }
    }

    // MARK: Paths and messages

    /// `parent.key`, or `parent["key"]` for a key that is not a plain identifier (so a path is never ambiguous and
    /// never carries raw control characters into a log).
    static func keyPath(_ parent: String, _ key: String) -> String {
        let plain =
            !key.isEmpty
            && key.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
        guard plain else { return "\(parent)[\(JSONValue.quoted(key))]" }
        return parent.isEmpty ? key : "\(parent).\(key)"
    }

    private static func unknownKeyProblem(_ key: String, known: [String]) -> String {
        var problem = "is not a known key; expected one of \(known.joined(separator: ", "))"
        let lowered = key.lowercased()
        if let guess = known.min(by: { editDistance(lowered, $0.lowercased()) < editDistance(lowered, $1.lowercased()) }
        ),
            editDistance(lowered, guess.lowercased()) <= 2
        {
            problem += " (did you mean \(guess)?)"
        }
        return problem
    }

    /// Levenshtein distance, for suggesting the key a typo meant. Keys are short, so the quadratic table is fine;
    /// longer inputs are cut off rather than costing time.
    private static func editDistance(_ left: String, _ right: String) -> Int {
        let a = Array(left.unicodeScalars.prefix(64))
        let b = Array(right.unicodeScalars.prefix(64))
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            previous = current
        }
        return previous[b.count]
    }
}

extension ConfigurationError {
    /// `value` has the wrong JSON type for `path`.
    static func wrongType(_ value: JSONValue, at path: String, expected: String) -> ConfigurationError {
        ConfigurationError(keyPath: path, value: value.rendered(), problem: "must be \(expected)")
    }
}
