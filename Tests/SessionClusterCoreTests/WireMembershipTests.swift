import SessionClusterCore
import Testing

@Suite struct WireMembershipTests {
    @Test(arguments: WireSamples.beacons)
    func beaconRoundTrips(_ beacon: Beacon) throws {
        #expect(try WireCodec.decodeBeacon(WireCodec.encode(beacon)) == beacon)
    }

    @Test(arguments: WireSamples.hellos)
    func peerHelloRoundTrips(_ hello: PeerHello) throws {
        #expect(try WireCodec.decodePeerHello(WireCodec.encode(hello)) == hello)
    }

    @Test func beaconEncodingMatchesTheDocumentedLayout() {
        let member = MemberInfo(id: NodeID(rawValue: 1), name: "n", replication: "r", http: "")
        let beacon = Beacon(cluster: "c", shards: 3, sender: member, status: .leaving, sequence: 2, members: [])
        let memberBytes: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 1, 1, 0x6E, 1, 0x72, 0]
        #expect(WireCodec.encode(beacon) == [1, 0x63, 3] + memberBytes + [3, 2, 0])
    }

    @Test func everyStrictPrefixOfABeaconOrHelloFails() {
        let encodings =
            WireSamples.beacons.map { WireCodec.encode($0) } + WireSamples.hellos.map { WireCodec.encode($0) }
        for (index, bytes) in encodings.enumerated() {
            for length in 0..<bytes.count {
                let prefix = Array(bytes[..<length])
                let error =
                    index < WireSamples.beacons.count
                    ? wireError { try WireCodec.decodeBeacon(prefix) }
                    : wireError { try WireCodec.decodePeerHello(prefix) }
                #expect(error?.code.isTruncated == true, "encoding \(index), prefix \(length)")
            }
        }
    }

    @Test func memberStatusOutOfRangeIsRejected() {
        let beacon = WireSamples.beacons[1]
        var bytes = WireCodec.encode(beacon)
        let statusOffset = 1 + 1 + 8 + 3  // empty cluster, one shard, sender id, three empty strings
        #expect(bytes[statusOffset] == MemberStatus.leaving.rawValue)
        for raw: UInt8 in [0, 5, 0xFF] {
            bytes[statusOffset] = raw
            let error = wireError { try WireCodec.decodeBeacon(bytes) }
            #expect(error == WireError(.invalidValue(field: "beacon.status", value: "\(raw)"), offset: statusOffset))
        }
    }

    @Test func gossipStatusOutOfRangeIsRejected() {
        var bytes = WireCodec.encode(WireSamples.beacons[0])
        #expect(bytes[bytes.count - 1] == MemberStatus.leaving.rawValue)
        bytes[bytes.count - 1] = 9
        #expect(wireError { try WireCodec.decodeBeacon(bytes) }?.code.isInvalidValue(field: "gossip.status") == true)
    }

    @Test func invalidUTF8ClusterNameIsRejected() {
        var writer = ByteWriter()
        writer.writeBytes([0xC3, 0x28])
        writer.write(rawMember: WireSamples.memberC)
        #expect(
            wireError { try WireCodec.decodePeerHello(writer.bytes) }
                == WireError(.invalidUTF8(field: "hello.cluster"), offset: 0))
    }

    @Test func shardCountsOutOfRangeAreRejected() {
        for shards: UInt64 in [0, UInt64(PeerHello.maxShards) + 1, 1 << 40] {
            var beacon = ByteWriter()
            beacon.writeString("c")
            beacon.writeVarint(shards)
            beacon.write(rawMember: WireSamples.memberC)
            #expect(
                wireError { try WireCodec.decodeBeacon(beacon.bytes) }
                    == WireError(.invalidValue(field: "beacon.shards", value: "\(shards)"), offset: 2))
            var hello = ByteWriter()
            hello.writeString("c")
            hello.write(rawMember: WireSamples.memberC)
            hello.writeVarint(0)
            hello.writeVarint(shards)
            #expect(wireError { try WireCodec.decodePeerHello(hello.bytes) }?.code.isInvalidValue(field: "hello.shards") == true)
        }
    }

    @Test func trailingBytesAfterABeaconAreRejected() {
        let bytes = WireCodec.encode(WireSamples.beacons[0]) + [7]
        #expect(wireError { try WireCodec.decodeBeacon(bytes) }?.code == .trailingBytes(count: 1))
    }

    @Test func hugeGossipCountFailsWithoutAllocating() {
        var writer = ByteWriter()
        writer.writeString("c")
        writer.writeVarint(1)
        writer.write(rawMember: WireSamples.memberC)
        writer.writeUInt8(MemberStatus.alive.rawValue)
        writer.writeVarint(1)
        writer.writeVarint(1 << 50)
        #expect(wireError { try WireCodec.decodeBeacon(writer.bytes) }?.code.isTruncated == true)
    }
}

extension ByteWriter {
    /// A member written field by field, as the codec lays it out.
    mutating func write(rawMember member: MemberInfo) {
        writeUInt64(member.id.rawValue)
        writeString(member.name)
        writeString(member.replication)
        writeString(member.http)
    }
}
