import SessionCluster
import Testing

@Suite struct LimitsTests {
    static func config(_ extra: String, node: String = "127.0.0.1") -> [UInt8] {
        Array(
            """
            {"cluster": "c", "secret": "0123456789abcdef0123456789abcdef", \(extra)
             "nodes": [{"name": "n1", "replication": "\(node):47101", "http": "\(node):48101"}]}
            """.utf8)
    }

    @Test func sessionLimitsAreReadAndValidatedFromTheFile() throws {
        let parsed = try ClusterConfiguration.parse(
            Self.config(#""sessions": {"maxAttributes": 3, "maxSessionBytes": 2048, "maxSessions": 10},"#))
        #expect(parsed.sessions.maxAttributes == 3 && parsed.sessions.maxSessionBytes == 2048)
        let settings = try #require(ClusterNodeSettings(configuration: parsed, node: "n1"))
        #expect(settings.maxAttributesPerSession == 3 && settings.maxSessions == 10)
        #expect(settings.secret == "0123456789abcdef0123456789abcdef")
        do {
            _ = try ClusterConfiguration.parse(Self.config(#""sessions": {"maxAttributes": 0},"#))
            Issue.record("maxAttributes 0 accepted")
        } catch {
            #expect(error.keyPath == "sessions.maxAttributes" && error.value == "0")
        }
    }

    @Test func loopbackMulticastRefusesNodesOffLoopback() {
        do {
            _ = try ClusterConfiguration.parse(Self.config("", node: "198.51.100.7"))
            Issue.record("a node off loopback was accepted with a loopback multicast interface")
        } catch {
            #expect(error.keyPath == "nodes[0].replication" && error.description.contains("loopback"))
        }
    }

    @Test func nodeRefusesOversizedSessionsAndNeverEvictsWhenFull() async throws {
        var settings = ClusterNodeSettings(cluster: "limits", name: "n1")
        settings.secret = "limits test secret of thirty-two bytes!"
        settings.maxAttributesPerSession = 2
        settings.maxSessionBytes = 1_024
        settings.maxSessions = 2
        let node = try await ClusterNode.start(settings)
        let first = try await node.create { $0.set("a", "1") }
        let grown = try await node.update(first.id, token: first.version) { _, changes in changes.set("b", "2") }
        await #expect(throws: SessionError.tooLarge) {
            _ = try await node.update(first.id, token: grown.version) { _, changes in changes.set("c", "3") }
        }
        await #expect(throws: SessionError.tooLarge) {
            _ = try await node.update(first.id, token: grown.version) { _, changes in
                changes.set("a", [UInt8](repeating: 7, count: 2_000))
            }
        }
        // The refused requests released the session: it still answers and is unchanged.
        #expect(try await node.read(first.id, token: grown.version).attributes.count == 2)
        _ = try await node.create { $0.set("a", "1") }
        await #expect(throws: SessionError.full) { _ = try await node.create { $0.set("a", "1") } }
        #expect(try await node.read(first.id, token: grown.version).string("a") == "1")
        await node.shutdown()
    }

    /// Sessions whose attributes were all removed hold nothing: they do not count against `maxSessions` (before,
    /// they did until they expired or, for a Redis key, were forgotten), but every valid session held stops at
    /// twice it.
    @Test func emptiedSessionsDoNotCountUntilTwiceTheLimit() async throws {
        var settings = ClusterNodeSettings(cluster: "limits-emptied", name: "n1")
        settings.secret = "limits test secret of thirty-two bytes!"
        settings.multicast = nil
        settings.maxSessions = 2
        let node = try await ClusterNode.start(settings)
        func empty(_ created: SessionUpdate<Void>) async throws {
            _ = try await node.update(created.id, token: created.version) { _, changes in changes.remove("a") }
        }
        try await empty(try await node.create { $0.set("a", "1") })
        try await empty(try await node.create { $0.set("a", "1") })
        var stats = await node.stats()
        #expect(stats.sessions == 2 && stats.emptied == 2)
        let kept = try await node.create { $0.set("a", "1") }
        _ = try await node.create { _ in }  // holds nothing yet: counts
        await #expect(throws: SessionError.full) { _ = try await node.create { $0.set("a", "1") } }
        try await empty(kept)
        // One holds something, but four sessions are held: twice the limit.
        await #expect(throws: SessionError.full) { _ = try await node.create { $0.set("a", "1") } }
        stats = await node.stats()
        #expect(stats.sessions == 4 && stats.emptied == 3)
        await node.shutdown()
    }
}
