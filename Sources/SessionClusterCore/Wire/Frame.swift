/// The frame header that carries every payload on a TCP link or in a datagram.
///
/// Format (8 bytes, then the payload):
/// ```
/// 0x53 0x43   magic "SC"
/// version     1 byte, `currentVersion`
/// kind        1 byte, `Frame.Kind`
/// length      4 bytes big-endian, the payload's size
/// payload     `length` bytes: a PeerHello, ReplicationMessage, Beacon, clock reading or SwimDatagram
///             (see `WireCodec`)
/// ```
package enum Frame {
    /// The two magic bytes, "SC".
    package static let magic: [UInt8] = [0x53, 0x43]
    /// The wire version this build writes and reads. 2: beacons carry the sender's number of shards, and a link's
    /// envelope may hold several frames. 3: a datagram's envelope counter carries its send time (`ClusterCipher`),
    /// and datagrams older than a bound are dropped — a version-2 node's would all look stale. Nodes of other
    /// versions ignore each other (their frames fail to parse).
    package static let currentVersion: UInt8 = 3
    /// The header's size in bytes.
    package static let headerSize = 8
    /// The default largest accepted payload, in bytes: 16 MiB, far above any session yet bounded.
    package static let defaultMaxPayloadBytes = 16 << 20

    /// What a frame's payload is. Values are part of the wire format: never renumber.
    package enum Kind: UInt8, Hashable, Sendable {
        /// A `PeerHello`, the first frame on a TCP link.
        case hello = 1
        /// A `ReplicationMessage`.
        case replication = 2
        /// A membership `Beacon`.
        case beacon = 3
        /// The sender's wall clock in microseconds (8 bytes), stamping the frame that follows it on the link.
        case clock = 4
        /// A SWIM membership datagram (`SwimDatagram`), sent instead of beacons by nodes running SWIM.
        case swim = 5
    }

    /// A validated header.
    struct Header: Hashable {
        var kind: Kind
        var payloadLength: Int
    }

    /// Validates as much of a header as `bytes` holds, so garbage is rejected from its first bytes; returns
    /// nil while fewer than `headerSize` bytes are available. A payload length above `limit` throws
    /// `tooLarge`, before the payload is awaited or buffered. Offsets count from `bytes.startIndex`.
    static func parseHeader(_ bytes: ArraySlice<UInt8>, limit: Int) throws(WireError) -> Header? {
        let available = bytes.count
        let base = bytes.startIndex
        for index in 0..<min(available, magic.count) where bytes[base + index] != magic[index] {
            throw WireError(.badMagic(found: Array(bytes.prefix(magic.count))), offset: 0)
        }
        if available > 2, bytes[base + 2] != currentVersion {
            throw WireError(.unsupportedVersion(bytes[base + 2]), offset: 2)
        }
        var kind = Kind.hello
        if available > 3 {
            guard let known = Kind(rawValue: bytes[base + 3]) else {
                throw WireError(.unknownFrameKind(bytes[base + 3]), offset: 3)
            }
            kind = known
        }
        guard available >= headerSize else { return nil }
        var length: UInt32 = 0
        for index in 4..<8 { length = length << 8 | UInt32(bytes[base + index]) }
        guard Int(length) <= limit else { throw WireError(.tooLarge(size: Int(length), limit: limit), offset: 4) }
        return Header(kind: kind, payloadLength: Int(length))
    }
}
