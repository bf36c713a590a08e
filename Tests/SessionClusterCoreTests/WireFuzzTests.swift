import SessionClusterCore
import TestSupport
import Testing

/// Deterministic garbage: whatever the bytes, decoding returns a value or throws `WireError` — it never traps,
/// hangs or allocates from a hostile length. Whatever decodes must survive a round trip. The rounds run on a
/// thread of their own (`onOwnThread`), not on the cooperative pool the suites with real nodes need.
@Suite struct WireFuzzTests {
    private static func randomBytes(count: Int, using random: inout SplitMix64) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    /// Decodes `bytes` as a frame; on success checks that the frame re-encodes to something that decodes equal.
    /// Returns whether it decoded.
    private static func decodeFrameChecked(_ bytes: [UInt8], _ findings: inout Findings) -> Bool {
        guard let frame = try? WireCodec.decodeFrame(bytes) else { return false }
        findings.expect((try? WireCodec.decodeFrame(WireCodec.frame(frame))) == frame, "\(frame)")
        return true
    }

    @Test func randomByteArraysDecodeOrThrowWireError() async {
        let (decoded, findings) = await onOwnThread { Self.decodeRandomArrays() }
        findings.record()
        #expect(decoded > 0, "some random inputs are valid messages (e.g. acks); none decoded")
    }

    private static func decodeRandomArrays() -> (decoded: Int, findings: Findings) {
        var findings = Findings()
        var random = SplitMix64(seed: 0x5EED)
        var decoded = 0
        for round in 0..<60_000 {
            var bytes = randomBytes(count: Int.random(in: 0...48, using: &random), using: &random)
            switch round % 4 {
            case 0:
                if decodeFrameChecked(bytes, &findings) { decoded += 1 }
            case 1:
                // A valid header over a random payload reaches the payload decoders.
                var writer = ByteWriter()
                writer.writeRaw([0x53, 0x43, Frame.currentVersion, UInt8.random(in: 1...3, using: &random)])
                writer.writeUInt32(UInt32(bytes.count))
                writer.writeRaw(bytes)
                if decodeFrameChecked(writer.bytes, &findings) { decoded += 1 }
            case 2:
                // A valid message type byte first reaches every message decoder (7 is retired).
                let types: [UInt8] = [1, 2, 3, 4, 5, 6, 8, 9, 10]
                bytes.insert(types[Int.random(in: 0..<types.count, using: &random)], at: 0)
                if let message = try? WireCodec.decodeReplicationMessage(bytes) {
                    decoded += 1
                    findings.expect(
                        (try? WireCodec.decodeReplicationMessage(WireCodec.encode(message))) == message, "\(message)")
                }
            default:
                if let beacon = try? WireCodec.decodeBeacon(bytes) {
                    decoded += 1
                    findings.expect((try? WireCodec.decodeBeacon(WireCodec.encode(beacon))) == beacon, "\(beacon)")
                }
                if let hello = try? WireCodec.decodePeerHello(bytes) {
                    decoded += 1
                    findings.expect((try? WireCodec.decodePeerHello(WireCodec.encode(hello))) == hello, "\(hello)")
                }
            }
        }
        return (decoded, findings)
    }

    @Test func singleByteMutationsOfValidFramesDecodeOrThrowWireError() async {
        let (decoded, rejected, findings) = await onOwnThread { Self.decodeMutatedFrames() }
        findings.record()
        #expect(decoded > 0 && rejected > 0, "decoded \(decoded), rejected \(rejected)")
    }

    private static func decodeMutatedFrames() -> (decoded: Int, rejected: Int, findings: Findings) {
        var findings = Findings()
        var random = SplitMix64(seed: 0xBADC0DE)
        let encodings = WireSamples.frames.map(WireCodec.frame)
        var decoded = 0
        var rejected = 0
        for round in 0..<60_000 {
            var bytes = encodings[Int.random(in: 0..<encodings.count, using: &random)]
            let position = Int.random(in: 0..<bytes.count, using: &random)
            bytes[position] ^= UInt8.random(in: 1...255, using: &random)
            if decodeFrameChecked(bytes, &findings) { decoded += 1 } else { rejected += 1 }
            if round % 8 == 0 {
                // The stream decoder agrees with the datagram decoder on whatever it completes.
                var decoder = FrameDecoder()
                decoder.append(bytes)
                if let frame = try? decoder.next() {
                    findings.expect(frame == (try? WireCodec.decodeFrame(bytes)), "\(frame)")
                }
            }
        }
        return (decoded, rejected, findings)
    }

    @Test func randomStreamsNeverMakeTheStreamDecoderTrapOrBufferPastTheLimit() async {
        await onOwnThread { Self.decodeRandomStreams() }.record()
    }

    private static func decodeRandomStreams() -> Findings {
        var findings = Findings()
        var random = SplitMix64(seed: 42)
        for _ in 0..<500 {
            var decoder = FrameDecoder(maxFrameBytes: 4096)
            // Mostly valid frames with an occasional corrupted byte.
            var stream = WireSamples.frames.shuffled(using: &random).prefix(6).flatMap(WireCodec.frame)
            if Bool.random(using: &random) {
                stream[Int.random(in: 0..<stream.count, using: &random)] ^= 0x5A
            }
            var position = 0
            while position < stream.count {
                let end = min(stream.count, position + Int.random(in: 1...300, using: &random))
                decoder.append(stream[position..<end])
                position = end
                while (try? decoder.next()) ?? nil != nil {}
                findings.expect(
                    decoder.bufferedByteCount <= Frame.headerSize + 4096 + 300, "\(decoder.bufferedByteCount)")
            }
        }
        return findings
    }
}
