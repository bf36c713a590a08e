// Whole frames: header and payload in one buffer (a datagram, or one frame cut from a stream).

extension WireCodec {
    /// The frame for `frame`: the 8-byte `Frame` header, then the payload.
    ///
    /// The payload MUST fit the 32-bit length field (4 GiB); receivers reject far smaller frames anyway
    /// (`Frame.defaultMaxPayloadBytes`), so senders should check `count` against their peers' limit.
    package static func frame(_ frame: PeerFrame) -> [UInt8] {
        var writer = ByteWriter(capacity: 256)
        writer.writeRaw(Frame.magic)
        writer.writeUInt8(Frame.currentVersion)
        writer.writeUInt8(frame.kind.rawValue)
        writer.writeUInt32(0)  // the length, filled in below
        switch frame {
        case .hello(let hello): writer.write(hello)
        case .replication(let message): writer.write(message)
        case .beacon(let beacon): writer.write(beacon)
        case .clock(let micros): writer.writeUInt64(micros)
        case .swim(let datagram): writer.write(datagram)
        }
        let length = writer.count - Frame.headerSize
        precondition(length <= Int(UInt32.max), "frame payload of \(length) bytes exceeds the 32-bit length field")
        writer.overwriteUInt32(UInt32(length), at: 4)
        return writer.bytes
    }

    /// The size of the whole frame (header and payload) that `bytes` starts with, from its header; nil when
    /// `bytes` holds less than the header. Throws for a bad header or a payload longer than `limit`.
    package static func frameSize(_ bytes: ArraySlice<UInt8>, limit: Int) throws(WireError) -> Int? {
        guard let header = try Frame.parseHeader(bytes, limit: limit) else { return nil }
        return Frame.headerSize + header.payloadLength
    }

    /// Decodes one whole frame (a datagram): header, then exactly `length` payload bytes, nothing after.
    /// Payloads longer than `limit` bytes are rejected from the header (`tooLarge`).
    package static func decodeFrame(
        _ bytes: [UInt8], limit: Int = Frame.defaultMaxPayloadBytes
    ) throws(WireError) -> PeerFrame {
        try decodeFrame(bytes[...], limit: limit)
    }

    /// Decodes one whole frame held in `bytes` (without copying them); offsets in errors count from
    /// `bytes.startIndex`.
    package static func decodeFrame(
        _ bytes: ArraySlice<UInt8>, limit: Int = Frame.defaultMaxPayloadBytes
    ) throws(WireError) -> PeerFrame {
        guard let header = try Frame.parseHeader(bytes, limit: limit) else {
            throw WireError(.truncated(needed: Frame.headerSize, remaining: bytes.count), offset: 0)
        }
        let available = bytes.count - Frame.headerSize
        guard available >= header.payloadLength else {
            throw WireError(
                .truncated(needed: header.payloadLength, remaining: available), offset: Frame.headerSize)
        }
        guard available == header.payloadLength else {
            throw WireError(
                .trailingBytes(count: available - header.payloadLength),
                offset: Frame.headerSize + header.payloadLength)
        }
        var reader = ByteReader(bytes)
        _ = try reader.readRaw(count: Frame.headerSize)
        let frame: PeerFrame
        switch header.kind {
        case .hello: frame = .hello(try reader.readPeerHello())
        case .replication: frame = .replication(try reader.readReplicationMessage())
        case .beacon: frame = .beacon(try reader.readBeacon())
        case .clock: frame = .clock(try reader.readUInt64())
        case .swim: frame = .swim(try reader.readSwimDatagram())
        }
        try reader.expectEnd()
        return frame
    }
}
