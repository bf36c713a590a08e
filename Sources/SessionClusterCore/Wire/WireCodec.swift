/// The binary wire codec of the cluster: replication messages, beacons and link greetings, and the frames
/// that carry them (`WireCodec+Frame.swift`).
///
/// Payload format, by value (all composed in declaration order, nothing self-describing):
/// - `NodeID`: 8 bytes big-endian; `SessionID`: 16 bytes (`high` then `low`, big-endian).
/// - counters, ids, epochs, sequences, lengths and counts: LEB128 varints; `Timestamp` and other `Int64`:
///   zig-zag varints.
/// - optionals: a presence byte 0/1, then the value; bools: one byte 0/1; enums with raw values: one byte.
/// - strings: varint byte length, then UTF-8; byte strings: varint length, then the bytes.
/// - collections: varint count, then the elements. Version vectors in ascending node order, attributes in
///   ascending name order, so one value has one encoding.
///
/// Decoders accept exactly what the encoders write (plus over-long varints): anything else, including bytes
/// left over after a complete value, throws `WireError`.
package enum WireCodec {
    /// The largest version vector accepted, in entries. `VersionVector` builds in time quadratic in its size,
    /// so this bounds the work a hostile frame can cause; real vectors hold one entry per node incarnation
    /// that wrote the session, a handful.
    package static let maxVersionVectorEntries = 1024

    /// A replication message as a payload: a type byte (see `ReplicationMessageType`), then its fields.
    package static func encode(_ message: ReplicationMessage) -> [UInt8] {
        var writer = ByteWriter(capacity: 128)
        writer.write(message)
        return writer.bytes
    }

    /// Decodes a payload written by `encode(_:)-ReplicationMessage`, consuming every byte.
    package static func decodeReplicationMessage(_ bytes: [UInt8]) throws(WireError) -> ReplicationMessage {
        var reader = ByteReader(bytes)
        let message = try reader.readReplicationMessage()
        try reader.expectEnd()
        return message
    }

    /// A beacon as a payload: cluster, sender, status, sequence, gossip entries.
    package static func encode(_ beacon: Beacon) -> [UInt8] {
        var writer = ByteWriter(capacity: 64 + 48 * beacon.members.count)
        writer.write(beacon)
        return writer.bytes
    }

    /// Decodes a payload written by `encode(_:)-Beacon`, consuming every byte.
    package static func decodeBeacon(_ bytes: [UInt8]) throws(WireError) -> Beacon {
        var reader = ByteReader(bytes)
        let beacon = try reader.readBeacon()
        try reader.expectEnd()
        return beacon
    }

    /// A link greeting as a payload: cluster, then the sender's member info.
    package static func encode(_ hello: PeerHello) -> [UInt8] {
        var writer = ByteWriter(capacity: 64)
        writer.write(hello)
        return writer.bytes
    }

    /// Decodes a payload written by `encode(_:)-PeerHello`, consuming every byte.
    package static func decodePeerHello(_ bytes: [UInt8]) throws(WireError) -> PeerHello {
        var reader = ByteReader(bytes)
        let hello = try reader.readPeerHello()
        try reader.expectEnd()
        return hello
    }
}
