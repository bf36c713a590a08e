/// The payload of the client's version token: the version vector a response was built from, as
/// `count, (node id: 8 bytes, counter: varint)*` — about 10 bytes per node that ever wrote the session.
///
/// A node serves a request only from a copy whose vector covers the token (`VersionVector.covers(_:)`).
/// The payload alone is not a token: the shell authenticates it (a MAC keyed from the cluster secret and bound
/// to the session id, `VersionTokenSealer` in SessionCluster) before a client sees it, and ignores a token
/// whose MAC fails — a forged token would otherwise make a node pull the session from every peer, or report
/// writes of a departed node as lost.
extension VersionVector {
    /// Most entries a token may carry; a longer one is refused when parsed.
    public static let maxTokenEntries = 64
    /// The longest payload `init?(tokenPayload:)` accepts, in bytes.
    public static let maxTokenPayloadBytes = 10 + maxTokenEntries * 18

    /// The token payload for this vector.
    public var tokenPayload: [UInt8] {
        tokenPayload(afterByte: nil, reserving: 0)
    }

    /// `first` (a sealer's key id) when given, then the token payload, in one array with room for `extra` more
    /// bytes (the MAC): one allocation.
    package func tokenPayload(afterByte first: UInt8?, reserving extra: Int) -> [UInt8] {
        var writer = ByteWriter(capacity: 1 + 10 + entries.count * 18 + extra)
        if let first { writer.writeUInt8(first) }
        writer.writeVarint(UInt64(entries.count))
        for entry in entries {
            writer.writeUInt64(entry.node.rawValue)
            writer.writeVarint(entry.counter)
        }
        return writer.bytes
    }

    /// Parses a payload; nil for anything malformed (then the request is served as if it had no token).
    public init?(tokenPayload: ArraySlice<UInt8>) {
        guard tokenPayload.count <= Self.maxTokenPayloadBytes else { return nil }
        var reader = ByteReader(tokenPayload)
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
