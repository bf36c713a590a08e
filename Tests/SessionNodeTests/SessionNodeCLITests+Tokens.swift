import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension SessionNodeCLITests {
    /// Before tokens were authenticated, a made-up version cookie naming an unknown writer made the node pull
    /// the session from every peer and fail the request; now the node ignores it, serves its copy and counts it.
    @Test func aForgedVersionCookieIsIgnoredAndCounted() async throws {
        let (config, urls) = try Self.writeConfig(mode: "delta", ack: "async")
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["up", config]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: config)
        }
        try await Self.awaitCluster(urls)

        var browser = TestHTTPClient()
        let login = try browser.send(
            "POST", urls[0] + "/login", body: "user=alice", contentType: "application/x-www-form-urlencoded")
        #expect(login.status == 200)
        let genuine = try #require(browser.cookies["SESSIONVERSION"])
        // Async mode: the login's delta reaches n2 a moment after the answer. Without a token to say a newer copy
        // exists, n2 can only serve what it holds, so wait until it holds the session.
        let statsURL = urls[1] + "/cluster/stats"
        _ = try await Self.eventually(5) {
            var probe = TestHTTPClient()
            return (try? probe.send("GET", statsURL))?.body.contains("\"sessions\":1") == true
        }
        // The payload of a token naming writer 0xFF…FF with counter 2^63, and a made-up MAC.
        let forged = "AQH__________4CAgICAgICAgAFaWlpaWlpaWlpaWlo"
        var attacker = TestHTTPClient(cookies: [
            "SESSIONID": browser.cookies["SESSIONID"] ?? "", "SESSIONVERSION": forged,
        ])
        let started = ContinuousClock.now
        let read = try attacker.send("GET", urls[1] + "/session")
        #expect(read.status == 200 && read.body.contains("\"user\":\"alice\""), "\(read.status) \(read.body)")
        #expect(ContinuousClock.now - started < .milliseconds(500), "the node waited for a copy no one has")
        // A genuine token of another session is no good for this one either.
        var other = TestHTTPClient()
        _ = try other.send(
            "POST", urls[0] + "/login", body: "user=bob", contentType: "application/x-www-form-urlencoded")
        var mixed = TestHTTPClient(
            cookies: [
                "SESSIONID": browser.cookies["SESSIONID"] ?? "",
                "SESSIONVERSION": other.cookies["SESSIONVERSION"] ?? "",
            ])
        #expect(try mixed.send("GET", urls[1] + "/session").status == 200)
        #expect(try browser.send("GET", urls[1] + "/session").status == 200 && genuine != forged)
        let stats = try attacker.send("GET", urls[1] + "/cluster/stats")
        #expect(stats.body.contains("\"tokens_rejected\":2"), "\(stats.body)")
        #expect(stats.body.contains("\"fetches_sent\":0") && stats.body.contains("\"writes_lost\":0"))

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}
