import SessionCluster
import SessionClusterCore
import Testing

@Suite struct CopiesConfigurationTests {
    static func config(_ replication: String) -> [UInt8] { ClockDriftConfigurationTests.config(replication) }

    @Test func copiesAreReadAndReachTheCore() throws {
        let defaulted = try ClusterConfiguration.parse(Self.config(#""mode": "backup""#))
        #expect(defaulted.replicationSettings().copies == 2)
        let parsed = try ClusterConfiguration.parse(Self.config(#""mode": "backup", "ack": "sync", "copies": 3"#))
        #expect(parsed.replication.copies == 3)
        let settings = try #require(ClusterNodeSettings(configuration: parsed, node: "n1"))
        #expect(settings.replication.copies == 3)
        #expect("\(parsed)".contains("backup/sync/3 copies"))
        let eight = try ClusterConfiguration.parse(Self.config(#""mode": "backup", "copies": 8"#))
        #expect(eight.replicationSettings().copies == 8)
        // Delta mode keeps a copy everywhere: 2, the default, is the only value that means what it says.
        let delta = try ClusterConfiguration.parse(Self.config(#""mode": "delta", "copies": 2"#))
        #expect(delta.replicationSettings().copies == 2)
    }

    @Test func copiesOutOfRangeOrInDeltaModeAreClearErrors() {
        let cases: [(String, String, String)] = [
            (#""mode": "backup", "copies": 1"#, "1", "must be at least two (2)"),
            (#""mode": "backup", "copies": 0"#, "0", "must be at least two (2)"),
            (#""mode": "backup", "copies": -3"#, "-3", "must be at least two (2)"),
            (#""mode": "backup", "copies": 9"#, "9", "must be less than 9 (9)"),
            (#""mode": "delta", "copies": 3"#, "3", "delta mode keeps a copy on every node"),
            (#""copies": 4"#, "4", "delta mode keeps a copy on every node"),
        ]
        for (replication, value, problem) in cases {
            do {
                _ = try ClusterConfiguration.parse(Self.config(replication))
                Issue.record("\(replication) accepted")
            } catch {
                #expect(error.keyPath == "replication.copies" && error.value == value, "\(error)")
                #expect(error.problem.contains(problem), "\(error)")
            }
        }
        do {
            _ = try ClusterConfiguration.parse(Self.config(#""mode": "backup", "copies": "3""#))
            Issue.record("a string accepted as copies")
        } catch {
            #expect(error.keyPath == "replication.copies", "\(error)")
        }
    }

    @Test func coreSettingsValidateCopies() {
        var settings = ReplicationSettings(mode: .backup, ack: .sync)
        settings.copies = 3
        #expect(throws: Never.self) { try settings.validate() }
        settings.copies = 1
        #expect(throws: SettingsError.self) { try settings.validate() }
        settings.copies = ReplicationSettings.maxCopies + 1
        #expect(throws: SettingsError.self) { try settings.validate() }
    }
}
