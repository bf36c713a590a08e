// libFuzzer entry: the HTTP/1.1 request parser, fed in two pieces, every request drained.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var parser = HTTPRequestParser(limits: HTTPLimits())
    parser.append(bytes.prefix(size / 3))
    parser.append(bytes.dropFirst(size / 3))
    while let request = try? parser.next() {
        _ = request.formFields()
        _ = request.cookies
    }
    return 0
}
