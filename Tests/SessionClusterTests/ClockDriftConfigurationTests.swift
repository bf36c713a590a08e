import SessionCluster
import Testing

@Suite struct ClockDriftConfigurationTests {
    static func config(_ replication: String) -> [UInt8] {
        Array(
            """
            {"cluster": "c", "secret": "0123456789abcdef0123456789abcdef", "replication": {\(replication)},
             "nodes": [{"name": "n1", "replication": "127.0.0.1:47101", "http": "127.0.0.1:48101"}]}
            """.utf8)
    }

    @Test func maxClockDriftIsReadValidatedAndReachesTheCore() throws {
        let defaulted = try ClusterConfiguration.parse(Self.config(#""mode": "delta""#))
        #expect(defaulted.replicationSettings().maxClockDriftMillis == 60_000)
        let parsed = try ClusterConfiguration.parse(Self.config(#""maxClockDriftMillis": 5000"#))
        let settings = try #require(ClusterNodeSettings(configuration: parsed, node: "n1"))
        #expect(settings.replication.maxClockDriftMillis == 5_000)
        for bad in ["0", "99", "86400001", "-1"] {
            do {
                _ = try ClusterConfiguration.parse(Self.config(#""maxClockDriftMillis": \#(bad)"#))
                Issue.record("maxClockDriftMillis \(bad) accepted")
            } catch {
                #expect(error.keyPath == "replication.maxClockDriftMillis" && error.value == bad)
            }
        }
    }
}
