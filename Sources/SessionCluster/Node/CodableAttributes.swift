import Foundation
import SessionClusterCore

/// `Codable` attributes: a value is stored as its JSON (Foundation's `JSONEncoder`, keys sorted so equal values
/// are equal bytes) and read back with `JSONDecoder`.
extension SessionChanges {
    /// Sets attribute `name` to `value` encoded as JSON. Throws `.invalidAttribute` when the value cannot be
    /// encoded (a non-finite `Double`, a failing custom `encode(to:)`); nothing is recorded then.
    ///
    /// A `String` given directly goes to `set(_:_: String)` instead, which stores its UTF-8 bytes (read it with
    /// `SessionSnapshot.string(_:)`).
    public mutating func set<Value: Encodable>(_ name: String, _ value: Value) throws(SessionError) {
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
    public func decode<Value: Decodable>(_ type: Value.Type, _ name: String) throws(SessionError) -> Value? {
        guard let bytes = attributes[name] else { return nil }
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
