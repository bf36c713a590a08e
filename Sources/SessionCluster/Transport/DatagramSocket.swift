import CLinuxShims

#if canImport(Glibc)
    import Glibc
#endif

/// A non-blocking UDP socket for membership beacons. Owned by one loop; closed exactly once by `close()`.
final class DatagramSocket {
    let fd: Int32
    private var closed = false

    private init(fd: Int32) { self.fd = fd }

    deinit { close() }

    /// A socket bound to `address` (the node's replication host:port: UDP beside the TCP listener), able to
    /// send unicast and — when `multicastInterface` is given — multicast out of that interface only.
    static func unicast(bind address: SocketAddress, multicastInterface: String?) throws(SystemError) -> DatagramSocket
    {
        let socket = try open()
        do throws(SystemError) {
            try socket.bind(address)
            if let interface = multicastInterface { try socket.configureMulticastSending(interface: interface) }
            return socket
        } catch {
            socket.close()
            throw error
        }
    }

    /// A socket that receives datagrams sent to `group:port` on `interface`. It binds the group address itself
    /// and sets `IP_MULTICAST_ALL` to 0, so clusters on other groups of the same port are not heard.
    static func multicastReceiver(group: String, port: UInt16, interface: String) throws(SystemError) -> DatagramSocket
    {
        let socket = try open()
        do throws(SystemError) {
            try System.setOption(socket.fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR")
            try System.setOption(socket.fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT")
            try socket.bind(try SocketAddress(host: group, port: port))
            var request = ip_mreq()
            request.imr_multiaddr = try SocketAddress(host: group, port: port).storage.sin_addr
            request.imr_interface = try SocketAddress(host: interface, port: 0).storage.sin_addr
            try System.call("setsockopt(IP_ADD_MEMBERSHIP \(group) on \(interface))") {
                setsockopt(
                    socket.fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &request, socklen_t(MemoryLayout<ip_mreq>.size))
            }
            try System.setOption(socket.fd, Int32(IPPROTO_IP), IP_MULTICAST_ALL, 0, "IP_MULTICAST_ALL")
            return socket
        } catch {
            socket.close()
            throw error
        }
    }

    private static func open() throws(SystemError) -> DatagramSocket {
        let fd = try System.call("socket(UDP)") {
            socket(
                AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        return DatagramSocket(fd: fd)
    }

    private func bind(_ address: SocketAddress) throws(SystemError) {
        try System.bind(fd, address, label: "udp")
    }

    /// Multicast leaves by `interface` (without it, it would leave by the default route), with TTL 1, and is
    /// looped back so other nodes on this machine hear it.
    private func configureMulticastSending(interface: String) throws(SystemError) {
        var address = try SocketAddress(host: interface, port: 0).storage.sin_addr
        try System.call("setsockopt(IP_MULTICAST_IF \(interface))") {
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &address, socklen_t(MemoryLayout<in_addr>.size))
        }
        try System.setOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, 1, "IP_MULTICAST_TTL")
        try System.setOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, 1, "IP_MULTICAST_LOOP")
        try System.setOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_ALL, 0, "IP_MULTICAST_ALL")
    }

    /// Sends one datagram; a full socket buffer drops it (beacons are periodic).
    func send(_ bytes: [UInt8], to address: SocketAddress) throws(SystemError) {
        try System.sendDatagram(fd, bytes, to: address)
    }

    /// The next datagram, or nil when none is waiting. `buffer` is reused; datagrams larger than it are cut
    /// (and then fail to decode).
    func receive(into buffer: inout [UInt8]) throws(SystemError) -> Int? {
        let capacity = buffer.count
        return try buffer.withUnsafeMutableBytes { raw in
            Result { () throws(SystemError) -> Int? in
                try System.nonBlocking("recv") { recv(fd, raw.baseAddress, capacity, 0) }
            }
        }.get()
    }

    func close() {
        guard !closed else { return }
        closed = true
        System.close(fd)
    }
}
