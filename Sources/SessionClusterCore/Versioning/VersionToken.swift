/// The client's compact version token: the version vector a response was built from, as URL-safe base64 of
/// `count, (node id: 8 bytes, counter: varint)*`. About 14 characters per node that ever wrote the session.
///
/// A node serves a request only from a copy whose vector covers the token (`VersionVector.covers(_:)`).
/// Tokens are not secret (they reveal write counts) and need no integrity protection: a forged token can only
/// make its own requests wait or fail.
extension VersionVector {
    /// Most entries a token may carry; a longer one is refused when parsed.
    public static let maxTokenEntries = 64

    /// The token text for this vector.
    public var token: String {
        var writer = ByteWriter()
        writer.writeVarint(UInt64(entries.count))
        for entry in entries {
            writer.writeUInt64(entry.node.rawValue)
            writer.writeVarint(entry.counter)
        }
        return Base64URL.encode(writer.bytes)
    }

    /// Parses a token; nil for anything malformed (then the request is served as if it had none).
    public init?(token: some StringProtocol) {
        guard token.utf8.count <= 16 + Self.maxTokenEntries * 26, let bytes = Base64URL.decode(token) else {
            return nil
        }
        var reader = ByteReader(bytes)
        do throws(WireError) {
            let count = try reader.readVarint()
            guard count <= UInt64(Self.maxTokenEntries) else { return nil }
            var pairs = [(NodeID, UInt64)]()
            var previous: UInt64?
            for _ in 0..<count {
                let node = try reader.readUInt64()
                let counter = try reader.readVarint()
                guard counter > 0, previous.map({ $0 < node }) ?? true else { return nil }
                previous = node
                pairs.append((NodeID(rawValue: node), counter))
            }
            try reader.expectEnd()
            self.init(pairs)
        } catch {
            return nil
        }
    }
}
