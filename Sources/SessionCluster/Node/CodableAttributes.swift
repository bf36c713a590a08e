import Foundation
import SessionClusterCore

/// `Codable` attributes: a value is stored as its JSON (Foundation's `JSONEncoder`, keys sorted so equal values
/// are equal bytes) and read back with `JSONDecoder`.
extension SessionChanges {
    /// Sets attribute `name` to `value` encoded as JSON. Throws `.invalidAttribute` when the value cannot be
    /// encoded (a non-finite `Double`, a failing custom `encode(to:)`); nothing is recorded then.
    ///
    /// A `String` is stored as its UTF-8 bytes and `[UInt8]` as is, whichever overload the compiler picks (so
    /// `set("k", "hi")`, `try set("k", Array("hi".utf8))` and `set("k", text)` store the same bytes); read them
    /// with `string(_:)`, `attributes[name]`, or `decode(String.self, name)` / `decode([UInt8].self, name)`.
    public mutating func set<Value: Encodable>(_ name: String, _ value: Value) throws(SessionError) {
        if let text = value as? String { return set(name, text) }
        if let bytes = value as? [UInt8] { return set(name, bytes) }
        let bytes: [UInt8]
        do {
            bytes = Array(try JSONAttributes.encoder.encode(value))
        } catch {
            throw .invalidAttribute(name: name, reason: "cannot encode \(Value.self) as JSON: \(error)")
        }
        set(name, bytes)
    }
}

extension SessionSnapshot {
    /// Attribute `name` decoded from JSON as `type`; nil when the session has no such attribute. Throws
    /// `.invalidAttribute` when it holds something that does not decode as `type`.
    /// `String` and `[UInt8]` are read as stored (UTF-8 text, bytes), not as JSON: see `SessionChanges.set`.
    public func decode<Value: Decodable>(_ type: Value.Type, _ name: String) throws(SessionError) -> Value? {
        guard let bytes = attributes[name] else { return nil }
        if Value.self == String.self {
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw .invalidAttribute(name: name, reason: "is not UTF-8 text")
            }
            return text as? Value
        }
        if Value.self == [UInt8].self { return bytes as? Value }
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw .invalidAttribute(name: name, reason: "does not decode as \(Value.self): \(error)")
        }
    }
}

extension SessionID {
    /// The session named `name`: every node maps one name to one session id (SHA-256 of the name's UTF-8 bytes,
    /// `init(forKey:)`), never one `SessionID.random()` could give. For sessions named by the application or a
    /// framework's session store (a key), created with `ClusterNode.create(id:_:)` or
    /// `update(_:token:creatingIfAbsent:_:)`. A name is not secret: do not hand such an id to a browser as its
    /// login; its version token still guards read-your-writes.
    public init(name: String) { self.init(forKey: Array(name.utf8)) }
}

/// The shared JSON coder settings of attributes.
enum JSONAttributes {
    // JSONEncoder is thread-safe for `encode` once configured (Foundation documents it as Sendable).
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
}
