import Foundation
import SessionClusterCore
import SessionClusterSimulator
import Testing

/// Seeded whole-cluster runs. `SIM_SEEDS=N` sets runs per replication mode (default 500, half async, half
/// sync); `SIM_SEED_BASE` moves the seed window; a failing run prints its `SIM_REPLAY=...` command.
@Suite struct SimulationTests {
    static let environment = ProcessInfo.processInfo.environment
    static let runsPerMode = Int(environment["SIM_SEEDS"] ?? "") ?? 500
    static let seedBase = UInt64(environment["SIM_SEED_BASE"] ?? "") ?? 1
    static let chunks = 8

    @Test(arguments: ReplicationMode.allCases, 0..<SimulationTests.chunks)
    func seededRunsKeepEveryInvariant(mode: ReplicationMode, chunk: Int) {
        var failures = 0
        for run in stride(from: chunk, to: Self.runsPerMode, by: Self.chunks) {
            let config = SimulationConfig(
                seed: Self.seedBase + UInt64(run), mode: mode, ack: run % 2 == 0 ? .async : .sync)
            let report = Simulation(config: config).run()
            if !report.passed {
                failures += 1
                Issue.record("simulation run failed\n\(report)")
                if failures >= 3 { break }
            }
        }
    }

    @Test(.enabled(if: SimulationTests.environment["SIM_REPLAY"] != nil))
    func replay() throws {
        let key = Self.environment["SIM_REPLAY"] ?? ""
        let config = try #require(SimulationConfig.parse(replayKey: key), "SIM_REPLAY=\(key) is not mode-ack-seed")
        let simulation = Simulation(config: config)
        simulation.traced = Self.environment["SIM_TRACE"].flatMap { SessionID(cookieValue: $0) }
        let report = simulation.run()
        print(report)
        #expect(report.passed, "\(report)")
    }
}
