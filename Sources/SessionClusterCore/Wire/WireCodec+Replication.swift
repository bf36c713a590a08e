// Replication messages: a type byte, then the fields of the case in declaration order.
//
// SessionDelta   SessionID, Dot, VersionVector base, SessionContent patch
// Placement      varint epoch, NodeID primary, u8 count (0...7) + NodeID backups (count 0 or 1: the bytes of the
//                optional backup of two copies, so `copies: 2` peers read each other as before)
// DigestEntry    SessionID, VersionVector, optional Placement
//
//  type  case             fields
//   1    delta            SessionDelta, optional varint ack
//   2    ack              varint commit id
//   3    fetch            varint request id, SessionID, bool takeover
//   4    fetchReply       varint request id, SessionID, optional Session, optional Placement
//   5    snapshot         Session, optional Placement
//   6    placement        SessionID, Placement
//   7    (retired)        the unwindowed transfer request (varint request id); never reuse
//   8    transferChunk    varint request id, varint count + Sessions, bool last
//   9    digest           varint round, varint count + DigestEntries, bool last
//  10    transferRequest  varint request id, optional SessionID after, u8 chunks
//  11    confirm          SessionID, Dot, varint commit id

/// The type byte of each `ReplicationMessage` case. Values are part of the wire format: never renumber.
enum ReplicationMessageType: UInt8 {
    case delta = 1
    case ack = 2
    case fetch = 3
    case fetchReply = 4
    case snapshot = 5
    case placement = 6
    // 7 was the unwindowed transfer request. Its peers expected every chunk at once; a windowed node asks with
    // type 10 instead, so the two never misread each other (an unknown type ends the link, as any bad frame).
    case transferChunk = 8
    case digest = 9
    case transferRequest = 10
    case confirm = 11
}

extension WireSize {
    static let digestEntry = sessionID + 2
}

extension ByteWriter {
    mutating func write(_ delta: SessionDelta) {
        write(delta.sessionID)
        write(delta.dot)
        write(delta.base)
        write(delta.patch)
    }

    mutating func write(_ placement: Placement) {
        writeVarint(placement.epoch)
        write(placement.primary)
        writeUInt8(UInt8(min(placement.backups.count, Int(Placement.maxBackups))))
        for backup in placement.backups.prefix(Int(Placement.maxBackups)) { write(backup) }
    }

    mutating func write(_ message: ReplicationMessage) {
        switch message {
        case .delta(let delta, let ack):
            writeUInt8(ReplicationMessageType.delta.rawValue)
            write(delta)
            writeOptional(ack) { $0.writeVarint($1) }
        case .ack(let commit):
            writeUInt8(ReplicationMessageType.ack.rawValue)
            writeVarint(commit)
        case .fetch(let request, let id, let takeover):
            writeUInt8(ReplicationMessageType.fetch.rawValue)
            writeVarint(request)
            write(id)
            writeBool(takeover)
        case .fetchReply(let request, let id, let session, let placement):
            writeUInt8(ReplicationMessageType.fetchReply.rawValue)
            writeVarint(request)
            write(id)
            writeOptional(session) { $0.write($1) }
            writeOptional(placement) { $0.write($1) }
        case .snapshot(let session, let placement):
            writeUInt8(ReplicationMessageType.snapshot.rawValue)
            write(session)
            writeOptional(placement) { $0.write($1) }
        case .placement(let id, let placement):
            writeUInt8(ReplicationMessageType.placement.rawValue)
            write(id)
            write(placement)
        case .transferRequest(let request, let cursor, let chunks):
            writeUInt8(ReplicationMessageType.transferRequest.rawValue)
            writeVarint(request)
            writeOptional(cursor) { $0.write($1) }
            writeUInt8(chunks)
        case .transferChunk(let request, let sessions, let last):
            writeUInt8(ReplicationMessageType.transferChunk.rawValue)
            writeVarint(request)
            writeVarint(UInt64(sessions.count))
            for session in sessions { write(session) }
            writeBool(last)
        case .digest(let round, let entries, let last):
            writeUInt8(ReplicationMessageType.digest.rawValue)
            writeVarint(round)
            writeVarint(UInt64(entries.count))
            for entry in entries {
                write(entry.sessionID)
                write(entry.version)
                writeOptional(entry.placement) { $0.write($1) }
            }
            writeBool(last)
        case .confirm(let id, let dot, let commit):
            writeUInt8(ReplicationMessageType.confirm.rawValue)
            write(id)
            write(dot)
            writeVarint(commit)
        }
    }
}

extension ByteReader {
    mutating func readSessionDelta() throws(WireError) -> SessionDelta {
        let id = try readSessionID()
        let dot = try readDot()
        let base = try readVersionVector(field: "delta.base")
        return SessionDelta(sessionID: id, dot: dot, base: base, patch: try readSessionContent())
    }

    mutating func readPlacement() throws(WireError) -> Placement {
        let epoch = try readVarint()
        let primary = try readNodeID()
        let start = offset
        let count = try readUInt8()
        guard count <= Placement.maxBackups else {
            throw failure(.invalidValue(field: "placement.backups", value: "\(count)"), at: start)
        }
        var backups = [NodeID]()
        backups.reserveCapacity(Int(count))
        for _ in 0..<count { backups.append(try readNodeID()) }
        return Placement(epoch: epoch, primary: primary, backups: backups)
    }

    private mutating func readOptionalPlacement() throws(WireError) -> Placement? {
        try readOptional(field: "placement") { reader throws(WireError) in try reader.readPlacement() }
    }

    mutating func readReplicationMessage() throws(WireError) -> ReplicationMessage {
        let start = offset
        let raw = try readUInt8()
        guard let type = ReplicationMessageType(rawValue: raw) else {
            throw failure(.unknownMessageType(raw), at: start)
        }
        switch type {
        case .delta:
            let delta = try readSessionDelta()
            let ack = try readOptional(field: "delta.ack") { reader throws(WireError) in try reader.readVarint() }
            return .delta(delta, ack: ack)
        case .ack:
            return .ack(try readVarint())
        case .fetch:
            let request = try readVarint()
            let id = try readSessionID()
            return .fetch(request, id, takeover: try readBool(field: "fetch.takeover"))
        case .fetchReply:
            let request = try readVarint()
            let id = try readSessionID()
            let session = try readOptional(field: "fetchReply.session") { reader throws(WireError) in
                try reader.readSession()
            }
            return .fetchReply(request, id, session, try readOptionalPlacement())
        case .snapshot:
            let session = try readSession()
            return .snapshot(session, try readOptionalPlacement())
        case .placement:
            let id = try readSessionID()
            return .placement(id, try readPlacement())
        case .transferRequest:
            let request = try readVarint()
            let cursor = try readOptional(field: "transferRequest.after") { reader throws(WireError) in
                try reader.readSessionID()
            }
            return .transferRequest(request, after: cursor, chunks: try readUInt8())
        case .transferChunk:
            let request = try readVarint()
            let count = try readCount(minimumElementSize: WireSize.session)
            var sessions = [Session]()
            sessions.reserveCapacity(count)
            for _ in 0..<count { sessions.append(try readSession()) }
            return .transferChunk(request, sessions, last: try readBool(field: "transferChunk.last"))
        case .digest:
            let round = try readVarint()
            let count = try readCount(minimumElementSize: WireSize.digestEntry)
            var entries = [DigestEntry]()
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let id = try readSessionID()
                let version = try readVersionVector(field: "digest.version")
                entries.append(DigestEntry(sessionID: id, version: version, placement: try readOptionalPlacement()))
            }
            return .digest(round: round, entries, last: try readBool(field: "digest.last"))
        case .confirm:
            let id = try readSessionID()
            let dot = try readDot()
            return .confirm(id, dot, try readVarint())
        }
    }
}
