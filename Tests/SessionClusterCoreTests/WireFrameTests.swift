import SessionClusterCore
import Testing

@Suite struct WireFrameTests {
    private func header(version: UInt8 = Frame.currentVersion, kind: UInt8 = 2, length: UInt32) -> [UInt8] {
        var writer = ByteWriter()
        writer.writeRaw([0x53, 0x43, version, kind])
        writer.writeUInt32(length)
        return writer.bytes
    }

    /// Feeds `stream` to a fresh decoder in chunks of the given sizes, collecting every frame.
    private func decodeStream(_ stream: [UInt8], chunkSizes: () -> Int) throws -> [PeerFrame] {
        var decoder = FrameDecoder()
        var frames = [PeerFrame]()
        var position = 0
        while position < stream.count {
            let end = min(stream.count, position + chunkSizes())
            decoder.append(stream[position..<end])
            position = end
            while let frame = try decoder.next() { frames.append(frame) }
        }
        #expect(decoder.bufferedByteCount == 0)
        return frames
    }

    @Test(arguments: WireSamples.frames)
    func everyFrameRoundTripsThroughFrameAndDecodeFrame(_ frame: PeerFrame) throws {
        let bytes = WireCodec.frame(frame)
        #expect(Array(bytes[0..<4]) == [0x53, 0x43, 3, frame.kind.rawValue])
        let length = bytes[4..<8].reduce(0) { $0 << 8 | Int($1) }
        #expect(length == bytes.count - 8)
        #expect(try WireCodec.decodeFrame(bytes) == frame)
    }

    @Test func framePayloadIsTheMessageEncoding() {
        let message = ReplicationMessage.ack(300)
        #expect(WireCodec.frame(.replication(message)) == [0x53, 0x43, 3, 2, 0, 0, 0, 3, 2, 0xAC, 0x02])
        let hello = WireSamples.hellos[0]
        #expect(Array(WireCodec.frame(.hello(hello)).dropFirst(8)) == WireCodec.encode(hello))
        let beacon = WireSamples.beacons[0]
        #expect(Array(WireCodec.frame(.beacon(beacon)).dropFirst(8)) == WireCodec.encode(beacon))
    }

    @Test func everyStrictPrefixOfAFrameFails() {
        for frame in WireSamples.frames {
            let bytes = WireCodec.frame(frame)
            for length in 0..<bytes.count {
                let error = wireError { try WireCodec.decodeFrame(Array(bytes[..<length])) }
                #expect(error?.code.isTruncated == true, "\(frame.kind) prefix \(length)")
            }
        }
    }

    @Test func streamDecoderFedOneByteAtATimeYieldsEveryFrameInOrder() throws {
        let frames = WireSamples.frames
        let stream = frames.flatMap(WireCodec.frame)
        #expect(try decodeStream(stream) { 1 } == frames)
    }

    @Test func streamDecoderFedRandomChunksYieldsEveryFrameInOrder() throws {
        let frames = WireSamples.frames
        let stream = frames.flatMap(WireCodec.frame)
        for seed: UInt64 in 1...20 {
            var random = SplitMix64(seed: seed)
            let maxChunk = [3, 17, 200, 5000][Int(seed % 4)]
            #expect(try decodeStream(stream) { Int.random(in: 1...maxChunk, using: &random) } == frames, "seed \(seed)")
        }
    }

    @Test func streamDecoderReturnsNilUntilAFrameIsComplete() throws {
        let bytes = WireCodec.frame(.replication(.transferRequest(7, after: nil, chunks: 4)))
        var decoder = FrameDecoder()
        for byte in bytes.dropLast() {
            decoder.append([byte])
            #expect(try decoder.next() == nil)
        }
        decoder.append([bytes.last!])
        #expect(try decoder.next() == .replication(.transferRequest(7, after: nil, chunks: 4)))
        #expect(try decoder.next() == nil)
    }

    @Test func streamDecoderHandlesManyFramesAcrossCompactions() throws {
        var random = SplitMix64(seed: 99)
        let frames = (0..<2000).map { PeerFrame.replication(.ack(UInt64($0) << ($0 % 57))) }
        let stream = frames.flatMap(WireCodec.frame)
        #expect(try decodeStream(stream) { Int.random(in: 1...64, using: &random) } == frames)
    }

    @Test func badMagicIsRejected() {
        let bytes = Array("GET / HTTP/1.1\r\n\r\n".utf8)
        #expect(wireError { try WireCodec.decodeFrame(bytes) } == WireError(.badMagic(found: [0x47, 0x45]), offset: 0))
    }

    @Test func unknownVersionIsRejected() {
        // 1: before beacons carried shards and envelopes several frames; 2: before datagrams carried their send time
        for version: UInt8 in [1, 2, 4] {
            let bytes = header(version: version, length: 1) + [7, 0]
            #expect(
                wireError { try WireCodec.decodeFrame(bytes) } == WireError(.unsupportedVersion(version), offset: 2))
        }
    }

    @Test func unknownKindIsRejected() {
        for kind: UInt8 in [0, 6, 0xFF] {
            let bytes = header(kind: kind, length: 3) + [2, 0xAC, 0x02]
            #expect(wireError { try WireCodec.decodeFrame(bytes) } == WireError(.unknownFrameKind(kind), offset: 3))
        }
    }

    @Test func hugeDeclaredLengthIsTooLargeBeforeThePayloadArrives() {
        let bytes = header(length: .max)
        let error = wireError { try WireCodec.decodeFrame(bytes, limit: 65_507) }
        #expect(error == WireError(.tooLarge(size: Int(UInt32.max), limit: 65_507), offset: 4))
        var decoder = FrameDecoder(maxFrameBytes: 1024)
        decoder.append(header(length: 1025))
        #expect(wireError { try decoder.next() }?.code == .tooLarge(size: 1025, limit: 1024))
        #expect(decoder.bufferedByteCount == 0, "the rejected stream is not buffered")
    }

    @Test func declaredLengthBeyondTheDatagramIsTruncated() {
        let bytes = header(length: 1000) + [2, 0xAC, 0x02]
        #expect(wireError { try WireCodec.decodeFrame(bytes) }?.code == .truncated(needed: 1000, remaining: 3))
    }

    @Test func trailingBytesAfterTheDeclaredPayloadAreRejected() {
        let bytes = WireCodec.frame(.replication(.ack(1))) + [0, 0, 0]
        #expect(wireError { try WireCodec.decodeFrame(bytes) }?.code == .trailingBytes(count: 3))
    }

    @Test func payloadShorterThanItsMessageIsTruncated() {
        // The header claims 2 payload bytes; the message inside needs 3.
        let bytes = header(length: 2) + [2, 0xAC]
        #expect(wireError { try WireCodec.decodeFrame(bytes) }?.code.isTruncated == true)
    }

    @Test func payloadLongerThanItsMessageIsTrailingBytes() {
        let bytes = header(length: 4) + [2, 0xAC, 0x02, 0x00]
        #expect(wireError { try WireCodec.decodeFrame(bytes) } == WireError(.trailingBytes(count: 1), offset: 11))
    }

    @Test func frameOfTheWrongKindForItsPayloadFails() {
        var bytes = WireCodec.frame(.replication(.transferRequest(3, after: WireSamples.id1, chunks: 1)))
        bytes[3] = Frame.Kind.beacon.rawValue
        #expect(wireError { try WireCodec.decodeFrame(bytes) } != nil)
    }

    @Test func streamDecoderRejectsGarbageFromItsFirstBytes() {
        var decoder = FrameDecoder()
        decoder.append([0x53, 0x00])
        #expect(wireError { try decoder.next() }?.code == .badMagic(found: [0x53, 0x00]))
        var versioned = FrameDecoder()
        versioned.append([0x53, 0x43, 0x09])
        #expect(wireError { try versioned.next() }?.code == .unsupportedVersion(9))
    }

    @Test func streamDecoderStaysFailedAndReportsStreamOffsets() throws {
        let good = WireCodec.frame(.replication(.ack(5)))
        var decoder = FrameDecoder()
        decoder.append(good + good + [0x00, 0x01])
        #expect(try decoder.next() == .replication(.ack(5)))
        #expect(try decoder.next() == .replication(.ack(5)))
        let error = wireError { try decoder.next() }
        #expect(error == WireError(.badMagic(found: [0x00, 0x01]), offset: 2 * good.count))
        decoder.append(good)
        #expect(decoder.hasFailed)
        #expect(wireError { try decoder.next() } == error, "a failed stream never resynchronises")
    }

    @Test func streamDecoderOffsetsSurviveCompaction() throws {
        let good = WireCodec.frame(.replication(.ack(5)))
        var decoder = FrameDecoder()
        for _ in 0..<10 {
            decoder.append(good)
            #expect(try decoder.next() != nil)
        }
        decoder.append(header(kind: 77, length: 0))
        #expect(wireError { try decoder.next() } == WireError(.unknownFrameKind(77), offset: 10 * good.count + 3))
    }

    @Test func streamDecoderRejectsMalformedPayloadWithStreamOffset() {
        var decoder = FrameDecoder()
        decoder.append(header(length: 2) + [0x63, 0x00])
        #expect(wireError { try decoder.next() } == WireError(.unknownMessageType(0x63), offset: 8))
    }
}
