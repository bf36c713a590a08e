import HTTPFrontEnd

/// Helpers shared by the HTTP tests: feed text to a fresh parser and collect what comes out.
enum HTTPTestSupport {
    /// Feeds `bytes` to a fresh parser in chunks of `chunkSize` (whole when nil), draining requests after each
    /// chunk. Returns the requests and the error that stopped parsing, if any.
    static func parse(
        _ bytes: [UInt8], limits: HTTPLimits = HTTPLimits(), chunkSize: Int? = nil
    ) -> (requests: [HTTPRequest], error: HTTPParseError?) {
        var parser = HTTPRequestParser(limits: limits)
        var requests: [HTTPRequest] = []
        let size = max(1, chunkSize ?? bytes.count)
        var start = 0
        repeat {
            let end = min(bytes.count, start + size)
            parser.append(bytes[start..<end])
            start = end
            do {
                while let request = try parser.next() {
                    requests.append(request)
                }
            } catch {
                return (requests, error)
            }
        } while start < bytes.count
        return (requests, nil)
    }

    /// `parse(_:)` of UTF-8 text.
    static func parse(
        _ text: String, limits: HTTPLimits = HTTPLimits(), chunkSize: Int? = nil
    ) -> (requests: [HTTPRequest], error: HTTPParseError?) {
        parse(Array(text.utf8), limits: limits, chunkSize: chunkSize)
    }

    /// The single request `text` must hold; nil (and the caller's expectation fails) otherwise.
    static func single(_ text: String) -> HTTPRequest? {
        let result = parse(text)
        guard result.error == nil, result.requests.count == 1 else { return nil }
        return result.requests[0]
    }

    /// The error parsing `text` whole stops with.
    static func error(_ text: String, limits: HTTPLimits = HTTPLimits()) -> HTTPParseError? {
        parse(text, limits: limits).error
    }
}
