// libFuzzer entry: the wire codec (datagram frames, and the stream decoder fed in two pieces).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? WireCodec.decodeFrame(bytes, limit: 1 << 20)
    var decoder = FrameDecoder(maxFrameBytes: 1 << 20)
    decoder.append(bytes.prefix(size / 2))
    decoder.append(bytes.dropFirst(size / 2))
    while let frame = try? decoder.next() {
        _ = frame
    }
    return 0
}
