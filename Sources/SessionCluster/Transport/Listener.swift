import CLinuxShims

#if canImport(Glibc)
    import Glibc
#endif

/// A non-blocking TCP listening socket. Closed exactly once by `close()`.
package final class Listener {
    package let fd: Int32
    /// The bound address (the real port when 0 was asked for).
    package let address: String
    private var closed = false

    /// Binds and listens on `host:port` (port 0: any free port).
    package init(host: String, port: UInt16, backlog: Int32 = 512) throws(SystemError) {
        _ = System.ignoreSIGPIPE
        let fd = try System.socket(SOCK_STREAM, label: "TCP")
        do throws(SystemError) {
            try System.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR")
            try System.bind(fd, try SocketAddress(host: host, port: port), label: "tcp")
            try System.call("listen") { listen(fd, backlog) }
            self.fd = fd
            self.address = System.localAddress(fd).description
        } catch {
            System.close(fd)
            throw error
        }
    }

    deinit { close() }

    /// The next pending connection (already non-blocking), or nil when none is waiting.
    package func accept() throws(SystemError) -> Int32? {
        try System.nonBlocking("accept4") { csc_accept_nonblocking(fd, nil, nil) }
    }

    package func close() {
        guard !closed else { return }
        closed = true
        System.close(fd)
    }
}
