import CLinuxShims

#if canImport(Glibc)
    import Glibc
#endif

/// The one place the shell makes system calls: errno is read at once, `EINTR` is retried, `EAGAIN` becomes
/// "would block" (nil), anything else throws a `SystemError` naming the call. Sends use `MSG_NOSIGNAL`.
enum System {
    /// Runs `body` until it does not fail with EINTR. -1 throws; other values are returned.
    @discardableResult
    static func call<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> T
    {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = errno
            if code == EINTR { continue }
            throw SystemError(call: name(), errno: code)
        }
    }

    /// Like `call`, but `EAGAIN`/`EWOULDBLOCK` returns nil.
    static func nonBlocking<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ body: () -> T)
        throws(SystemError) -> T?
    {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            throw SystemError(call: name(), errno: code)
        }
    }

    /// Ignores SIGPIPE for the whole process (once): a peer closing a socket must not kill the node.
    static let ignoreSIGPIPE: Void = {
        _ = signal(SIGPIPE, SIG_IGN)
    }()

    static func close(_ fd: Int32) {
        // close is not retried on EINTR on Linux: the descriptor is released either way.
        _ = Glibc.close(fd)
    }

    static func setNonBlocking(_ fd: Int32) throws(SystemError) {
        let flags = try call("fcntl(F_GETFL)") { fcntl(fd, F_GETFL) }
        try call("fcntl(F_SETFL)") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32, _ label: String)
        throws(SystemError)
    {
        var value = value
        try call("setsockopt(\(label))") {
            setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    static func read(_ fd: Int32, into buffer: inout [UInt8]) throws(SystemError) -> Int? {
        let capacity = buffer.count
        return try buffer.withUnsafeMutableBytes { raw in
            Result { () throws(SystemError) -> Int? in
                try nonBlocking("read") { Glibc.read(fd, raw.baseAddress, capacity) }
            }
        }.get()
    }

    /// A new non-blocking, close-on-exec IPv4 socket (`SOCK_STREAM` or `SOCK_DGRAM`).
    static func socket(_ kind: __socket_type, label: String) throws(SystemError) -> Int32 {
        try call("socket(\(label))") {
            Glibc.socket(
                AF_INET, Int32(kind.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
    }

    static func bind(_ fd: Int32, _ address: SocketAddress, label: String) throws(SystemError) {
        let result = address.withSockaddr { pointer, length in Glibc.bind(fd, pointer, length) }
        if result != 0 { throw SystemError(call: "bind(\(label) \(address))", errno: errno) }
    }

    /// Starts a non-blocking connect; true when it completed at once, false when in progress.
    static func connect(_ fd: Int32, _ address: SocketAddress) throws(SystemError) -> Bool {
        let result = address.withSockaddr { pointer, length in Glibc.connect(fd, pointer, length) }
        if result == 0 { return true }
        let code = errno
        if code == EINPROGRESS { return false }
        throw SystemError(call: "connect(\(address))", errno: code)
    }

    /// The pending error of a socket (the outcome of a non-blocking connect); 0 for none.
    static func pendingError(_ fd: Int32) -> Int32 {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        return error
    }

    /// The address a socket is bound to.
    static func localAddress(_ fd: Int32) -> SocketAddress {
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return SocketAddress(actual)
    }

    /// Sends one datagram; a full buffer (or EINTR) drops it silently — beacons are periodic.
    static func sendDatagram(_ fd: Int32, _ bytes: [UInt8], to address: SocketAddress) throws(SystemError) {
        let sent = address.withSockaddr { pointer, length in
            bytes.withUnsafeBytes { raw in sendto(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), pointer, length)
            }
        }
        let code = errno
        if sent < 0, code != EAGAIN, code != EWOULDBLOCK, code != EINTR {
            throw SystemError(call: "sendto(\(address))", errno: code)
        }
    }

    /// Whether bytes (or an end of stream) wait to be read on `fd`, without reading them (`MSG_PEEK`).
    static func hasPendingInput(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) >= 0
    }

    /// Sends FIN after what is queued (`shutdown(SHUT_WR)`); reading goes on. Errors are ignored: the socket is
    /// being closed anyway.
    static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(SystemError) -> Int? {
        try nonBlocking("send") { Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
    }
}

/// An IPv4 socket address built from `host:port` (IPv4 literal or `localhost`).
struct SocketAddress: CustomStringConvertible, Sendable {
    var storage: sockaddr_in

    init(host: String, port: UInt16) throws(SystemError) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        let literal = host == "localhost" ? "127.0.0.1" : host
        guard inet_pton(AF_INET, literal, &address.sin_addr) == 1 else {
            throw SystemError(call: "inet_pton(\(host))", errno: EINVAL)
        }
        storage = address
    }

    init(_ storage: sockaddr_in) { self.storage = storage }

    /// Parses `host:port`.
    init(parsing text: String) throws(SystemError) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw SystemError(call: "parse address \(text)", errno: EINVAL)
        }
        try self.init(host: String(text[..<colon]), port: port)
    }

    var port: UInt16 { UInt16(bigEndian: storage.sin_port) }

    var host: String {
        var address = storage.sin_addr
        var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &address, &buffer, socklen_t(INET_ADDRSTRLEN))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var description: String { "\(host):\(port)" }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var copy = storage
        return withUnsafePointer(to: &copy) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                body(raw, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }
}
