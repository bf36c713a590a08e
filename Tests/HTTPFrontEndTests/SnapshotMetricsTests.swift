import Foundation
import SessionCluster
import Testing

@testable import HTTPFrontEnd

/// The snapshot figures in `/cluster/stats` and `/metrics` (issue 14).
@Suite struct SnapshotMetricsTests {
    @Test func snapshotFiguresAreExportedAsGauges() async throws {
        let directory = NSTemporaryDirectory() + "sc-metrics-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var settings = ClusterNodeSettings(cluster: "metrics", name: "n1")
        settings.secret = "metrics test secret of at least thirty-two bytes"
        settings.multicast = nil
        settings.persistence = PersistenceSettings(directory: directory)
        let node = try await ClusterNode.start(settings)
        for index in 0..<5 { _ = try await node.create { $0.set("user", "\(index)") } }
        await node.shutdown()
        let written = Dictionary(
            uniqueKeysWithValues: MetricsText.fields(await node.stats()).map { ($0.name, $0.value) })
        #expect(written["snapshot_sessions_written"] == 5)
        #expect((written["snapshot_bytes"] ?? 0) > 0 && (written["snapshot_last_ms"] ?? 0) > 0)

        let restarted = try await ClusterNode.start(settings)
        let stats = await restarted.stats()
        let fields = Dictionary(uniqueKeysWithValues: MetricsText.fields(stats).map { ($0.name, $0.value) })
        #expect(fields["snapshot_sessions_restored"] == 5)
        #expect(fields["snapshot_records_skipped"] == 0)
        #expect(fields["snapshot_load_ms"] != nil)
        let text = MetricsText.prometheus(stats, node: "n1")
        #expect(text.contains("# TYPE sessioncluster_snapshot_bytes gauge"))
        #expect(text.contains("sessioncluster_snapshot_sessions_restored{node=\"n1\"} 5"))
        await restarted.shutdown()
    }
}
