// libFuzzer entry: the RESP command parser, fed in two pieces, every command drained, unauthenticated half the time.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRESP(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var parser = RESPCommandParser(limits: RESPLimits(), authenticated: size % 2 == 0)
    parser.append(bytes.prefix(size / 3))
    while (try? parser.next()) != nil {}
    parser.append(bytes.dropFirst(size / 3))
    while let command = try? parser.next() {
        precondition(!command.isEmpty)
        for argument in command { _ = RESPValue.bulk(argument).encoded(version: 3) }
    }
    return 0
}
