// libFuzzer entry: the cluster configuration file (JSON parser, structure and validation).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    _ = try? ClusterConfiguration.parse(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
