import HTTPFrontEnd
import Testing

/// The serializer with precomputed pieces against the straightforward formatting it replaced, for every status,
/// custom reasons, odd codes and headers that need sanitizing.
@Suite struct HTTPResponseBytesTests {
    /// The former `serialized(keepAlive:requestVersion:includeBody:)`: interpolated status line, byte-by-byte
    /// sanitizing.
    private func reference(_ response: HTTPResponse, keepAlive: Bool, http10: Bool = false, body: Bool = true)
        -> String
    {
        func clean(_ text: String) -> String {
            String(decoding: text.utf8.filter { $0 != 13 && $0 != 10 && $0 != 0 }, as: UTF8.self)
        }
        let status = response.status
        let allowsBody = !(100...199).contains(status) && status != 204 && status != 304
        var out = "HTTP/1.1 \(status) " + clean(response.reason) + "\r\n"
        for (name, value) in response.headers
        where !["content-length", "connection", "transfer-encoding"].contains(name.lowercased()) {
            out += clean(name) + ": " + clean(value) + "\r\n"
        }
        if allowsBody { out += "Content-Length: \(response.body.count)\r\n" }
        if !keepAlive {
            out += "Connection: close\r\n"
        } else if http10 {
            out += "Connection: keep-alive\r\n"
        }
        out += "\r\n"
        if allowsBody && body { out += String(decoding: response.body, as: UTF8.self) }
        return out
    }

    @Test func everyStatusIsWrittenAsBefore() {
        for status in [-5, 0, 42, 99, 600, 1_000, 12_345] + Array(100...599) {
            var response = HTTPResponse(status: status, headers: [("X-A", "1")], body: Array("body".utf8))
            for keepAlive in [true, false] {
                let bytes = response.serialized(keepAlive: keepAlive)
                #expect(
                    String(decoding: bytes, as: UTF8.self) == reference(response, keepAlive: keepAlive), "\(status)")
            }
            response.reason = "Custom Reason"
            #expect(
                String(decoding: response.serialized(keepAlive: true, requestVersion: .http10), as: UTF8.self)
                    == reference(response, keepAlive: true, http10: true), "\(status) custom")
        }
    }

    @Test func oddHeadersAndBodiesAreWrittenAsBefore() {
        var response = HTTPResponse(status: 200, body: [UInt8](repeating: UInt8(ascii: "b"), count: 10_000))
        response.reason = "O\r\nK\u{0}"
        response.addHeader("X-Évil\r\n", "va\u{0}lue\nwith\rbreaks ✓")
        response.addHeader("TRANSFER-ENCODING", "chunked")
        response.addHeader("Set-Cookie", String(repeating: "c", count: 3_000))
        response.addHeader("", "")
        for (keepAlive, body) in [(true, true), (false, false)] {
            let bytes = response.serialized(keepAlive: keepAlive, includeBody: body)
            #expect(String(decoding: bytes, as: UTF8.self) == reference(response, keepAlive: keepAlive, body: body))
        }
    }
}
