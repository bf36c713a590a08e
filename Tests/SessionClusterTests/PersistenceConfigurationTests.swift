import Foundation
import Testing

@testable import SessionCluster

/// The top-level `persistence` section (issue 14).
@Suite struct PersistenceConfigurationTests {
    typealias Fixtures = ConfigurationFixtures

    static func document(_ section: String) -> [UInt8] {
        Fixtures.document(extra: #""persistence": \#(section)"#)
    }

    @Test func absentOrNullMeansInMemoryOnly() throws {
        #expect(try ClusterConfiguration.parse(Fixtures.document()).persistence == nil)
        #expect(try ClusterConfiguration.parse(Self.document("null")).persistence == nil)
        let settings = ClusterNodeSettings(
            configuration: try ClusterConfiguration.parse(Fixtures.document()), node: "n1")
        #expect(settings?.persistence == nil)
    }

    @Test func sectionIsReadWithDefaults() throws {
        let full = try ClusterConfiguration.parse(
            Self.document(#"{"directory": "/var/lib/sc", "mode": "log", "fsync": "always"}"#))
        #expect(full.persistence == .init(directory: "/var/lib/sc", mode: .log, fsync: .always))
        let short = try ClusterConfiguration.parse(Self.document(#"{"directory": "/var/lib/sc"}"#))
        #expect(short.persistence == .init(directory: "/var/lib/sc", mode: .snapshot, fsync: .everysec))
        let settings = ClusterNodeSettings(configuration: short, node: "n1")
        #expect(settings?.persistence?.nodeDirectory("n1") == "/var/lib/sc/n1")
        #expect(settings?.persistence?.compactionMinimumBytes == 64 << 20)
        let compact = try ClusterConfiguration.parse(
            Self.document(#"{"directory": "d", "mode": "log", "compactionMinimumBytes": 1048576}"#))
        #expect(compact.persistence?.compactionMinimumBytes == 1 << 20)
        #expect(ClusterNodeSettings(configuration: compact, node: "n1")?.persistence?.compactionMinimumBytes == 1 << 20)
    }

    @Test func badValuesNameTheirKeyPath() {
        #expect(Fixtures.error(Self.document(#"{"mode": "snapshot"}"#))?.keyPath == "persistence.directory")
        #expect(Fixtures.error(Self.document(#"{"directory": ""}"#))?.keyPath == "persistence.directory")
        let mode = Fixtures.error(Self.document(#"{"directory": "d", "mode": "rdb"}"#))
        #expect(mode?.keyPath == "persistence.mode" && mode?.value == #""rdb""#)
        #expect(
            Fixtures.error(Self.document(#"{"directory": "d", "fsync": "sometimes"}"#))?.keyPath == "persistence.fsync")
        #expect(Fixtures.error(Self.document(#"{"directory": "d", "fsnyc": "no"}"#))?.keyPath == "persistence.fsnyc")
        #expect(Fixtures.error(Self.document(#""data""#))?.keyPath == "persistence")
        #expect(
            Fixtures.error(Self.document(#"{"directory": "d", "compactionMinimumBytes": 100}"#))?.keyPath
                == "persistence.compactionMinimumBytes")
    }

    @Test func shippedPersistentClusterLogsBesideItsFile() throws {
        let path = Fixtures.shippedPath("local-3-persistent.json")
        let persistence = try ClusterConfiguration.load(path: path).persistence
        #expect(persistence?.mode == .log && persistence?.fsync == .everysec)
        #expect(persistence?.directory == URL(fileURLWithPath: path).deletingLastPathComponent().path + "/data")
        // Loaded by a relative path: the directory is still absolute (messages name the real place).
        let cwd = FileManager.default.currentDirectoryPath
        if path.hasPrefix(cwd + "/") {
            let relative = String(path.dropFirst(cwd.count + 1))
            #expect(try ClusterConfiguration.load(path: relative).persistence?.directory == persistence?.directory)
        }
    }

    @Test func relativeDirectoryIsRelativeToTheFile() throws {
        let folder = NSTemporaryDirectory() + "sc-persist-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/cluster.json"
        try Data(Self.document(#"{"directory": "data"}"#)).write(to: URL(fileURLWithPath: path))
        #expect(try ClusterConfiguration.load(path: path).persistence?.directory == folder + "/data")
        try Data(Self.document(#"{"directory": "/abs/data"}"#)).write(to: URL(fileURLWithPath: path))
        #expect(try ClusterConfiguration.load(path: path).persistence?.directory == "/abs/data")
    }
}
