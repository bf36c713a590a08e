import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension SessionNodeCLITests {
    /// A node under a low descriptor limit (hard limit included): it lowers its HTTP and Redis caps to fit and
    /// says so, so idle Redis connections past the limit are refused or displaced by the Redis front end itself
    /// and HTTP clients are still served. Before, the connections ran the process out of descriptors and every new
    /// client, HTTP or Redis, hung until they closed.
    @Test func connectionCapsFitTheDescriptorLimit() async throws {
        let ports = Self.freePorts(4)
        let salt = Int(getpid() % 200)
        let json = """
            {
              "cluster": "cli-descriptors", "secret": "test secret of at least thirty-two bytes",
              "membership": { "multicast": { "group": "239.255.\(200 + salt % 50).\(salt % 250 + 2)",
                              "port": \(ports[2]), "interface": "127.0.0.1" } },
              "redis": { "maxClients": 10000 },
              "nodes": [ { "name": "n1", "replication": "127.0.0.1:\(ports[0])", "http": "127.0.0.1:\(ports[1])",
                           "redis": "127.0.0.1:\(ports[3])" } ]
            }
            """
        let config = NSTemporaryDirectory() + "session-node-descriptors-\(getpid()).json"
        try json.write(toFile: config, atomically: true, encoding: .utf8)
        let log = NSTemporaryDirectory() + "session-node-descriptors-\(getpid()).log"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c", "ulimit -n 200 && exec \"$0\" run --config \"$1\" --node n1", Self.executable.path, config,
        ]
        FileManager.default.createFile(atPath: log, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardError = FileHandle.nullDevice
        try process.run()
        var held = [Int32]()
        defer {
            for fd in held { close(fd) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: config)
            try? FileManager.default.removeItem(atPath: log)
        }
        let health = "http://127.0.0.1:\(ports[1])/healthz"
        let served = try await Self.eventually(20) {
            var client = TestHTTPClient()
            return (try? client.send("GET", health))?.status == 200
        }
        let lines = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try #require(served, "the node did not serve: \(lines)")
        #expect(lines.contains("Redis maxClients lowered to"), "\(lines)")
        // 300 idle Redis connections: more than the process has descriptors.
        for _ in 0..<300 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { break }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = ports[3].bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            held.append(fd)
            if connected != 0 { break }
        }
        try await Task.sleep(for: .milliseconds(300))
        // HTTP clients are still served while the Redis connections are held.
        for _ in 0..<5 {
            var client = TestHTTPClient()
            #expect((try? client.send("GET", health))?.status == 200, "HTTP served beside 300 idle Redis connections")
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}
