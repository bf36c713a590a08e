import Foundation
import Testing

@testable import SessionCluster

/// Shared inputs of the configuration tests: the shipped example files and a small document builder.
enum ConfigurationFixtures {
    static let shippedFiles = [
        "local-3-delta.json", "local-3-seeds.json", "local-4-backup.json", "local-3-redis.json", "local-3-persistent.json",
    ]

    static func shippedPath(_ name: String) -> String {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("cluster-configs").appendingPathComponent(name).path
    }

    static func shippedBytes(_ name: String) -> [UInt8] {
        [UInt8](FileManager.default.contents(atPath: shippedPath(name)) ?? Data())
    }

    static let secret = "0123456789abcdef0123456789abcdef"  // exactly 32 bytes
    static let oneNode = #"[{"name": "n1", "replication": "127.0.0.1:47101", "http": "127.0.0.1:48101"}]"#

    /// A document with the required keys plus whatever sections are given as raw JSON text.
    static func document(
        cluster: String = #""test""#, secret: String = #""0123456789abcdef0123456789abcdef""#,
        replication: String? = nil, membership: String? = nil, sessions: String? = nil, nodes: String? = oneNode,
        extra: String? = nil
    ) -> [UInt8] {
        var members = [#""cluster": \#(cluster)"#, #""secret": \#(secret)"#]
        if let replication { members.append(#""replication": \#(replication)"#) }
        if let membership { members.append(#""membership": \#(membership)"#) }
        if let sessions { members.append(#""sessions": \#(sessions)"#) }
        if let nodes { members.append(#""nodes": \#(nodes)"#) }
        if let extra { members.append(extra) }
        return Array(("{\n  " + members.joined(separator: ",\n  ") + "\n}\n").utf8)
    }

    /// The error parsing `bytes` throws, or nil (and a recorded issue) when it parses.
    static func error(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationError? {
        #expect(throws: ConfigurationError.self, sourceLocation: sourceLocation) {
            try ClusterConfiguration.parse(bytes)
        }
    }
}

@Suite struct ConfigurationFileTests {
    @Test func shippedDeltaFileParsesWithItsValues() throws {
        let configuration = try ClusterConfiguration.load(path: ConfigurationFixtures.shippedPath("local-3-delta.json"))
        #expect(configuration.cluster == "demo")
        #expect(configuration.secret == "development secret only - replace before any real use!")
        #expect(configuration.replication.mode == .delta)
        #expect(configuration.replication.ack == .async)
        var multicast = ClusterConfiguration.Multicast()
        multicast.group = "239.255.77.1"
        multicast.port = 47_001
        multicast.interface = "127.0.0.1"
        #expect(configuration.membership.multicast == multicast)
        #expect(configuration.membership.heartbeatMillis == 500)
        #expect(configuration.membership.seeds.isEmpty)
        #expect(configuration.sessions.maxInactiveSeconds == 1_800)
        #expect(configuration.sessions.cookieName == "SESSIONID")
        #expect(configuration.sessions.routeSuffix)
        #expect(configuration.nodes.map(\.name) == ["n1", "n2", "n3"])
        #expect(configuration.nodes[2].replication == Endpoint(host: "127.0.0.1", port: 47_103))
        #expect(configuration.nodes[2].http == Endpoint(host: "127.0.0.1", port: 48_103))
    }

    @Test func shippedSeedsFileHasMulticastOffAndTwoSeeds() throws {
        let configuration = try ClusterConfiguration.load(path: ConfigurationFixtures.shippedPath("local-3-seeds.json"))
        #expect(configuration.cluster == "demo-seeds")
        #expect(configuration.membership.multicast == nil)
        #expect(configuration.membership.seeds.map(\.description) == ["127.0.0.1:47301", "127.0.0.1:47302"])
        #expect(configuration.nodes.map(\.replication.port) == [47_301, 47_302, 47_303])
        let settings = configuration.membershipSettings()
        #expect(!settings.multicast)
        #expect(settings.effectiveUnicastToMembers)
        #expect(settings.seeds == ["127.0.0.1:47301", "127.0.0.1:47302"])
        // The roster the lost rule waits for (a node that starts into a partition must not end live sessions).
        #expect(settings.expectedMembers == ["n1", "n2", "n3"])
    }

    @Test func shippedBackupFileHasBackupModeSyncAckAndFourNodes() throws {
        let configuration = try ClusterConfiguration.load(
            path: ConfigurationFixtures.shippedPath("local-4-backup.json"))
        #expect(configuration.cluster == "demo-backup")
        #expect(configuration.replication.mode == .backup)
        #expect(configuration.replication.ack == .sync)
        #expect(configuration.membership.multicast?.group == "239.255.77.2")
        #expect(configuration.membership.multicast?.port == 47_002)
        #expect(configuration.nodes.count == 4)
        #expect(configuration.node(named: "n4")?.http == Endpoint("127.0.0.1:48204"))
        let replication = configuration.replicationSettings()
        #expect(replication.mode == .backup)
        #expect(replication.ack == .sync)
    }

    @Test func minimalFileGetsEveryDefault() throws {
        let configuration = try ClusterConfiguration.parse(ConfigurationFixtures.document())
        #expect(configuration.cluster == "test")
        #expect(configuration.secret == ConfigurationFixtures.secret)
        #expect(configuration.replication.mode == .delta)
        #expect(configuration.replication.ack == .async)
        #expect(configuration.membership.multicast?.group == "239.255.77.1")
        #expect(configuration.membership.multicast?.port == 47_001)
        #expect(configuration.membership.multicast?.interface == "127.0.0.1")
        #expect(configuration.membership.heartbeatMillis == 500)
        #expect(configuration.membership.suspectAfterMillis == nil)
        #expect(configuration.membership.deadAfterMillis == nil)
        #expect(configuration.membership.effectiveSuspectAfterMillis == 1_500)
        #expect(configuration.membership.effectiveDeadAfterMillis == 3_000)
        #expect(configuration.membership.seeds.isEmpty)
        #expect(configuration.sessions.maxInactiveSeconds == 1_800)
        #expect(configuration.sessions.cookieName == "SESSIONID")
        #expect(configuration.sessions.routeSuffix)
        #expect(!configuration.sessions.secureCookies)
        let expected = ClusterConfiguration(
            cluster: "test", secret: ConfigurationFixtures.secret,
            nodes: [
                .init(
                    name: "n1", replication: Endpoint(host: "127.0.0.1", port: 47_101),
                    http: Endpoint(host: "127.0.0.1", port: 48_101))
            ])
        #expect(configuration == expected)
    }

    @Test func emptySectionsAreTheDefaults() throws {
        let bytes = ConfigurationFixtures.document(
            replication: "{}", membership: #"{"multicast": {}}"#, sessions: "{}")
        #expect(try ClusterConfiguration.parse(bytes) == ClusterConfiguration.parse(ConfigurationFixtures.document()))
    }

    @Test func membershipProtocolIsBeaconByDefaultAndSwimOnRequest() throws {
        let defaults = try ClusterConfiguration.parse(ConfigurationFixtures.document())
        #expect(defaults.membership.protocolKind == .beacon)
        #expect(defaults.membershipSettings().protocolKind == .beacon)
        let swim = try ClusterConfiguration.parse(ConfigurationFixtures.document(membership: #"{"protocol": "swim"}"#))
        #expect(swim.membership.protocolKind == .swim)
        #expect(swim.membershipSettings().protocolKind == .swim)
        #expect(swim.description.contains("membership: swim"))
        let beacon = try ClusterConfiguration.parse(
            ConfigurationFixtures.document(membership: #"{"protocol": "beacon"}"#))
        #expect(beacon == defaults)
    }

    @Test func multicastNullDisablesMulticast() throws {
        let configuration = try ClusterConfiguration.parse(
            ConfigurationFixtures.document(membership: #"{"multicast": null}"#))
        #expect(configuration.membership.multicast == nil)
        #expect(configuration.membershipSettings().multicast == false)
        let defaults = try ClusterConfiguration.parse(ConfigurationFixtures.document())
        #expect(defaults.membershipSettings().multicast == true)
    }

    @Test func everyOptionalKeyIsApplied() throws {
        let bytes = ConfigurationFixtures.document(
            replication: #"{"mode": "backup", "ack": "sync"}"#,
            membership: #"""
                {"multicast": {"group": "224.0.0.250", "port": 5000, "interface": "198.51.100.3"}, "heartbeatMillis": 200,
                 "suspectAfterMillis": 700, "deadAfterMillis": 90000, "seeds": ["localhost:47101", "198.51.100.2:47101"]}
                """#,
            sessions:
                #"{"maxInactiveSeconds": 60, "cookieName": "__Host-sid", "routeSuffix": false, "secureCookies": true}"#)
        let configuration = try ClusterConfiguration.parse(bytes)
        #expect(configuration.replication.mode == .backup)
        #expect(configuration.membership.multicast?.interface == "198.51.100.3")
        #expect(configuration.membership.multicast?.port == 5_000)
        #expect(
            configuration.membership.seeds == [
                Endpoint(host: "localhost", port: 47_101), Endpoint("198.51.100.2:47101")!,
            ])
        #expect(configuration.sessions.cookieName == "__Host-sid")
        #expect(!configuration.sessions.routeSuffix)
        #expect(configuration.sessions.secureCookies)
        let membership = configuration.membershipSettings()
        #expect(membership.heartbeatMillis == 200)
        #expect(membership.suspectAfterMillis == 700)
        #expect(membership.deadAfterMillis == 90_000)
        #expect(membership.deadRetentionMillis == 90_000)  // follows a dead timeout beyond its one-minute default
        #expect(configuration.replicationSettings().defaultMaxInactiveSeconds == 60)
    }

    @Test func explicitNullTimeoutsMeanTheDefaults() throws {
        let configuration = try ClusterConfiguration.parse(
            ConfigurationFixtures.document(
                membership: #"{"heartbeatMillis": 100, "suspectAfterMillis": null, "deadAfterMillis": null}"#))
        #expect(configuration.membershipSettings().suspectAfterMillis == 300)
        #expect(configuration.membershipSettings().deadAfterMillis == 600)
    }

    @Test func nodeNamedFindsTheEntryOrNil() throws {
        let configuration = try ClusterConfiguration.load(path: ConfigurationFixtures.shippedPath("local-3-delta.json"))
        #expect(configuration.node(named: "n2")?.replication.description == "127.0.0.1:47102")
        #expect(configuration.node(named: "n9") == nil)
    }

    @Test func descriptionLeavesTheSecretOut() throws {
        let configuration = try ClusterConfiguration.parse(ConfigurationFixtures.document())
        #expect(!"\(configuration)".contains(ConfigurationFixtures.secret))
        #expect("\(configuration)".contains("test"))
    }

    @Test func loadingAMissingFileSaysSoAndNamesIt() {
        let error = #expect(throws: ConfigurationError.self) {
            try ClusterConfiguration.load(path: "/nonexistent/cluster.json")
        }
        #expect(error?.description == "/nonexistent/cluster.json: no such file")
    }

    @Test func loadingADirectoryIsAnError() {
        let error = #expect(throws: ConfigurationError.self) {
            try ClusterConfiguration.load(path: NSTemporaryDirectory())
        }
        #expect(error?.problem == "is a directory, not a file")
    }

    @Test func loadErrorsCarryFileLineAndColumn() throws {
        let path = NSTemporaryDirectory() + "configuration-test-\(getpid()).json"
        _ = FileManager.default.createFile(atPath: path, contents: Data("{\n  \"cluster\": \"x\",\n}".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: ConfigurationError.self) { try ClusterConfiguration.load(path: path) }
        #expect(error?.description == "\(path):2:17: trailing comma before '}' is not allowed in JSON")
    }

    @Test func endpointParsesHostAndPortStrictly() {
        #expect(Endpoint("127.0.0.1:47101") == Endpoint(host: "127.0.0.1", port: 47_101))
        #expect(Endpoint("localhost:1")?.description == "localhost:1")
        for bad in [
            "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:+80", "example.com:80",
            "256.0.0.1:80", "01.2.3.4:80", "1.2.3:80", "[::1]:80", ":80", "1.2.3.4:８０",
        ] {
            #expect(Endpoint(bad) == nil, "\(bad)")
        }
    }
}
