// Identifiers, clocks and version vectors: the building blocks every message uses.
//
// NodeID      8 bytes big-endian
// SessionID   16 bytes: high, low (big-endian)
// Timestamp   zig-zag varint of millis
// HLCTimestamp  zig-zag varint wall, varint logical (≤ UInt32.max)
// Stamp       HLCTimestamp, NodeID
// Dot         NodeID, varint counter
// VersionVector  varint count, then (NodeID, varint counter) in strictly ascending node order, counters > 0

/// Smallest encodings, in bytes, used to reject collection counts that cannot fit in the remaining input.
enum WireSize {
    static let nodeID = 8
    static let sessionID = 16
    static let stamp = 8 + 2
    static let vectorEntry = 8 + 1
}

extension ByteWriter {
    mutating func write(_ node: NodeID) { writeUInt64(node.rawValue) }

    mutating func write(_ id: SessionID) {
        writeUInt64(id.high)
        writeUInt64(id.low)
    }

    mutating func write(_ time: Timestamp) { writeSignedVarint(time.millis) }

    mutating func write(_ time: HLCTimestamp) {
        writeSignedVarint(time.wall)
        writeVarint(UInt64(time.logical))
    }

    mutating func write(_ stamp: Stamp) {
        write(stamp.time)
        write(stamp.node)
    }

    mutating func write(_ dot: Dot) {
        write(dot.origin)
        writeVarint(dot.counter)
    }

    mutating func write(_ vector: VersionVector) {
        writeVarint(UInt64(vector.entries.count))
        for entry in vector.entries {
            write(entry.node)
            writeVarint(entry.counter)
        }
    }
}

extension ByteReader {
    mutating func readNodeID() throws(WireError) -> NodeID { NodeID(rawValue: try readUInt64()) }

    mutating func readSessionID() throws(WireError) -> SessionID {
        let high = try readUInt64()
        return SessionID(high: high, low: try readUInt64())
    }

    mutating func readTimestamp() throws(WireError) -> Timestamp { Timestamp(millis: try readSignedVarint()) }

    mutating func readHLCTimestamp() throws(WireError) -> HLCTimestamp {
        let wall = try readSignedVarint()
        return HLCTimestamp(wall: wall, logical: try readVarintUInt32(field: "hlc.logical"))
    }

    mutating func readStamp() throws(WireError) -> Stamp {
        let time = try readHLCTimestamp()
        return Stamp(time: time, node: try readNodeID())
    }

    mutating func readDot() throws(WireError) -> Dot {
        let origin = try readNodeID()
        return Dot(origin: origin, counter: try readVarint())
    }

    /// Reads a vector, insisting on the canonical form `VersionVector` keeps (ascending nodes, no zeros), so
    /// a decoded vector re-encodes to the same bytes.
    mutating func readVersionVector(field: String) throws(WireError) -> VersionVector {
        let count = try readCount(
            minimumElementSize: WireSize.vectorEntry, limit: WireCodec.maxVersionVectorEntries)
        var entries = [(NodeID, UInt64)]()
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let start = offset
            let node = try readNodeID()
            let counter = try readVarint()
            if let previous = entries.last?.0, previous >= node {
                throw failure(.invalidValue(field: field, value: "node \(node) after \(previous)"), at: start)
            }
            guard counter > 0 else {
                throw failure(.invalidValue(field: field, value: "zero counter for node \(node)"), at: start)
            }
            entries.append((node, counter))
        }
        // Inserted in descending order each entry lands at the front, which `VersionVector.raise` finds at
        // once; ascending order would scan the whole vector per entry.
        return VersionVector(entries.reversed())
    }
}
