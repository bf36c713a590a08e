#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call: which call, and errno.
struct SocketError: Error, CustomStringConvertible {
    var call: String
    var code: Int32

    var description: String { "\(call) failed: \(String(cString: strerror(code))) (errno \(code))" }
}

/// A blocking TCP client socket on loopback (the bench's clients run on their own threads, so blocking is what
/// they want). TCP_NODELAY on, a receive timeout so a stuck server cannot hang the bench, one owner, closed once.
final class ClientSocket {
    private(set) var fd: Int32
    /// One receive buffer per socket, allocated once.
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 8)

    /// Connects to `host:port` (IPv4 dotted quad). `timeoutSeconds` bounds every later receive and send.
    init(host: String, port: UInt16, timeoutSeconds: Int = 10) throws(SocketError) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(call: "socket", code: errno) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close()
            throw SocketError(call: "inet_pton(\(host))", code: EINVAL)
        }
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 {
            let code = errno
            close()
            throw SocketError(call: "connect(\(host):\(port))", code: code)
        }
    }

    deinit {
        close()
        scratch.deallocate()
    }

    /// Sends every byte (MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE).
    func send(_ bytes: [UInt8]) throws(SocketError) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                Glibc.send(fd, buffer.baseAddress! + sent, buffer.count - sent, Int32(MSG_NOSIGNAL))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw SocketError(call: "send", code: errno)
            }
            sent += count
        }
    }

    /// Appends what one `recv` returns to `buffer`; returns the count (0: the peer closed).
    func receive(into buffer: inout [UInt8]) throws(SocketError) -> Int {
        while true {
            let received = recv(fd, scratch.baseAddress, scratch.count, 0)
            if received < 0 {
                if errno == EINTR { continue }
                throw SocketError(call: "recv", code: errno == EAGAIN ? ETIMEDOUT : errno)
            }
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<received]))
            return received
        }
    }

    func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }
}

/// Free ports on 127.0.0.1, for TCP and UDP both: found by binding a TCP socket to port 0, then a UDP socket to
/// the port it got (a node binds its membership port for UDP, and a port free for TCP may be any UDP socket's
/// ephemeral port: a section once failed on "bind(udp …) Address already in use"). All are held together, so they
/// differ, then released.
func freePorts(_ count: Int) -> [UInt16] {
    var fds = [Int32]()
    var ports = [UInt16]()
    func bound(_ type: Int32, port: UInt16) -> (fd: Int32, port: UInt16)? {
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else {
            close(fd)
            return nil
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }
    // Bounded: a port taken for UDP is held (so it is not offered again) and another is tried.
    var attempts = 0
    while ports.count < count && attempts < count + 1_000 {
        attempts += 1
        guard let tcp = bound(Int32(SOCK_STREAM.rawValue), port: 0) else { continue }
        fds.append(tcp.fd)
        guard let udp = bound(Int32(SOCK_DGRAM.rawValue), port: tcp.port) else { continue }
        fds.append(udp.fd)
        ports.append(tcp.port)
    }
    for fd in fds { close(fd) }
    return ports
}
