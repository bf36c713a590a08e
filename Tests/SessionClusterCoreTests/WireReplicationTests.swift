import SessionClusterCore
import Testing

@Suite struct WireReplicationTests {
    /// A snapshot of an otherwise empty session whose content is written by `content`.
    private func snapshotBytes(
        content: (inout ByteWriter) -> Void,
        version: (inout ByteWriter) -> Void = {
            $0.writeVarint(0)
        }
    ) -> [UInt8] {
        var writer = ByteWriter()
        writer.writeUInt8(5)  // snapshot
        writer.writeUInt64(1)
        writer.writeUInt64(2)
        content(&writer)
        version(&writer)
        writer.writeUInt8(0)  // no placement
        return writer.bytes
    }

    /// Empty content up to (not including) the attributes.
    private func writeContentHead(_ writer: inout ByteWriter) {
        writer.writeUInt8(0)  // createdAt absent
        writer.writeSignedVarint(0)  // lastAccess
        writer.writeUInt8(0)  // maxInactive absent
        writer.writeUInt8(0)  // maxInactiveStamp absent
    }

    private func writeStamp(_ writer: inout ByteWriter) {
        writer.writeSignedVarint(1)
        writer.writeVarint(0)
        writer.writeUInt64(7)
    }

    @Test(arguments: WireSamples.messages)
    func everyMessageRoundTrips(_ message: ReplicationMessage) throws {
        let bytes = WireCodec.encode(message)
        #expect(try WireCodec.decodeReplicationMessage(bytes) == message)
    }

    @Test func encodingMatchesTheDocumentedLayout() {
        let fetch = ReplicationMessage.fetch(1, SessionID(high: 1, low: 2), takeover: true)
        #expect(WireCodec.encode(fetch) == [3, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1])
        #expect(WireCodec.encode(.ack(300)) == [2, 0xAC, 0x02])
        let placement = ReplicationMessage.placement(
            SessionID(high: 0, low: 0), Placement(epoch: 5, primary: NodeID(rawValue: 9), backup: nil))
        #expect(WireCodec.encode(placement) == [6] + Array(repeating: 0, count: 16) + [5, 0, 0, 0, 0, 0, 0, 0, 9, 0])
        let window = ReplicationMessage.transferRequest(300, after: SessionID(high: 1, low: 2), chunks: 4)
        #expect(
            WireCodec.encode(window) == [10, 0xAC, 0x02, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 4])
        #expect(WireCodec.encode(.transferRequest(1, after: nil, chunks: 255)) == [10, 1, 0, 0xFF])
        let confirm = ReplicationMessage.confirm(
            SessionID(high: 1, low: 2), Dot(origin: NodeID(rawValue: 9), counter: 300), 5)
        #expect(
            WireCodec.encode(confirm)
                == [11, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9, 0xAC, 0x02, 5])
    }

    private func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }

    @Test func placementWithSeveralBackupsKeepsTheTwoCopyLayoutForOneBackup() throws {
        let (a, b, c) = (NodeID(rawValue: 9), NodeID(rawValue: 10), NodeID(rawValue: 11))
        let id = SessionID(high: 0, low: 0)
        let one = ReplicationMessage.placement(id, Placement(epoch: 5, primary: a, backup: b))
        // The optional backup of two copies: presence byte 1, then the node.
        #expect(
            WireCodec.encode(one) == [6] + Array(repeating: 0, count: 16) + [5] + bigEndian(a.rawValue) + [1]
                + bigEndian(b.rawValue))
        let two = ReplicationMessage.placement(id, Placement(epoch: 5, primary: a, backups: [b, c]))
        #expect(
            WireCodec.encode(two) == [6] + Array(repeating: 0, count: 16) + [5] + bigEndian(a.rawValue) + [2]
                + bigEndian(b.rawValue) + bigEndian(c.rawValue))
        #expect(try WireCodec.decodeReplicationMessage(WireCodec.encode(two)) == two)
        let most = ReplicationMessage.placement(
            id, Placement(epoch: 1, primary: a, backups: (1...7).map { NodeID(rawValue: UInt64($0)) }))
        #expect(try WireCodec.decodeReplicationMessage(WireCodec.encode(most)) == most)
        // More backups than copies allow: refused, never read on.
        var tooMany = [6] + Array(repeating: UInt8(0), count: 16) + [5] + bigEndian(a.rawValue) + [8]
        for node in 1...8 { tooMany += bigEndian(UInt64(node)) }
        #expect(
            wireError { try WireCodec.decodeReplicationMessage(tooMany) }?.code.isInvalidValue(
                field: "placement.backups") == true)
    }

    @Test(arguments: WireSamples.messages)
    func everyStrictPrefixFailsWithTruncated(_ message: ReplicationMessage) {
        let bytes = WireCodec.encode(message)
        for length in 0..<bytes.count {
            let error = wireError { try WireCodec.decodeReplicationMessage(Array(bytes[..<length])) }
            #expect(error?.code.isTruncated == true, "prefix of \(length) of \(bytes.count) bytes")
        }
    }

    @Test func trailingBytesAfterACompleteMessageAreRejected() {
        let bytes = WireCodec.encode(.transferRequest(42, after: nil, chunks: 4)) + [0, 0]
        #expect(
            wireError { try WireCodec.decodeReplicationMessage(bytes) }
                == WireError(.trailingBytes(count: 2), offset: 4))
    }

    @Test func unknownMessageTypeIsRejected() {
        // 7 is the retired unwindowed transfer request: a windowed node must not misread an older node's.
        for type: UInt8 in [0, 7, 12, 0xFF] {
            let error = wireError { try WireCodec.decodeReplicationMessage([type, 1, 2, 3]) }
            #expect(error == WireError(.unknownMessageType(type), offset: 0))
        }
    }

    @Test func optionalPresenceByteOtherThanZeroOrOneIsRejected() {
        var bytes = WireCodec.encode(.snapshot(WireSamples.emptySession, nil))
        bytes[bytes.count - 1] = 2
        #expect(
            wireError { try WireCodec.decodeReplicationMessage(bytes) }?.code.isInvalidValue(field: "placement") == true
        )
    }

    @Test func boolByteOtherThanZeroOrOneIsRejected() {
        var bytes = WireCodec.encode(.fetch(1, WireSamples.id1, takeover: true))
        bytes[bytes.count - 1] = 0x80
        let error = wireError { try WireCodec.decodeReplicationMessage(bytes) }
        #expect(error?.code == .invalidValue(field: "fetch.takeover", value: "128 is not 0 or 1"))
    }

    @Test func invalidationReasonOutOfRangeIsRejected() {
        for reason: UInt8 in [0, 4, 0xFF] {
            let bytes = snapshotBytes { writer in
                writeContentHead(&writer)
                writer.writeVarint(0)  // no attributes
                writer.writeUInt8(1)  // invalidation present
                writeStamp(&writer)
                writer.writeUInt8(reason)
                writer.writeUInt8(0)
            }
            let error = wireError { try WireCodec.decodeReplicationMessage(bytes) }
            #expect(error?.code == .invalidValue(field: "invalidation.reason", value: "\(reason)"))
        }
    }

    @Test func hlcLogicalAboveUInt32IsRejected() {
        let bytes = snapshotBytes { writer in
            writer.writeUInt8(0)
            writer.writeSignedVarint(0)
            writer.writeUInt8(0)
            writer.writeUInt8(1)  // maxInactiveStamp present
            writer.writeSignedVarint(0)
            writer.writeVarint(UInt64(UInt32.max) + 1)
            writer.writeUInt64(1)
            writer.writeVarint(0)
            writer.writeUInt8(0)
        }
        #expect(
            wireError { try WireCodec.decodeReplicationMessage(bytes) }?.code.isInvalidValue(field: "hlc.logical")
                == true)
    }

    @Test func duplicateAttributeNamesAreRejectedIncludingCanonicallyEquivalentSpellings() {
        for (first, second) in [("a", "a"), ("\u{E9}", "e\u{301}")] {
            let bytes = snapshotBytes { writer in
                writeContentHead(&writer)
                writer.writeVarint(2)
                for name in [first, second] {
                    writer.writeString(name)
                    writer.writeUInt8(0)  // tombstone
                    writeStamp(&writer)
                }
                writer.writeUInt8(0)
            }
            let error = wireError { try WireCodec.decodeReplicationMessage(bytes) }
            #expect(error?.code.isInvalidValue(field: "content.attributes") == true)
        }
    }

    @Test func versionVectorMustBeSortedWithoutDuplicatesOrZeros() {
        let cases: [[(UInt64, UInt64)]] = [[(2, 1), (1, 1)], [(1, 1), (1, 2)], [(1, 0)]]
        for entries in cases {
            let bytes = snapshotBytes(
                content: {
                    writeContentHead(&$0)
                    $0.writeVarint(0)
                    $0.writeUInt8(0)
                },
                version: { writer in
                    writer.writeVarint(UInt64(entries.count))
                    for (node, counter) in entries {
                        writer.writeUInt64(node)
                        writer.writeVarint(counter)
                    }
                })
            let error = wireError { try WireCodec.decodeReplicationMessage(bytes) }
            #expect(error?.code.isInvalidValue(field: "session.version") == true, "\(entries)")
        }
    }

    @Test func versionVectorLargerThanTheLimitIsRejected() {
        let count = WireCodec.maxVersionVectorEntries + 1
        var writer = ByteWriter()
        writer.writeUInt8(9)  // digest
        writer.writeVarint(0)
        writer.writeVarint(1)
        writer.writeUInt64(0)
        writer.writeUInt64(0)
        writer.writeVarint(UInt64(count))
        for node in 0..<count {
            writer.writeUInt64(UInt64(node))
            writer.writeVarint(1)
        }
        writer.writeUInt8(1)
        let error = wireError { try WireCodec.decodeReplicationMessage(writer.bytes) }
        #expect(error?.code == .tooLarge(size: count, limit: WireCodec.maxVersionVectorEntries))
    }

    @Test func versionVectorAtTheLimitRoundTrips() throws {
        let vector = VersionVector(
            (0..<WireCodec.maxVersionVectorEntries).map { (NodeID(rawValue: UInt64($0) * 3), UInt64($0 + 1)) })
        let message = ReplicationMessage.digest(
            round: 1, [DigestEntry(sessionID: WireSamples.id1, version: vector)], last: true)
        #expect(try WireCodec.decodeReplicationMessage(WireCodec.encode(message)) == message)
    }

    @Test func hugeDeclaredCountsFailWithoutAllocating() {
        var chunk = ByteWriter()
        chunk.writeUInt8(8)  // transferChunk
        chunk.writeVarint(1)
        chunk.writeVarint(.max)
        #expect(wireError { try WireCodec.decodeReplicationMessage(chunk.bytes) }?.code.isTruncated == true)
        var digest = ByteWriter()
        digest.writeUInt8(9)
        digest.writeVarint(1)
        digest.writeVarint(1 << 40)
        digest.writeRaw(Array(repeating: 0, count: 100))
        let error = wireError { try WireCodec.decodeReplicationMessage(digest.bytes) }
        #expect(error?.code == .truncated(needed: (1 << 40) * 18, remaining: 100))
    }

    @Test func hugeDeclaredAttributeValueLengthFailsWithoutAllocating() {
        let bytes = snapshotBytes { writer in
            writeContentHead(&writer)
            writer.writeVarint(1)
            writer.writeString("big")
            writer.writeUInt8(1)  // value present
            writer.writeVarint(UInt64(Int.max))
        }
        let error = wireError { try WireCodec.decodeReplicationMessage(bytes) }
        #expect(error?.code.isTruncated == true)
    }

    @Test func invalidUTF8AttributeNameIsRejected() {
        let bytes = snapshotBytes { writer in
            writeContentHead(&writer)
            writer.writeVarint(1)
            writer.writeBytes([0x6E, 0xFF, 0x6D])
            writer.writeUInt8(0)
            writeStamp(&writer)
            writer.writeUInt8(0)
        }
        #expect(
            wireError { try WireCodec.decodeReplicationMessage(bytes) }?.code == .invalidUTF8(field: "attribute.name"))
    }
}
