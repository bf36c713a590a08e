import Foundation
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Starts the real `session-node up` on a generated 3-node config and drives the HTTP contract like a browser.
@Suite(.serialized) struct SessionNodeCLITests {
    static var executable: URL {
        // The test bundle sits in the build directory next to the executable it depends on.
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "session-node")
    }

    /// Free TCP ports (bound then released; each node also uses the UDP port of its replication port).
    static func freePorts(_ count: Int) -> [UInt16] {
        var descriptors = [Int32]()
        var ports = [UInt16]()
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    _ = bind(fd, $0, length)
                    _ = getsockname(fd, $0, &length)
                }
            }
            ports.append(UInt16(bigEndian: address.sin_port))
            descriptors.append(fd)
        }
        for fd in descriptors { close(fd) }
        return ports
    }

    static func writeConfig(mode: String, ack: String) throws -> (path: String, http: [String]) {
        let ports = freePorts(7)
        let salt = Int(getpid() % 200)
        let nodes = (0..<3).map { index in
            """
            { "name": "n\(index + 1)", "replication": "127.0.0.1:\(ports[index])", "http": "127.0.0.1:\(ports[3 + index])" }
            """
        }
        let json = """
            {
              "cluster": "cli-test",
              "secret": "test secret of at least thirty-two bytes",
              "replication": { "mode": "\(mode)", "ack": "\(ack)" },
              "membership": {
                "multicast": { "group": "239.255.\(200 + salt % 50).\(salt % 250 + 1)", "port": \(ports[6]), "interface": "127.0.0.1" },
                "heartbeatMillis": 100
              },
              "nodes": [\(nodes.joined(separator: ",\n"))]
            }
            """
        let path = NSTemporaryDirectory() + "session-node-\(getpid())-\(mode).json"
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return (path, (3..<6).map { "http://127.0.0.1:\(ports[$0])" })
    }

    /// Waits until every node reports the other two alive (for up to 30 s: the processes start on a busy machine).
    static func awaitCluster(_ urls: [String]) async throws {
        let formed = try await eventually(30) {
            urls.allSatisfy { url in
                var client = TestHTTPClient()
                guard let members = try? client.send("GET", url + "/cluster/members") else { return false }
                return members.status == 200 && members.body.components(separatedBy: "\"alive\"").count == 4
            }
        }
        if !formed { throw ClientError("cluster did not form") }
    }

    /// What a browser sees of the HTTP contract across the nodes at `urls`: logins, read-your-writes from node to
    /// node, rotation, logout and the odd ends. Blocking sockets: run it with `onOwnThread`, off the pool.
    static func browse(_ urls: [String], _ f: inout Findings) throws {
        var browser = TestHTTPClient()
        let login = try browser.send(
            "POST", urls[0] + "/login", body: "user=alice", contentType: "application/x-www-form-urlencoded")
        f.expect(login.status == 200, "login answered \(login.status)")
        f.expect(
            login.body.contains("\"user\":\"alice\"") && login.body.contains("\"node\":\"n1\""), "login: \(login.body)")
        f.expect(login.header("X-Served-By") == "n1", "login served by \(login.header("X-Served-By") ?? "-")")
        guard let cookie = login.headers.first(where: { $0.1.hasPrefix("SESSIONID=") })?.1 else {
            return f.fail("login set no SESSIONID cookie: \(login.headers)")
        }
        f.expect(
            cookie.contains("HttpOnly") && cookie.contains("Path=/") && cookie.contains("SameSite=Lax"),
            "login cookie: \(cookie)")

        // Write on one node, read on the next at once: every hop must see the previous write (no retries).
        for hop in 0..<30 {
            let writer = urls[hop % 3]
            let reader = urls[(hop + 1) % 3]
            let put = try browser.send("PUT", writer + "/session/attributes/step", body: "\(hop)")
            f.expect(put.status == 204, "hop \(hop): PUT answered \(put.status)")
            let get = try browser.send("GET", reader + "/session")
            f.expect(
                get.status == 200 && get.body.contains("\"step\":\"\(hop)\""), "hop \(hop): \(get.status) \(get.body)")
        }
        let delete = try browser.send("DELETE", urls[2] + "/session/attributes/step")
        f.expect(delete.status == 204, "DELETE attribute answered \(delete.status)")
        let afterDelete = try browser.send("GET", urls[0] + "/session").body
        f.expect(!afterDelete.contains("step"), "deleted attribute still read: \(afterDelete)")

        // PATCH reads and writes in one request, answering with the session after the change; the next node
        // sees it at once.
        for hop in 0..<6 {
            let patch = try browser.send(
                "PATCH", urls[hop % 3] + "/session", body: "page=p\(hop)&theme=dark",
                contentType: "application/x-www-form-urlencoded")
            f.expect(
                patch.status == 200 && patch.body.contains("\"page\":\"p\(hop)\"")
                    && patch.body.contains("\"theme\":\"dark\"") && patch.body.contains("\"user\":\"alice\""),
                "hop \(hop): \(patch.status) \(patch.body)")
            let get = try browser.send("GET", urls[(hop + 1) % 3] + "/session")
            f.expect(get.body.contains("\"page\":\"p\(hop)\""), "hop \(hop): \(get.body)")
        }
        f.expect(try browser.send("POST", urls[0] + "/session").status == 405, "POST /session is not 405")

        // A second login rotates the id; the old cookie is dead everywhere.
        let oldCookie = browser.cookies["SESSIONID"]
        let relogin = try browser.send(
            "POST", urls[1] + "/login", body: "user=alice", contentType: "application/x-www-form-urlencoded")
        f.expect(
            relogin.status == 200 && browser.cookies["SESSIONID"] != oldCookie, "relogin: \(relogin.status), id kept")
        var attacker = TestHTTPClient(cookies: ["SESSIONID": oldCookie ?? ""])
        let rejected = try attacker.send("GET", urls[2] + "/session")
        f.expect(rejected.status == 401, "the rotated-out id still reads")
        // Outside logout a 401 leaves the cookies alone: in a browser, a request from another tab that still
        // carries the old id must not delete the new login's cookies.
        f.expect(!rejected.headers.contains { $0.0 == "Set-Cookie" }, "a 401 set cookies: \(rejected.headers)")

        f.expect(try browser.send("POST", urls[2] + "/logout").status == 204, "logout is not 204")
        f.expect(browser.cookies["SESSIONID"] == nil, "logout left the SESSIONID cookie")
        var stale = TestHTTPClient(
            cookies: relogin.headers.filter { $0.0 == "Set-Cookie" }.reduce(into: [:]) { jar, header in
                let pair = header.1.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
                jar[String(pair[0])] = String(pair[1])
            })
        f.expect(try stale.send("GET", urls[0] + "/session").status == 401, "a logged-out session still reads")

        // Contract odds and ends.
        var anonymous = TestHTTPClient()
        f.expect(try anonymous.send("GET", urls[0] + "/session").status == 401, "anonymous GET /session")
        f.expect(try anonymous.send("PATCH", urls[0] + "/session", body: "a=b").status == 401, "anonymous PATCH")
        f.expect(try anonymous.send("GET", urls[0] + "/healthz").body == "ok\n", "/healthz body")
        f.expect(try anonymous.send("GET", urls[0] + "/nope").status == 404, "/nope is not 404")
        f.expect(try anonymous.send("DELETE", urls[0] + "/login").status == 405, "DELETE /login is not 405")
        f.expect(
            try anonymous.send("POST", urls[0] + "/login", body: "", contentType: "application/x-www-form-urlencoded")
                .status == 400, "empty login is not 400")
        f.expect(
            try anonymous.send("GET", urls[1] + "/metrics").body.contains("sessioncluster_commits"),
            "/metrics lacks sessioncluster_commits")
        f.expect(
            try anonymous.send("GET", urls[1] + "/cluster/stats").body.contains("\"sessions\""),
            "/cluster/stats lacks sessions")
        f.expect(
            try anonymous.send("GET", urls[1] + "/metrics").body.contains("sessioncluster_links_overflowed{"),
            "/metrics lacks sessioncluster_links_overflowed")
        f.expect(
            try anonymous.send("GET", urls[1] + "/cluster/stats").body.contains("\"links_overflowed\":0"),
            "/cluster/stats lacks links_overflowed 0")
    }

    @Test(arguments: [("delta", "async"), ("backup", "sync")])
    func upServesTheHTTPContractAcrossNodesWithReadYourWrites(mode: String, ack: String) async throws {
        let (config, urls) = try Self.writeConfig(mode: mode, ack: ack)
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["up", config]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        try await Self.awaitCluster(urls)

        let findings = await onOwnThread { () -> Findings in
            var findings = Findings()
            do { try Self.browse(urls, &findings) } catch { findings.fail("the browser's request failed: \(error)") }
            return findings
        }
        findings.record()

        // Graceful stop: SIGTERM to `up` stops every node and exits 0.
        kill(process.processIdentifier, SIGTERM)
        await Self.waitUntilExit(process)
        #expect(process.terminationStatus == 0)
        let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("[n1]") && log.contains("node n2 stopped"))
        try? FileManager.default.removeItem(atPath: config)
    }

    /// Collects a process's output as it arrives (the tests read it while the process runs).
    final class Output: Sendable {
        /// The text so far, in a box of its own: the pipe's handler may run after the test let go of `Output`.
        final class Text: Sendable {
            let value = Mutex("")
        }

        private let text = Text()
        let pipe = Pipe()

        init() {
            pipe.fileHandleForReading.readabilityHandler = { [text] handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil }
                text.value.withLock { $0 += String(decoding: data, as: UTF8.self) }
            }
        }

        var current: String { text.value.withLock { $0 } }
    }

    static func launch(_ arguments: [String]) throws -> (Process, Output) {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        let output = Output()
        process.standardOutput = output.pipe
        process.standardError = output.pipe
        try process.run()
        return (process, output)
    }

    /// Whether something accepts TCP connections at `url` (`http://host:port`).
    static func answers(_ url: String) -> Bool {
        var client = TestHTTPClient()
        return (try? client.send("GET", url + "/healthz"))?.status == 200
    }

    /// Polls `condition` every 100 ms for at most `seconds`, then once more. The condition blocks in sockets, so it
    /// runs on a thread of its own.
    static func eventually(_ seconds: Double, _ condition: @escaping @Sendable () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if await onOwnThread(condition) { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return await onOwnThread(condition)
    }

    /// `process.waitUntilExit()` without blocking a thread of the cooperative pool.
    static func waitUntilExit(_ process: Process) async {
        await onOwnThread { process.waitUntilExit() }
    }

    @Test func upStopsEveryNodeWhenOneFailsToStart() async throws {
        let (config, urls) = try Self.writeConfig(mode: "delta", ack: "async")
        // Someone else already listens on n2's HTTP port: n2 cannot start.
        let port = UInt16(urls[1].split(separator: ":").last!)!
        let blocker = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(blocker) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(blocker, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(bound == 0 && listen(blocker, 4) == 0)

        let (process, output) = try Self.launch(["up", config])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let exited = try await Self.eventually(20) { !process.isRunning }
        #expect(exited, "up kept running a partial cluster:\n\(output.current)")
        guard exited else { return }
        #expect(process.terminationStatus == 1)
        #expect(output.current.contains("node n2 failed to start"), "\(output.current)")
        #expect(output.current.contains("cannot serve HTTP"), "n2's own reason is shown: \(output.current)")
        let othersAnswer = await onOwnThread { Self.answers(urls[0]) || Self.answers(urls[2]) }
        #expect(!othersAnswer, "the other nodes were stopped")
        try? FileManager.default.removeItem(atPath: config)
    }

    @Test func upForwardsHangUpAndItsNodesDieWithIt() async throws {
        let (config, urls) = try Self.writeConfig(mode: "delta", ack: "async")
        let (process, output) = try Self.launch(["up", config])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        try await Self.awaitCluster(urls)

        // SIGHUP (key reload, as the README tells operators) reaches every node; the launcher keeps running.
        kill(process.processIdentifier, SIGHUP)
        let reloaded = try await Self.eventually(10) {
            ["n1", "n2", "n3"].allSatisfy { name in
                output.current.split(separator: "\n").contains {
                    $0.hasPrefix("[\(name)]") && $0.contains("keys reloaded")
                }
            }
        }
        #expect(reloaded, "\(output.current)")
        #expect(process.isRunning, "SIGHUP must not stop the launcher")

        // The launcher dies without a chance to clean up: its nodes go with it — also once the pool thread that
        // asked for the parent-death signal has retired (idle for a few seconds): before the watchdog, nodes
        // outlived a launcher killed 8 s or more after they started.
        try await Task.sleep(for: .seconds(8))
        kill(process.processIdentifier, SIGKILL)
        let gone = try await Self.eventually(10) { urls.allSatisfy { !Self.answers($0) } }
        #expect(gone, "nodes outlived their launcher")
        try? FileManager.default.removeItem(atPath: config)
    }

    @Test func upSurvivesAnEarlyHangUpAndAReaderThatWentAway() async throws {
        let (config, urls) = try Self.writeConfig(mode: "delta", ack: "async")
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["up", config]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // A reload script that sends SIGHUP at once, while the nodes are still starting; and `up FILE | head`:
        // the reader goes away. Neither may take the cluster down.
        kill(process.processIdentifier, SIGHUP)
        try await Task.sleep(for: .milliseconds(50))
        kill(process.processIdentifier, SIGHUP)
        try pipe.fileHandleForReading.close()
        try await Self.awaitCluster(urls)
        kill(process.processIdentifier, SIGHUP)
        try await Task.sleep(for: .milliseconds(300))
        let serving = await onOwnThread { urls.allSatisfy { Self.answers($0) } }
        #expect(process.isRunning && serving)
        kill(process.processIdentifier, SIGTERM)
        let exited = try await Self.eventually(15) { !process.isRunning }
        #expect(exited && process.terminationStatus == 0, "status \(process.terminationStatus)")
        try? FileManager.default.removeItem(atPath: config)
    }

    /// `up FILE | head -1` before anything was read: the launcher's very first line meets a closed pipe. It died of
    /// SIGPIPE, and every node with it, when the table was printed before SIGPIPE was ignored.
    @Test func upSurvivesAReaderGoneBeforeItsFirstLine() async throws {
        let (config, urls) = try Self.writeConfig(mode: "delta", ack: "async")
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["up", config]
        let pipe = Pipe()
        try pipe.fileHandleForReading.close()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        try await Self.awaitCluster(urls)
        #expect(process.isRunning)
        kill(process.processIdentifier, SIGTERM)
        let exited = try await Self.eventually(20) { !process.isRunning }
        #expect(exited && process.terminationStatus == 0, "status \(process.terminationStatus)")
        try? FileManager.default.removeItem(atPath: config)
    }

    /// A node stopped with SIGSTOP cannot act on SIGTERM: the launcher's stop sends SIGCONT with it (before, `up`
    /// waited for it for ever, through every Ctrl-C).
    @Test func upStopsANodeThatWasPaused() async throws {
        let (config, urls) = try Self.writeConfig(mode: "delta", ack: "async")
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["up", config]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        try await Self.awaitCluster(urls)
        let launcher = process.processIdentifier
        let children =
            (try? String(contentsOfFile: "/proc/\(launcher)/task/\(launcher)/children", encoding: .utf8))?
            .split(separator: " ").compactMap { Int32($0) } ?? []
        try #require(children.count == 3, "children: \(children)")
        kill(children[1], SIGSTOP)
        kill(launcher, SIGTERM)
        let exited = try await Self.eventually(25) { !process.isRunning }
        #expect(exited, "up still running 25 s after SIGTERM with a paused node")
        #expect(process.terminationStatus == 0, "status \(process.terminationStatus)")
        #expect(children.allSatisfy { kill($0, 0) != 0 }, "no node outlives the launcher")
        try? FileManager.default.removeItem(atPath: config)
    }

    /// Runs `session-node` with `arguments` to its exit: its status and output. Blocks: use `onOwnThread`.
    static func runToExit(_ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        process.waitUntilExit()
        return (
            process.terminationStatus,
            String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        )
    }

    @Test func badArgumentsAndConfigExitNonZeroWithAClearMessage() async throws {
        func run(_ arguments: [String]) async throws -> (Int32, String) {
            try await onOwnThread { try Self.runToExit(arguments) }
        }
        let help = try await run(["--help"])
        #expect(help.0 == 0 && help.1.contains("session-node up FILE"))
        let unknown = try await run(["frobnicate"])
        #expect(unknown.0 == 2 && unknown.1.contains("unknown command"))
        let missing = try await run(["run", "--config", "/nonexistent.json", "--node", "n1"])
        #expect(missing.0 == 2 && missing.1.contains("/nonexistent.json"))
        #expect(
            missing.1.components(separatedBy: "/nonexistent.json").count == 2, "the file is named once: \(missing.1)")
        let path = NSTemporaryDirectory() + "bad-\(getpid()).json"
        try #"{"cluster": "x", "secret": "0123456789abcdef0123456789abcdef", "nodes": [], "extra": 1}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let bad = try await run(["up", path])
        #expect(bad.0 == 2 && bad.1.contains("extra"), "\(bad.1)")
        try? FileManager.default.removeItem(atPath: path)
    }
}
