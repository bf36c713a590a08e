/// An HTTP answer as the bench needs it.
struct HTTPAnswer {
    var status: Int
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    /// Whether the body contains `needle` (byte search; the bodies are small).
    func contains(_ needle: [UInt8]) -> Bool {
        guard needle.count <= body.count else { return false }
        let first = needle[0]
        var index = 0
        let last = body.count - needle.count
        while index <= last {
            if body[index] == first {
                var match = true
                for offset in 1..<needle.count where body[index + offset] != needle[offset] {
                    match = false
                    break
                }
                if match { return true }
            }
            index += 1
        }
        return false
    }
}

struct HTTPClientError: Error, CustomStringConvertible {
    var description: String
}

/// A tiny HTTP/1.1 keep-alive client with a cookie jar, like one browser tab: it keeps the session cookies
/// (`SESSIONID`, `SESSIONVERSION`) that answers set and sends them back. Reconnects once when a kept-alive
/// connection was closed by the server. Not thread-safe: one client per thread.
final class HTTPClient {
    let host: String
    let port: UInt16
    /// Cookies in the order first set.
    private(set) var cookies: [(name: String, value: String)] = []
    /// Cookies never stored from answers (the lag probe drops `SESSIONVERSION` to measure replication itself).
    var ignoredCookies: Set<String> = []
    private var socket: ClientSocket?
    private var buffer: [UInt8] = []
    private let hostHeader: [UInt8]

    init(host: String, port: UInt16) {
        self.host = host
        self.port = port
        hostHeader = Array("Host: \(host):\(port)\r\n".utf8)
        buffer.reserveCapacity(65_536)
    }

    /// `host:port` form.
    convenience init(address: String) {
        let parts = address.split(separator: ":")
        self.init(host: String(parts[0]), port: UInt16(parts[1]) ?? 0)
    }

    func cookie(_ name: String) -> String? { cookies.first { $0.name == name }?.value }

    func setCookie(_ name: String, _ value: String?) {
        cookies.removeAll { $0.name == name }
        if let value { cookies.append((name, value)) }
    }

    func clearCookies() { cookies.removeAll() }

    func close() {
        socket?.close()
        socket = nil
        buffer.removeAll(keepingCapacity: true)
    }

    /// Sends one request and reads its answer.
    func request(
        _ method: String, _ path: String, body: [UInt8] = [], contentType: String? = nil
    ) throws -> HTTPAnswer {
        var head = [UInt8]()
        head.reserveCapacity(256 + body.count)
        head.append(contentsOf: method.utf8)
        head.append(0x20)
        head.append(contentsOf: path.utf8)
        head.append(contentsOf: " HTTP/1.1\r\n".utf8)
        head.append(contentsOf: hostHeader)
        if !cookies.isEmpty {
            head.append(contentsOf: "Cookie: ".utf8)
            for (index, cookie) in cookies.enumerated() {
                if index > 0 { head.append(contentsOf: "; ".utf8) }
                head.append(contentsOf: cookie.name.utf8)
                head.append(0x3D)
                head.append(contentsOf: cookie.value.utf8)
            }
            head.append(contentsOf: "\r\n".utf8)
        }
        if let contentType { head.append(contentsOf: "Content-Type: \(contentType)\r\n".utf8) }
        if !body.isEmpty || method == "PUT" || method == "POST" {
            head.append(contentsOf: "Content-Length: \(body.count)\r\n".utf8)
        }
        head.append(contentsOf: "\r\n".utf8)
        head.append(contentsOf: body)
        for attempt in 0..<2 {
            let fresh = socket == nil
            do {
                if socket == nil { socket = try ClientSocket(host: host, port: port) }
                try socket!.send(head)
                return try readAnswer(head: method == "HEAD")
            } catch let error as ConnectionClosed {
                close()
                // Only a reused connection the server closed while idle is retried; never a fresh one.
                if attempt == 1 || fresh { throw HTTPClientError(description: "\(method) \(path): \(error)") }
            } catch {
                close()
                throw HTTPClientError(description: "\(method) \(path) to \(host):\(port): \(error)")
            }
        }
        throw HTTPClientError(description: "\(method) \(path): connection closed")
    }

    /// `application/x-www-form-urlencoded` POST.
    func postForm(_ path: String, _ form: String, method: String = "POST") throws -> HTTPAnswer {
        try request(method, path, body: Array(form.utf8), contentType: "application/x-www-form-urlencoded")
    }

    private struct ConnectionClosed: Error, CustomStringConvertible {
        var description: String { "connection closed by the server" }
    }

    private func readAnswer(head: Bool) throws -> HTTPAnswer {
        // Headers.
        var headerEnd = -1
        var scanned = 0
        while headerEnd < 0 {
            if let end = findHeaderEnd(from: max(0, scanned - 3)) {
                headerEnd = end
                break
            }
            scanned = buffer.count
            if try socket!.receive(into: &buffer) == 0 { throw ConnectionClosed() }
        }
        guard buffer.count > 12, buffer[9] >= 0x30, buffer[9] <= 0x39 else {
            throw HTTPClientError(description: "malformed status line")
        }
        let status = Int(buffer[9] - 0x30) * 100 + Int(buffer[10] - 0x30) * 10 + Int(buffer[11] - 0x30)
        var contentLength = 0
        var closeAfter = false
        var lineStart = 0
        while lineStart < headerEnd {
            var lineEnd = lineStart
            while lineEnd < headerEnd && buffer[lineEnd] != 0x0D { lineEnd += 1 }
            if lineStart > 0 { header(lineStart, lineEnd, &contentLength, &closeAfter) }
            lineStart = lineEnd + 2
        }
        let bodyStart = headerEnd + 4
        let hasBody = !head && status != 204 && status != 304 && status >= 200
        let bodyLength = hasBody ? contentLength : 0
        while buffer.count < bodyStart + bodyLength {
            if try socket!.receive(into: &buffer) == 0 { throw ConnectionClosed() }
        }
        let body = Array(buffer[bodyStart..<(bodyStart + bodyLength)])
        buffer.removeSubrange(0..<(bodyStart + bodyLength))
        if closeAfter { close() }
        return HTTPAnswer(status: status, body: body)
    }

    private func findHeaderEnd(from start: Int) -> Int? {
        guard buffer.count >= 4 else { return nil }
        var index = start
        while index + 3 < buffer.count {
            if buffer[index] == 0x0D && buffer[index + 1] == 0x0A && buffer[index + 2] == 0x0D
                && buffer[index + 3] == 0x0A
            {
                return index
            }
            index += 1
        }
        return nil
    }

    /// Handles the header line `buffer[start..<end]`: Content-Length, Connection, Set-Cookie.
    private func header(_ start: Int, _ end: Int, _ contentLength: inout Int, _ closeAfter: inout Bool) {
        guard let colon = buffer[start..<end].firstIndex(of: 0x3A) else { return }
        var valueStart = colon + 1
        while valueStart < end && buffer[valueStart] == 0x20 { valueStart += 1 }
        if nameIs(start, colon, "content-length") {
            var value = 0
            for index in valueStart..<end where buffer[index] >= 0x30 && buffer[index] <= 0x39 {
                value = value * 10 + Int(buffer[index] - 0x30)
            }
            contentLength = value
        } else if nameIs(start, colon, "connection") {
            closeAfter = String(decoding: buffer[valueStart..<end], as: UTF8.self).lowercased() == "close"
        } else if nameIs(start, colon, "set-cookie") {
            let line = String(decoding: buffer[valueStart..<end], as: UTF8.self)
            let pair = line.split(separator: ";", maxSplits: 1).first ?? ""
            guard let equals = pair.firstIndex(of: "=") else { return }
            let name = String(pair[..<equals])
            let value = String(pair[pair.index(after: equals)...])
            if ignoredCookies.contains(name) { return }
            setCookie(name, value.isEmpty || line.contains("Max-Age=0") ? nil : value)
        }
    }

    private func nameIs(_ start: Int, _ end: Int, _ lowercased: StaticString) -> Bool {
        guard end - start == lowercased.utf8CodeUnitCount else { return false }
        let expected = lowercased.utf8Start
        for offset in 0..<(end - start) where buffer[start + offset] | 0x20 != expected[offset] {
            return false
        }
        return true
    }
}
