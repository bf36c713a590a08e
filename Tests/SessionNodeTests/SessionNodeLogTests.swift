import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension SessionNodeCLITests {
    /// Bytes waiting in a pipe (FIONREAD).
    static func unreadBytes(_ fd: Int32) -> Int {
        var count: Int32 = 0
        return ioctl(fd, UInt(FIONREAD), &count) == 0 ? Int(count) : -1
    }

    /// Waits (polling) at most `seconds` for `process` to exit; answers whether it did.
    static func exits(_ process: Process, within seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return !process.isRunning
    }

    /// `session-node run` whose stdout is a pipe nobody reads: once the pipe is full, the node must keep serving
    /// HTTP and membership (its log records wait off the loop), and still stop on SIGTERM. Before, the node wrote
    /// its lines on its event loop: a full pipe blocked the loop for good.
    @Test func runKeepsServingAndStopsWhileNobodyReadsItsStdout() async throws {
        let (config, urls) = try Self.writeConfig(mode: "delta", ack: "async")
        let stalled = Pipe()
        let unread = stalled.fileHandleForReading.fileDescriptor
        // The smallest pipe (one page): a few dozen log lines fill it. (F_SETPIPE_SZ is 1031 on Linux.)
        #expect(fcntl(unread, 1031, Int32(4_096)) >= 4_096)
        func node(_ name: String, stdout: Any) throws -> Process {
            let process = Process()
            process.executableURL = Self.executable
            process.arguments = ["run", "--config", config, "--node", name, "--log-level", "debug"]
            process.standardOutput = stdout
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        let n1 = try node("n1", stdout: stalled)
        var n2: Process?
        defer {
            for process in [n1, n2] where process?.isRunning == true { kill(process!.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: config)
        }
        #expect(try await Self.eventually(30) { Self.answers(urls[0]) }, "n1 did not start")
        /// Whether n1 lists the n2 now running as alive (n2's id from n2, then an HTTP answer from n1's loop).
        let n1SeesN2Alive: @Sendable () -> Bool = {
            var client = TestHTTPClient()
            guard let own = try? client.send("GET", urls[1] + "/cluster/members").body,
                let entry = own.components(separatedBy: "{").first(where: { $0.contains("\"name\":\"n2\"") }),
                let id = entry.components(separatedBy: "\"id\":\"").dropFirst().first?.prefix(16),
                let members = try? client.send("GET", urls[0] + "/cluster/members").body
            else { return false }
            return members.components(separatedBy: "{").contains {
                $0.contains("\"id\":\"\(id)\"") && $0.contains("\"state\":\"alive\"")
            }
        }
        // n2 joins and leaves until n1's log lines (joined, transfers, left) fill the pipe: a round that adds no
        // byte means n1's writer is blocked. Each round needs n1's loop to handle membership and answer HTTP.
        var rounds = 0
        var unreadBefore = -1
        while rounds < 40 {
            let unreadNow = Self.unreadBytes(unread)
            if unreadNow == unreadBefore && unreadNow > 4_096 - 400 { break }
            unreadBefore = unreadNow
            rounds += 1
            let peer = try node("n2", stdout: FileHandle.nullDevice)
            n2 = peer
            let joined = try await Self.eventually(15, n1SeesN2Alive)
            #expect(joined, "round \(rounds): n1 did not see n2 join (\(unreadNow) bytes unread)")
            kill(peer.processIdentifier, SIGTERM)
            #expect(await Self.exits(peer, within: 15))
            if !joined { break }
            // n1's lines about the round reach its writer (or its queue) off the loop: give them a moment.
            try await Task.sleep(for: .milliseconds(100))
        }
        let stuck = Self.unreadBytes(unread)
        #expect(
            stuck == unreadBefore && stuck > 4_096 - 400, "the pipe did not fill in \(rounds) rounds: \(stuck) bytes")
        print("n1's stdout pipe full after \(rounds) rounds of n2 joining and leaving: \(stuck) bytes unread")

        // With its stdout stuck, n1 still serves: a login, its stats, and a new n2 joining.
        let login = try await onOwnThread { () throws -> Int in
            var client = TestHTTPClient()
            return try client.send(
                "POST", urls[0] + "/login", body: "user=alice", contentType: "application/x-www-form-urlencoded"
            ).status
        }
        #expect(login == 200)
        let peer = try node("n2", stdout: FileHandle.nullDevice)
        n2 = peer
        #expect(try await Self.eventually(15, n1SeesN2Alive), "n1 did not see n2 join with its stdout stuck")
        kill(peer.processIdentifier, SIGTERM)
        #expect(await Self.exits(peer, within: 15))

        // SIGTERM: n1 leaves and exits although its last lines cannot be written (each wait is bounded).
        kill(n1.processIdentifier, SIGTERM)
        let stopped = await Self.exits(n1, within: 15)
        #expect(stopped && n1.terminationStatus == 0, "n1 did not stop on SIGTERM with its stdout stuck")
    }
}
