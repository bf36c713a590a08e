import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking client socket for server tests: connect, send raw bytes, read with a timeout, see EOF.
// @unchecked: only an immutable descriptor; send/recv on it are thread-safe.
public final class RawSocket: @unchecked Sendable {
    public let fd: Int32

    /// Connects to `127.0.0.1:port`; reads time out after `timeoutMillis`.
    public init(port: UInt16, timeoutMillis: Int = 10_000) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var timeout = timeval(tv_sec: timeoutMillis / 1000, tv_usec: (timeoutMillis % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        // No close here: an initializer that throws after every property is set still runs `deinit`, which
        // closes `fd` — closing it here too closed whatever descriptor another thread had opened under that
        // number meanwhile (a node's socket in a test running in parallel).
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { Glibc.close(fd) }

    public func send(_ text: String) { send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until EOF, an error or the read timeout; `eof` says whether the server closed the connection.
    public func readToEnd() -> (text: String, eof: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0 {
                received += buffer[0..<count]
                continue
            }
            let eof = count == 0 || errno == ECONNRESET
            return (String(decoding: received, as: UTF8.self), eof)
        }
    }

    /// Reads `count` bytes (fewer at EOF or timeout): for big answers, which `read(until:)` would search anew on
    /// every chunk.
    public func read(count: Int) -> [UInt8] {
        var received = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = received.withUnsafeMutableBytes { raw in
                recv(fd, raw.baseAddress! + filled, count - filled, 0)
            }
            guard got > 0 else { break }
            filled += got
        }
        return Array(received[0..<filled])
    }

    /// Reads until `marker` has arrived (or EOF / timeout).
    public func read(until marker: String) -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: received, as: UTF8.self).contains(marker) {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            received += buffer[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Sockets bound locally to `port` that still hold a descriptor (inode ≠ 0 in /proc/net/tcp), the listening
    /// socket excluded: the server's connections, whatever other tests of this process do meanwhile.
    public static func serverSockets(port: UInt16) -> Int {
        // procfs reports a size of 0: read to EOF rather than by the file's size.
        guard let data = FileHandle(forReadingAtPath: "/proc/net/tcp")?.readDataToEndOfFile() else { return -1 }
        let table = String(decoding: data, as: UTF8.self)
        let wanted = String(format: ":%04X", port)
        return table.split(separator: "\n").dropFirst().filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 9 && fields[1].hasSuffix(wanted) && fields[3] != "0A" && fields[9] != "0"
        }.count
    }

    /// Bytes received by the server's sockets on `port` that the server has not read yet (rx_queue).
    public static func unreadBytes(port: UInt16) -> Int {
        guard let data = FileHandle(forReadingAtPath: "/proc/net/tcp")?.readDataToEndOfFile() else { return -1 }
        let wanted = String(format: ":%04X", port)
        return String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst().reduce(0) { total, line in
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[1].hasSuffix(wanted), fields[3] != "0A" else { return total }
            return total + (Int(fields[4].split(separator: ":").last ?? "", radix: 16) ?? 0)
        }
    }

    /// Descriptors this process has open.
    public static func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }
}
