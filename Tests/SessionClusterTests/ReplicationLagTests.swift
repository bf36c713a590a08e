import Foundation
import SessionCluster
import Testing

@Suite struct ReplicationLagTests {
    @Test func samplesFallIntoTheirBucketsAndNegativeOnesCountAsZero() {
        var lag = ReplicationLag()
        for micros: Int64 in [-5, 0, 25, 26, 90, 1_000, 2_000_000] { lag.record(micros: micros) }
        #expect(lag.count == 7 && lag.maxMicros == 2_000_000 && lag.sumMicros == 25 + 26 + 90 + 1_000 + 2_000_000)
        #expect(lag.buckets[0] == 3)  // -5 (as 0), 0, 25: ≤ 25 µs
        #expect(lag.buckets[1] == 1)  // 26: ≤ 50
        #expect(lag.buckets[3] == 1)  // 90: ≤ 100
        #expect(lag.buckets[ReplicationLag.bounds.firstIndex(of: 1_000)!] == 1)
        #expect(lag.buckets.last == 1)  // above the last bound
        #expect(lag.buckets.reduce(0, +) == lag.count)
    }

    /// A peer's clock stamp of 0 (or any far-past value) makes samples of decades; their sum used to trap.
    @Test func absurdSamplesFromAPeerSaturateInsteadOfTrapping() {
        var lag = ReplicationLag()
        for _ in 0..<3 { lag.record(micros: .max) }
        #expect(lag.count == 3 && lag.sumMicros == .max && lag.maxMicros == .max)
        lag.record(micros: .min)
        #expect(lag.count == 4 && lag.buckets[0] == 1)
    }

    @Test func recentKeepsTheLatestSamplesInOrderAndGivesPercentiles() {
        var lag = ReplicationLag()
        #expect(lag.recentPercentile(0.5) == nil)
        let total = ReplicationLag.recentCapacity + 100
        for index in 0..<total { lag.record(micros: Int64(index)) }
        #expect(lag.recent.count == ReplicationLag.recentCapacity)
        #expect(lag.recent.first == 100 && lag.recent.last == total - 1)
        #expect(lag.recentPercentile(0) == 100 && lag.recentPercentile(1) == total - 1)
        let median = lag.recentPercentile(0.5)!
        #expect(abs(median - (100 + ReplicationLag.recentCapacity / 2)) <= 1)
    }

    @Test func lagSamplingIsReadFromTheFileAndRangeChecked() throws {
        let parsed = try ClusterConfiguration.parse(LimitsTests.config(#""replication": {"lagSampleMillis": 5},"#))
        #expect(try #require(ClusterNodeSettings(configuration: parsed, node: "n1")).lagSampleMillis == 5)
        #expect(try ClusterConfiguration.parse(LimitsTests.config("")).replication.lagSampleMillis == 0)
        do {
            _ = try ClusterConfiguration.parse(LimitsTests.config(#""replication": {"lagSampleMillis": -1},"#))
            Issue.record("a negative lagSampleMillis was accepted")
        } catch {
            #expect(error.keyPath == "replication.lagSampleMillis" && error.value == "-1")
        }
    }
}

extension ClusterNodeTests {
    @Test func stampedDeltasGiveTheReceiverOneLagSampleEach() async throws {
        let multicast = Self.uniqueMulticast()
        var first = Self.settings("n1", multicast: multicast)
        first.lagSampleMillis = 1
        let sender = try await ClusterNode.start(first)
        let receiver = try await ClusterNode.start(Self.settings("n2", multicast: multicast))
        _ = try await Self.awaitMembership([sender, receiver])
        let login = try await sender.create { $0.set("user", "timed") }
        var version = login.version
        let writes = 20
        for index in 0..<writes {
            version = try await sender.update(login.id, token: version) { _, changes in changes.set("n", "\(index)") }
                .version
            try await Task.sleep(for: .milliseconds(3))
        }
        #expect(try await receiver.read(login.id, token: version).string("n") == "\(writes - 1)")
        let sent = await sender.stats()
        // One stamp per delta at most (stamps are ≥ 1 ms apart and the writes 3 ms), each giving one sample.
        #expect(sent.replicationLag.stampsSent >= writes / 2 && sent.replicationLag.stampsSent <= writes + 1)
        // Polled for up to 30 s (a liveness bound: this task may be starved on a busy machine), then once more.
        let deadline = ContinuousClock.now + .seconds(30)
        var received = await receiver.stats()
        while received.replicationLag.count < sent.replicationLag.stampsSent && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            received = await receiver.stats()
        }
        #expect(received.replicationLag.count == sent.replicationLag.stampsSent)
        #expect(received.replicationLag.recentPercentile(0.5) != nil)
        // The receiver does not stamp (its setting is off), and the sender received no stamped deltas.
        #expect(received.replicationLag.stampsSent == 0 && sent.replicationLag.count == 0)
        await Self.stopAll([sender, receiver])
    }
}
