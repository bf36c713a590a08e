// libFuzzer entry: the envelope opener every received datagram and frame meets first.
let fuzzCipher = ClusterCipher(
    cluster: "fuzz", me: NodeID(rawValue: 1), keyring: try! Keyring(secret: "fuzzing secret of thirty-two bytes!!"))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelope(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    precondition(fuzzCipher.open(bytes[...], channel: .datagram) == nil, "a forged envelope authenticated")
    _ = fuzzCipher.open(bytes[...], channel: .stream)
    return 0
}
