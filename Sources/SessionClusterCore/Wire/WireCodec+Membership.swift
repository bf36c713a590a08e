// Membership: beacons and link greetings.
//
// MemberInfo   NodeID id, string name, string replication, string http
// MemberStatus one byte (raw value 1…4)
// GossipEntry  MemberInfo, MemberStatus
// Beacon       string cluster, varint shards, MemberInfo sender, MemberStatus, varint sequence, varint count + GossipEntries
// PeerHello    string cluster, MemberInfo, varint shard, varint shards

extension WireSize {
    static let memberInfo = nodeID + 3
    static let gossipEntry = memberInfo + 1
}

extension ByteWriter {
    mutating func write(_ member: MemberInfo) {
        write(member.id)
        writeString(member.name)
        writeString(member.replication)
        writeString(member.http)
    }

    mutating func write(_ status: MemberStatus) { writeUInt8(status.rawValue) }

    mutating func write(_ beacon: Beacon) {
        writeString(beacon.cluster)
        writeVarint(UInt64(beacon.shards))
        write(beacon.sender)
        write(beacon.status)
        writeVarint(beacon.sequence)
        writeVarint(UInt64(beacon.members.count))
        for entry in beacon.members {
            write(entry.member)
            write(entry.status)
        }
    }

    mutating func write(_ hello: PeerHello) {
        writeString(hello.cluster)
        write(hello.member)
        writeVarint(UInt64(hello.shard))
        writeVarint(UInt64(hello.shards))
    }
}

extension ByteReader {
    mutating func readMemberInfo() throws(WireError) -> MemberInfo {
        let id = try readNodeID()
        let name = try readString(field: "member.name")
        let replication = try readString(field: "member.replication")
        return MemberInfo(id: id, name: name, replication: replication, http: try readString(field: "member.http"))
    }

    mutating func readMemberStatus(field: String) throws(WireError) -> MemberStatus {
        let start = offset
        let raw = try readUInt8()
        guard let status = MemberStatus(rawValue: raw) else {
            throw failure(.invalidValue(field: field, value: "\(raw)"), at: start)
        }
        return status
    }

    mutating func readBeacon() throws(WireError) -> Beacon {
        let cluster = try readString(field: "beacon.cluster")
        let start = offset
        let shards = try readVarint()
        guard shards >= 1, shards <= PeerHello.maxShards else {
            throw failure(.invalidValue(field: "beacon.shards", value: "\(shards)"), at: start)
        }
        let sender = try readMemberInfo()
        let status = try readMemberStatus(field: "beacon.status")
        let sequence = try readVarint()
        let count = try readCount(minimumElementSize: WireSize.gossipEntry)
        var members = [GossipEntry]()
        members.reserveCapacity(count)
        for _ in 0..<count {
            let member = try readMemberInfo()
            members.append(GossipEntry(member: member, status: try readMemberStatus(field: "gossip.status")))
        }
        return Beacon(
            cluster: cluster, shards: Int(shards), sender: sender, status: status, sequence: sequence, members: members)
    }

    mutating func readPeerHello() throws(WireError) -> PeerHello {
        let cluster = try readString(field: "hello.cluster")
        let member = try readMemberInfo()
        let start = offset
        let shard = try readVarint()
        let shards = try readVarint()
        guard shards >= 1, shards <= PeerHello.maxShards, shard < shards else {
            throw failure(.invalidValue(field: "hello.shards", value: "shard \(shard) of \(shards)"), at: start)
        }
        return PeerHello(cluster: cluster, member: member, shard: Int(shard), of: Int(shards))
    }
}
