/// A settings field (membership, replication) out of range: names the field, its value and the rule it breaks.
public struct SettingsError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case notPositive
        case notAbove(bound: String, boundValue: Int64)
        case below(bound: String, boundValue: Int64)
        case notBelow(bound: String, boundValue: Int64)
        case badAddress
        case invalid(reason: String)
    }

    /// The offending field, as spelled in its settings struct (`seeds[1]` for one seed).
    public let field: String
    /// The offending value, as text.
    public let value: String
    private let code: Code

    private init(field: String, value: String, code: Code) {
        self.field = field
        self.value = value
        self.code = code
    }

    static func notPositive(field: String, value: Int64) -> Self {
        Self(field: field, value: String(value), code: .notPositive)
    }

    static func notAbove(field: String, value: Int64, bound: String, boundValue: Int64) -> Self {
        Self(field: field, value: String(value), code: .notAbove(bound: bound, boundValue: boundValue))
    }

    static func below(field: String, value: Int64, bound: String, boundValue: Int64) -> Self {
        Self(field: field, value: String(value), code: .below(bound: bound, boundValue: boundValue))
    }

    static func notBelow(field: String, value: Int64, bound: String, boundValue: Int64) -> Self {
        Self(field: field, value: String(value), code: .notBelow(bound: bound, boundValue: boundValue))
    }

    static func invalid(field: String, value: String, reason: String) -> Self {
        Self(field: field, value: value, code: .invalid(reason: reason))
    }

    static func badAddress(field: String, value: String) -> Self {
        Self(field: field, value: value, code: .badAddress)
    }

    /// One line naming the field, its value and the rule it breaks.
    public var description: String {
        if case .badAddress = code { return "setting \(field) = \"\(value)\" \(problem)" }
        return "setting \(field) = \(value) \(problem)"
    }

    /// What is wrong, phrased to follow the value: `must be greater than 0`.
    public var problem: String {
        switch code {
        case .notPositive: "must be greater than 0"
        case .notAbove(let bound, let boundValue): "must be greater than \(bound) (\(boundValue))"
        case .below(let bound, let boundValue): "must be at least \(bound) (\(boundValue))"
        case .notBelow(let bound, let boundValue): "must be less than \(bound) (\(boundValue))"
        case .badAddress: "is not host:port with a port in 1...65535"
        case .invalid(let reason): "is not allowed: \(reason)"
        }
    }

}
