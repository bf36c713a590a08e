import Testing

@testable import SessionCluster

/// The `redis` endpoint of a node and the top-level `redis` section (issue 11).
@Suite struct RedisConfigurationTests {
    typealias Fixtures = ConfigurationFixtures

    static func node(redis: String, password: String? = nil, http: String = "127.0.0.1:48101") -> [UInt8] {
        // Multicast off: on loopback it would confine every endpoint to loopback.
        Fixtures.document(
            membership: #"{"multicast": null, "seeds": ["127.0.0.1:47101"]}"#,
            nodes: #"[{"name": "n1", "replication": "127.0.0.1:47101", "http": "\#(http)", "redis": \#(redis)}]"#,
            extra: password.map { #""redis": {"password": \#($0)}"# })
    }

    @Test func shippedRedisFileGivesEveryNodeAnEndpoint() throws {
        let configuration = try ClusterConfiguration.load(path: Fixtures.shippedPath("local-3-redis.json"))
        #expect(configuration.nodes.count == 3)
        #expect(configuration.nodes.allSatisfy { $0.redis?.host == "127.0.0.1" })
        #expect(configuration.redis.password == nil)
    }

    @Test func endpointAndPasswordAreRead() throws {
        let configuration = try ClusterConfiguration.parse(
            Self.node(redis: #""0.0.0.0:6379""#, password: #""s3cret""#, http: "0.0.0.0:48101"))
        #expect(configuration.nodes[0].redis == Endpoint(host: "0.0.0.0", port: 6379))
        #expect(configuration.redis.password == "s3cret")
        #expect(!configuration.description.contains("s3cret"))
    }

    @Test func maxClientsIsReadAndChecked() throws {
        func document(_ section: String) -> [UInt8] {
            Fixtures.document(
                membership: #"{"multicast": null, "seeds": ["127.0.0.1:47101"]}"#,
                nodes: #"[{"name": "n1", "replication": "127.0.0.1:47101", "http": "127.0.0.1:48101"}]"#,
                extra: #""redis": \#(section)"#)
        }
        #expect(try ClusterConfiguration.parse(document(#"{"maxClients": 50}"#)).redis.maxClients == 50)
        #expect(try ClusterConfiguration.parse(document(#"{"password": null}"#)).redis.maxClients == 10_000)
        for bad in ["0", "1000001", "-3"] {
            #expect(Fixtures.error(document(#"{"maxClients": \#(bad)}"#))?.keyPath == "redis.maxClients", "\(bad)")
        }
        #expect(Fixtures.error(document(#"{"maxConnections": 5}"#))?.keyPath == "redis.maxConnections")
    }

    @Test func nullEndpointAndNullPasswordMeanNone() throws {
        let configuration = try ClusterConfiguration.parse(Self.node(redis: "null", password: "null"))
        #expect(configuration.nodes[0].redis == nil)
        #expect(configuration.redis.password == nil)
    }

    @Test func anEndpointOffLoopbackNeedsAPassword() {
        let error = Fixtures.error(Self.node(redis: #""0.0.0.0:6379""#, http: "0.0.0.0:48101"))
        #expect(error?.keyPath == "nodes[0].redis")
        #expect(error?.problem.contains("redis.password") == true)
    }

    @Test func anEndpointSharedWithAnotherIsRefused() {
        let error = Fixtures.error(Self.node(redis: #""127.0.0.1:48101""#))
        #expect(error?.keyPath == "nodes[0].redis")
        #expect(error?.problem.contains("already used by nodes[0].http") == true)
    }

    @Test func badPasswordsAndKeysAreNamed() {
        #expect(Fixtures.error(Self.node(redis: #""127.0.0.1:6379""#, password: #""""#))?.keyPath == "redis.password")
        #expect(Fixtures.error(Self.node(redis: #""127.0.0.1:6379""#, password: "12"))?.keyPath == "redis.password")
        #expect(Fixtures.error(Self.node(redis: #""nowhere""#))?.keyPath == "nodes[0].redis")
        let unknown = Fixtures.error(Fixtures.document(extra: #""redis": {"pasword": "x"}"#))
        #expect(unknown?.keyPath == "redis.pasword")
    }
}

/// `replication.syncAckTimeoutMillis`: the README named it before the file could set it.
@Suite struct SyncAckTimeoutConfigurationTests {
    @Test func theSyncTimeoutIsReadAndBounded() throws {
        let configuration = try ClusterConfiguration.parse(
            ConfigurationFixtures.document(replication: #"{"ack": "sync", "syncAckTimeoutMillis": 750}"#))
        #expect(configuration.replicationSettings().syncAckTimeoutMillis == 750)
        #expect(try ClusterConfiguration.parse(ConfigurationFixtures.document()).replicationSettings()
            .syncAckTimeoutMillis == 2_000)
        let error = ConfigurationFixtures.error(
            ConfigurationFixtures.document(replication: #"{"syncAckTimeoutMillis": 0}"#))
        #expect(error?.keyPath == "replication.syncAckTimeoutMillis")
    }
}
