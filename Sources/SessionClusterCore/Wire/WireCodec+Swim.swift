// SWIM membership datagrams.
//
// SwimUpdate    MemberInfo, varint incarnation, MemberStatus, NodeID origin
// SwimDatagram  string cluster, varint shards, MemberInfo sender, varint incarnation, kind byte + fields,
//               varint count + SwimUpdates
//   kinds: 1 announce · 2 gossip · 3 ping(varint seq) · 4 pingRequest(varint seq, MemberInfo target)
//          · 5 ack(varint seq) · 6 nack(varint seq) · 7 state(bool reply)
//          · 8 digest(NodeID from, NodeID through, varint count + (NodeID, varint incarnation, MemberStatus))
//          · 9 pull(varint count + NodeIDs)

extension WireCodec {
    /// A SWIM datagram as a payload.
    package static func encode(_ datagram: SwimDatagram) -> [UInt8] {
        var writer = ByteWriter(capacity: 256)
        writer.write(datagram)
        return writer.bytes
    }

    /// Decodes a payload written by `encode(_:)-SwimDatagram`, consuming every byte.
    package static func decodeSwimDatagram(_ bytes: [UInt8]) throws(WireError) -> SwimDatagram {
        var reader = ByteReader(bytes)
        let datagram = try reader.readSwimDatagram()
        try reader.expectEnd()
        return datagram
    }

    /// The encoded size of `update` inside a datagram.
    package static func encodedSize(_ update: SwimUpdate) -> Int {
        var writer = ByteWriter(capacity: 64)
        writer.write(update)
        return writer.bytes.count
    }

    /// The encoded size of one digest entry inside a `digest` datagram.
    package static func encodedSize(_ entry: SwimDigestEntry) -> Int {
        var writer = ByteWriter(capacity: 16)
        writer.write(entry.id)
        writer.writeVarint(entry.incarnation)
        writer.write(entry.status)
        return writer.bytes.count
    }

    /// The encoded size of `datagram` without its updates (but with a count of up to 127 of them).
    package static func encodedHeaderSize(_ datagram: SwimDatagram) -> Int {
        var bare = datagram
        bare.updates = []
        return encode(bare).count
    }
}

extension ByteWriter {
    mutating func write(_ update: SwimUpdate) {
        write(update.member)
        writeVarint(update.incarnation)
        write(update.status)
        write(update.origin)
    }

    mutating func write(_ datagram: SwimDatagram) {
        writeString(datagram.cluster)
        writeVarint(UInt64(datagram.shards))
        write(datagram.sender)
        writeVarint(datagram.senderIncarnation)
        switch datagram.kind {
        case .announce: writeUInt8(1)
        case .gossip: writeUInt8(2)
        case .ping(let sequence):
            writeUInt8(3)
            writeVarint(sequence)
        case .pingRequest(let sequence, let target):
            writeUInt8(4)
            writeVarint(sequence)
            write(target)
        case .ack(let sequence):
            writeUInt8(5)
            writeVarint(sequence)
        case .nack(let sequence):
            writeUInt8(6)
            writeVarint(sequence)
        case .state(let reply):
            writeUInt8(7)
            writeUInt8(reply ? 1 : 0)
        case .digest(let from, let through, let entries):
            writeUInt8(8)
            write(from)
            write(through)
            writeVarint(UInt64(entries.count))
            for entry in entries {
                write(entry.id)
                writeVarint(entry.incarnation)
                write(entry.status)
            }
        case .pull(let ids):
            writeUInt8(9)
            writeVarint(UInt64(ids.count))
            for id in ids { write(id) }
        }
        writeVarint(UInt64(datagram.updates.count))
        for update in datagram.updates { write(update) }
    }
}

extension ByteReader {
    mutating func readSwimUpdate() throws(WireError) -> SwimUpdate {
        let member = try readMemberInfo()
        let incarnation = try readVarint()
        let status = try readMemberStatus(field: "swim.update.status")
        return SwimUpdate(member: member, incarnation: incarnation, status: status, origin: try readNodeID())
    }

    mutating func readSwimDatagram() throws(WireError) -> SwimDatagram {
        let cluster = try readString(field: "swim.cluster")
        let start = offset
        let shards = try readVarint()
        guard shards >= 1, shards <= PeerHello.maxShards else {
            throw failure(.invalidValue(field: "swim.shards", value: "\(shards)"), at: start)
        }
        let sender = try readMemberInfo()
        let incarnation = try readVarint()
        let kindStart = offset
        let kind: SwimDatagram.Kind
        switch try readUInt8() {
        case 1: kind = .announce
        case 2: kind = .gossip
        case 3: kind = .ping(sequence: try readVarint())
        case 4: kind = .pingRequest(sequence: try readVarint(), target: try readMemberInfo())
        case 5: kind = .ack(sequence: try readVarint())
        case 6: kind = .nack(sequence: try readVarint())
        case 7:
            let flag = try readUInt8()
            guard flag <= 1 else { throw failure(.invalidValue(field: "swim.reply", value: "\(flag)"), at: kindStart) }
            kind = .state(reply: flag == 1)
        case 8:
            let from = try readNodeID()
            let through = try readNodeID()
            let count = try readCount(minimumElementSize: WireSize.nodeID + 1 + 1)
            var entries: [SwimDigestEntry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let id = try readNodeID()
                let incarnation = try readVarint()
                let status = try readMemberStatus(field: "swim.digest.status")
                entries.append(SwimDigestEntry(id: id, incarnation: incarnation, status: status))
            }
            kind = .digest(from: from, through: through, entries: entries)
        case 9:
            let count = try readCount(minimumElementSize: WireSize.nodeID)
            var ids: [NodeID] = []
            ids.reserveCapacity(count)
            for _ in 0..<count { ids.append(try readNodeID()) }
            kind = .pull(ids: ids)
        case let other: throw failure(.invalidValue(field: "swim.kind", value: "\(other)"), at: kindStart)
        }
        let count = try readCount(minimumElementSize: WireSize.memberInfo + 1 + 1 + WireSize.nodeID)
        var updates: [SwimUpdate] = []
        updates.reserveCapacity(count)
        for _ in 0..<count { updates.append(try readSwimUpdate()) }
        return SwimDatagram(
            cluster: cluster, shards: Int(shards), sender: sender, senderIncarnation: incarnation, kind: kind,
            updates: updates)
    }
}
