import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal HTTP/1.1 client with a cookie jar, like a browser's: one request per connection, cookies kept
/// from `Set-Cookie` and sent back. Enough to drive `session-node` from tests without other tools.
struct TestHTTPClient {
    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: String
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    var cookies: [String: String] = [:]

    mutating func send(_ method: String, _ url: String, body: String = "", contentType: String? = nil) throws
        -> Response
    {
        let withoutScheme = url.replacingOccurrences(of: "http://", with: "")
        let slash = withoutScheme.firstIndex(of: "/") ?? withoutScheme.endIndex
        let hostPort = String(withoutScheme[..<slash])
        let path = slash == withoutScheme.endIndex ? "/" : String(withoutScheme[slash...])
        let parts = hostPort.split(separator: ":")
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(hostPort)\r\nConnection: close\r\n"
        if !cookies.isEmpty {
            request +=
                "Cookie: " + cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
                + "\r\n"
        }
        if let contentType { request += "Content-Type: \(contentType)\r\n" }
        request += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        let raw = try Self.exchange(host: String(parts[0]), port: UInt16(parts[1])!, request: Array(request.utf8))
        let response = try Self.parse(raw)
        for (name, value) in response.headers where name.lowercased() == "set-cookie" {
            let pair = value.split(separator: ";", maxSplits: 1)[0]
            let nameValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let cookieName = String(nameValue[0])
            let cookieValue = nameValue.count > 1 ? String(nameValue[1]) : ""
            if cookieValue.isEmpty || value.contains("Max-Age=0") {
                cookies[cookieName] = nil
            } else {
                cookies[cookieName] = cookieValue
            }
        }
        return response
    }

    private static func exchange(host: String, port: UInt16, request: [UInt8]) throws -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError("socket failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw ClientError("connect \(host):\(port) failed: errno \(errno)") }
        _ = request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var out = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            out += buffer[0..<count]
        }
        return out
    }

    private static func parse(_ raw: [UInt8]) throws -> Response {
        let text = String(decoding: raw, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else {
            throw ClientError("no response head in \(text.prefix(200))")
        }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return Response(status: status, headers: headers, body: String(text[split.upperBound...]))
    }
}

struct ClientError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
