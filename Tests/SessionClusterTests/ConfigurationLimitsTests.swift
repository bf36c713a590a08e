import Foundation
import TestSupport
import Testing

@testable import SessionCluster

#if canImport(Glibc)
    import Glibc
#endif

/// The `limits` section, the checks on `tickMillis` and on sessions that could not fit in a frame, and the
/// inbound-link limits they set on a running node.
@Suite struct ConfigurationLimitsTests {
    static func parse(limits: String? = nil, sessions: String? = nil) throws -> ClusterConfiguration {
        try ClusterConfiguration.parse(
            ConfigurationFixtures.document(sessions: sessions, extra: limits.map { #""limits": \#($0)"# }))
    }

    @Test func defaultsAreTheValuesUsedBefore() throws {
        let parsed = try Self.parse()
        #expect(parsed.limits == ClusterConfiguration.Limits())
        let settings = try #require(ClusterNodeSettings(configuration: parsed, node: "n1"))
        let builtIn = ClusterNodeSettings(cluster: "c", name: "n1")
        #expect(settings.tickMillis == builtIn.tickMillis && settings.tickMillis == 50)
        #expect(settings.maxFrameBytes == 16 << 20 && settings.maxQueuedBytesPerPeer == 64 << 20)
        #expect(parsed.limits.http.maxConnections == 1_024 && parsed.limits.http.maxHeaderBytes == 32 * 1024)
        #expect(parsed.limits.http.maxBodyBytes == 1 << 20)
    }

    @Test func loopsAreReadCheckedAndReachTheNodeSettings() throws {
        #expect(try Self.parse().loops == 1)
        let two = try ClusterConfiguration.parse(ConfigurationFixtures.document(extra: #""loops": 2"#))
        #expect(try #require(ClusterNodeSettings(configuration: two, node: "n1")).loops == 2)
        for bad in ["0", "65", "-1", "1.5", "\"2\""] {
            #expect(throws: ConfigurationError.self) {
                _ = try ClusterConfiguration.parse(ConfigurationFixtures.document(extra: "\"loops\": \(bad)"))
            }
        }
        let persisted = try ClusterConfiguration.parse(
            ConfigurationFixtures.document(
                extra: #""loops": 2, "persistence": {"directory": "/tmp/x", "mode": "snapshot"}"#))
        #expect(persisted.loops == 2 && persisted.persistence != nil)
    }

    @Test func everyKeyIsReadAndReachesTheNodeSettings() throws {
        let parsed = try Self.parse(
            limits: """
                {"tickMillis": 20,
                 "http": {"maxConnections": 3000, "headerTimeoutMillis": 5000, "bodyTimeoutMillis": 7000,
                          "idleTimeoutMillis": 9000, "maxHeaderBytes": 4096, "maxBodyBytes": 2048},
                 "replication": {"maxFrameBytes": 1048576, "maxQueuedBytesPerPeer": 2097152,
                                 "helloTimeoutMillis": 700, "maxInboundLinks": 9}}
                """)
        let http = parsed.limits.http
        #expect(http.maxConnections == 3_000 && http.headerTimeoutMillis == 5_000 && http.bodyTimeoutMillis == 7_000)
        #expect(http.idleTimeoutMillis == 9_000 && http.maxHeaderBytes == 4_096 && http.maxBodyBytes == 2_048)
        let settings = try #require(ClusterNodeSettings(configuration: parsed, node: "n1"))
        #expect(settings.tickMillis == 20 && settings.maxFrameBytes == 1 << 20)
        #expect(settings.maxQueuedBytesPerPeer == 2 << 20 && settings.helloTimeoutMillis == 700)
        #expect(settings.maxInboundLinks == 9)
        try settings.validateLimits()
    }

    @Test func outOfRangeValuesNameTheirKey() throws {
        let cases: [(String, String, String)] = [
            (#"{"tickMillis": 0}"#, "limits.tickMillis", "0"),
            (#"{"tickMillis": 5000}"#, "limits.tickMillis", "5000"),
            (#"{"http": {"maxConnections": 0}}"#, "limits.http.maxConnections", "0"),
            (#"{"http": {"idleTimeoutMillis": 10}}"#, "limits.http.idleTimeoutMillis", "10"),
            (#"{"replication": {"maxFrameBytes": 1000}}"#, "limits.replication.maxFrameBytes", "1000"),
            (
                #"{"replication": {"maxQueuedBytesPerPeer": 65536}}"#, "limits.replication.maxQueuedBytesPerPeer",
                "65536"
            ),
            (#"{"replication": {"maxInboundLinks": 0}}"#, "limits.replication.maxInboundLinks", "0"),
        ]
        for (limits, key, value) in cases {
            let error = ConfigurationFixtures.error(
                ConfigurationFixtures.document(extra: #""limits": \#(limits)"#))
            #expect(error?.keyPath == key && error?.value == value, "\(limits)")
        }
        let unknown = ConfigurationFixtures.error(
            ConfigurationFixtures.document(extra: #""limits": {"http": {"maxConections": 5}}"#))
        #expect(unknown?.keyPath == "limits.http.maxConections")
    }

    /// A session larger than a frame could never replicate: the file is refused (it was accepted before).
    @Test func aSessionLimitThatCannotFitInAFrameIsRefused() throws {
        let error = ConfigurationFixtures.error(
            ConfigurationFixtures.document(sessions: #"{"maxSessionBytes": 67108864}"#))
        #expect(error?.keyPath == "sessions.maxSessionBytes" && error?.value == "67108864")
        #expect(error?.description.contains("maxFrameBytes") == true)
        let small = ConfigurationFixtures.error(
            ConfigurationFixtures.document(
                sessions: #"{"maxSessionBytes": 1048576}"#,
                extra: #""limits": {"replication": {"maxFrameBytes": 1048576}}"#))
        #expect(small?.keyPath == "sessions.maxSessionBytes")
        // With room for the framing it is accepted.
        _ = try Self.parse(
            limits: #"{"replication": {"maxFrameBytes": 2097152}}"#, sessions: #"{"maxSessionBytes": 1048576}"#)
    }

    @Test func aNodeRefusesToStartWithBadLimits() async throws {
        var settings = ClusterNodeSettings(cluster: "limits", name: "n1")
        settings.secret = "limits test secret of thirty-two bytes!"
        settings.tickMillis = 0
        await #expect(throws: StartError.self) { _ = try await ClusterNode.start(settings) }
        settings.tickMillis = 50
        settings.maxSessionBytes = 32 << 20
        do {
            _ = try await ClusterNode.start(settings)
            Issue.record("a node started with sessions larger than a frame")
        } catch .invalidSettings(let error) {
            #expect(error.keyPath == "maxSessionBytes" && error.value == String(32 << 20))
        } catch {
            Issue.record("expected invalid settings, got \(error)")
        }
    }

    /// An inbound replication connection must say hello in time, and only so many may be open: at the cap the
    /// oldest anonymous one makes room.
    @Test func inboundLinksAreCappedAndMustSayHelloInTime() async throws {
        var settings = ClusterNodeSettings(cluster: "limits-links", name: "n1")
        settings.secret = "limits test secret of thirty-two bytes!"
        settings.helloTimeoutMillis = 3_000
        settings.maxInboundLinks = 2
        let node = try await ClusterNode.start(settings)
        let port = UInt16(node.me.replication.split(separator: ":").last!)!
        // The choreography runs on a thread of its own: its timing must not depend on the cooperative pool.
        let outcome = await onOwnThread { () -> (displacedAfter: Double, allClosed: Bool) in
            guard let silent = try? (0..<2).map({ _ in try BlockingSocket(port: port) }) else { return (99, false) }
            usleep(300_000)  // both accepted
            let start = Date()
            guard let third = try? BlockingSocket(port: port) else { return (99, false) }
            // At the cap the oldest connection still without a hello makes room for the newcomer, at once.
            let displaced = silent[0].waitForEOF()
            let displacedAfter = Date().timeIntervalSince(start)
            // The others are closed when their hello deadline passes.
            return (displaced ? displacedAfter : 99, silent[1].waitForEOF() && third.waitForEOF())
        }
        #expect(outcome.displacedAfter < 2.5, "\(outcome)")  // at once, not at the hello deadline (3 s)
        #expect(outcome.allClosed)
        let stats = await node.stats()
        #expect(stats.linksRejected == 1 && stats.linksTimedOut == 2, "\(stats)")
        await node.shutdown()
    }
}

/// A blocking loopback client that only connects and waits for the server to close.
// @unchecked: an immutable descriptor; recv on it is thread-safe.
final class BlockingSocket: @unchecked Sendable {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
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

    /// Whether the server closed the connection (EOF or reset) before the 10 s read timeout.
    func waitForEOF() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0 { continue }
            return count == 0 || errno == ECONNRESET
        }
    }
}
