// Sessions and their replicated content.
//
// AttributeSlot   optional bytes value (absent = tombstone), Stamp
// Invalidation    Stamp, reason byte (InvalidationReason raw value), optional SessionID renamedTo
// SessionContent  optional Timestamp createdAt, Timestamp lastAccess, optional zig-zag maxInactive,
//                 optional Stamp maxInactiveStamp, varint count + (string name, AttributeSlot) in ascending
//                 name order (names unique), optional Invalidation
// Session         SessionID, SessionContent, VersionVector

extension WireSize {
    static let attribute = 1 + 1 + stamp  // empty name, absent value, stamp
    static let sessionContent = 6  // five absent-or-tiny fields and an empty attribute count
    static let session = sessionID + sessionContent + 1
}

extension ByteWriter {
    mutating func write(_ slot: AttributeSlot) {
        writeOptional(slot.value) { $0.writeBytes($1) }
        write(slot.stamp)
    }

    mutating func write(_ invalidation: Invalidation) {
        write(invalidation.stamp)
        writeUInt8(invalidation.reason.rawValue)
        writeOptional(invalidation.renamedTo) { $0.write($1) }
    }

    mutating func write(_ content: SessionContent) {
        writeOptional(content.createdAt) { $0.write($1) }
        write(content.lastAccess)
        writeOptional(content.maxInactive) { $0.writeSignedVarint($1) }
        writeOptional(content.maxInactiveStamp) { $0.write($1) }
        writeVarint(UInt64(content.attributes.count))
        // `AttributeMap` iterates in ascending name order: one content has one encoding. Each entry is written
        // from the map's bytes as `writeString(name)` and `write(slot)` would write it, without copying it out.
        content.attributes.forEachEntry { name, value, stamp in
            writeBytes(name)
            writeOptional(value) { $0.writeBytes($1) }
            write(stamp)
        }
        writeOptional(content.invalidation) { $0.write($1) }
    }

    mutating func write(_ session: Session) {
        write(session.id)
        write(session.content)
        write(session.version)
    }
}

extension ByteReader {
    mutating func readAttributeSlot() throws(WireError) -> AttributeSlot {
        let value = try readOptional(field: "attribute.value") { reader throws(WireError) in try reader.readBytes() }
        return AttributeSlot(value: value, stamp: try readStamp())
    }

    mutating func readInvalidation() throws(WireError) -> Invalidation {
        let stamp = try readStamp()
        let start = offset
        let raw = try readUInt8()
        guard let reason = InvalidationReason(rawValue: raw) else {
            throw failure(.invalidValue(field: "invalidation.reason", value: "\(raw)"), at: start)
        }
        let renamedTo = try readOptional(field: "invalidation.renamedTo") { reader throws(WireError) in
            try reader.readSessionID()
        }
        return Invalidation(stamp: stamp, reason: reason, renamedTo: renamedTo)
    }

    mutating func readSessionContent() throws(WireError) -> SessionContent {
        let createdAt = try readOptional(field: "content.createdAt") { reader throws(WireError) in
            try reader.readTimestamp()
        }
        let lastAccess = try readTimestamp()
        let maxInactive = try readOptional(field: "content.maxInactive") { reader throws(WireError) in
            try reader.readSignedVarint()
        }
        let maxInactiveStamp = try readOptional(field: "content.maxInactiveStamp") { reader throws(WireError) in
            try reader.readStamp()
        }
        let count = try readCount(minimumElementSize: WireSize.attribute)
        var attributes = AttributeMap(minimumCapacity: count)
        for _ in 0..<count {
            let start = offset
            let name = try readString(field: "attribute.name")
            let slot = try readAttributeSlot()
            // Canonically equivalent spellings are one name: a duplicate would silently lose a slot.
            guard attributes.updateValue(slot, forKey: name) == nil else {
                let shown = name.count > 64 ? name.prefix(64) + "…" : name[...]
                throw failure(
                    .invalidValue(field: "content.attributes", value: "duplicate name \"\(shown)\""), at: start)
            }
        }
        let invalidation = try readOptional(field: "content.invalidation") { reader throws(WireError) in
            try reader.readInvalidation()
        }
        return SessionContent(
            createdAt: createdAt, lastAccess: lastAccess, maxInactive: maxInactive,
            maxInactiveStamp: maxInactiveStamp, attributes: attributes, invalidation: invalidation)
    }

    mutating func readSession() throws(WireError) -> Session {
        let id = try readSessionID()
        let content = try readSessionContent()
        return Session(id: id, content: content, version: try readVersionVector(field: "session.version"))
    }
}

extension WireCodec {
    /// A list of sessions as a payload (a snapshot file's record): varint count, then each `Session`.
    package static func encode(sessions: some Collection<Session>) -> [UInt8] {
        var writer = ByteWriter(capacity: 16 + sessions.reduce(0) { $0 + $1.estimatedBytes })
        writer.writeVarint(UInt64(sessions.count))
        for session in sessions { writer.write(session) }
        return writer.bytes
    }

    /// Appends what `encode(sessions:)` returns to `buffer`, in place (the append log encodes a batch straight into
    /// the buffer it seals and writes).
    package static func encode(sessions: some Collection<Session>, appendingTo buffer: inout [UInt8]) {
        var writer = ByteWriter()
        writer.swapBytes(with: &buffer)
        writer.writeVarint(UInt64(sessions.count))
        for session in sessions { writer.write(session) }
        writer.swapBytes(with: &buffer)
    }

    /// Decodes a payload written by `encode(sessions:)`, consuming every byte.
    package static func decodeSessions(_ bytes: [UInt8]) throws(WireError) -> [Session] {
        var reader = ByteReader(bytes)
        let count = try reader.readCount(minimumElementSize: WireSize.session)
        var sessions = [Session]()
        sessions.reserveCapacity(count)
        for _ in 0..<count { sessions.append(try reader.readSession()) }
        try reader.expectEnd()
        return sessions
    }
}
