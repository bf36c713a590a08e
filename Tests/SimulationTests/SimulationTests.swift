import Foundation
import SessionClusterCore
import SessionClusterSimulator
import TestSupport
import Testing

/// Seeded whole-cluster runs. `SIM_SEEDS=N` sets runs per replication mode (default 500, half async, half
/// sync); `SIM_SEED_BASE` moves the seed window; a failing run prints its `SIM_REPLAY=...` command. Replaying,
/// `SIM_TRACE=<session id>` prints every message about that session and `SIM_TRACE_TRANSFERS=1` every state
/// transfer request and chunk.
@Suite struct SimulationTests {
    static let environment = ProcessInfo.processInfo.environment
    static let runsPerMode = Int(environment["SIM_SEEDS"] ?? "") ?? 500
    static let seedBase = UInt64(environment["SIM_SEED_BASE"] ?? "") ?? 1
    static let chunks = 8

    /// Simulations are long synchronous computations: they run on two threads of their own, not on Swift's
    /// cooperative pool (two threads here), so that async tests running at the same time (real nodes) are not
    /// starved. (Not an `OperationQueue`: on Linux it runs on that very pool's threads.)
    static let simulationThreads = WorkerThreads(count: 2, name: "simulation")

    static func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await simulationThreads.run(work)
    }

    /// One chunk of the seeded runs of a mode. The chunk's runs are split over both simulation threads, so the suite
    /// uses every core even when tests run one at a time (`swift test --no-parallel`, as `Tests/run-all.sh` does).
    @Test(arguments: ReplicationMode.allCases, 0..<SimulationTests.chunks)
    func seededRunsKeepEveryInvariant(mode: ReplicationMode, chunk: Int) async {
        let runs = Array(stride(from: chunk, to: Self.runsPerMode, by: Self.chunks))
        let failures = await Self.simulate(runs, from: Self.seedBase, mode: mode)
        for failure in failures { Issue.record(Comment(rawValue: failure)) }
    }

    /// Seeds per mode tried beyond the fixed window on every run (`SIM_EXPLORE_SEEDS`, default 200; 0: none).
    static let exploreRunsPerMode = Int(environment["SIM_EXPLORE_SEEDS"] ?? "") ?? 200
    /// Where the moving window starts: `SIM_EXPLORE_BASE` (`Tests/run-all.sh` derives it from the commit hash),
    /// else the clock — so each run tries schedules no earlier run did. Always above the default window.
    static let exploreChoice =
        UInt64(environment["SIM_EXPLORE_BASE"] ?? "") ?? UInt64(Date().timeIntervalSince1970 * 1_000)
    static let exploreBase = 1_000_000 + exploreChoice % 1_000_000_000_000

    /// The moving window: a failure prints its `SIM_REPLAY` line, whose seed replays it whatever the window.
    @Test(arguments: ReplicationMode.allCases, 0..<2)
    func exploredSeedsKeepEveryInvariant(mode: ReplicationMode, half: Int) async {
        let count = Self.exploreRunsPerMode
        guard count > 0 else { return }
        let runs = Array(half == 0 ? 0..<count / 2 : count / 2..<count)  // each half mixes async and sync runs
        let last = Self.exploreBase + UInt64(count) - 1
        let window = "SIM_EXPLORE_BASE=\(Self.exploreChoice) (seeds \(Self.exploreBase)...\(last))"
        if half == 0 { print("\(window) window, \(mode.rawValue) mode") }
        let failures = await Self.simulate(runs, from: Self.exploreBase, mode: mode)
        for failure in failures {
            Issue.record(Comment(rawValue: "\(window): \(failure)"))
        }
    }

    /// Runs seeds `base + run` (even runs `async`, odd `sync`) split over both simulation threads; at most three
    /// failures per thread, each with its replay line.
    static func simulate(_ runs: [Int], from base: UInt64, mode: ReplicationMode) async -> [String] {
        let halves = [
            runs.enumerated().filter { $0.offset % 2 == 0 }.map(\.element),
            runs.enumerated().filter { $0.offset % 2 == 1 }.map(\.element),
        ]
        return await withTaskGroup(of: [String].self) { group in
            for half in halves {
                group.addTask {
                    await Self.offPool { () -> [String] in
                        var failures = [String]()
                        for run in half {
                            let config = SimulationConfig(
                                seed: base + UInt64(run), mode: mode, ack: run % 2 == 0 ? .async : .sync)
                            let report = Simulation(config: config).run()
                            if !report.passed {
                                failures.append("simulation run failed\n\(report)")
                                if failures.count >= 3 { break }
                            }
                        }
                        return failures
                    }
                }
            }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
    }

    /// Schedules found outside the default window by wider ones (issue 10), each a bug fixed since: they run on
    /// every `swift test`, so none comes back unnoticed.
    static let foundSchedules = [
        "backup-async-4002908",  // a tombstone handed off while its holders were cut off was dropped
        "backup-async-4002734",  // a tombstone with a stale placement never converged
        "delta-sync-5000565",  // a write concurrent with an earlier failed one (the checker's model)
        "delta-sync-6002549",  // a rotation answered before the old id's end was acknowledged
        "backup-sync-6004753", "backup-sync-6003147",  // a live session answered lost while two tabs moved it
        "backup-async-7001702",  // a tombstone answered with the peer's stale placement never met the holders'
        "backup-async-402847951008",  // two ended copies, one stripped by a content-only tombstone, one not
        "backup-sync-536262205515",  // a duplicated "not here" stood for the next member's answer: lost, not served
    ]

    @Test(arguments: SimulationTests.foundSchedules)
    func foundScheduleKeepsEveryInvariant(_ key: String) async throws {
        let config = try #require(SimulationConfig.parse(replayKey: key))
        let report = await Self.offPool { Simulation(config: config).run() }
        #expect(report.passed, "\(report)")
    }

    @Test(.enabled(if: SimulationTests.environment["SIM_REPLAY"] != nil))
    func replay() throws {
        let key = Self.environment["SIM_REPLAY"] ?? ""
        let config = try #require(SimulationConfig.parse(replayKey: key), "SIM_REPLAY=\(key) is not mode-ack-seed")
        let simulation = Simulation(config: config)
        simulation.traced = Self.environment["SIM_TRACE"].flatMap { SessionID(cookieValue: $0) }
        simulation.traceTransfers = Self.environment["SIM_TRACE_TRANSFERS"] != nil
        let report = simulation.run()
        print(report)
        #expect(report.passed, "\(report)")
    }
}

/// The checks themselves: a run with a deliberate bug must fail, or the green runs above prove nothing.
@Suite struct InvariantCheckTests {
    static func firstFailure(_ fault: PlantedFault, mode: ReplicationMode, seeds: ClosedRange<UInt64>)
        -> SimulationReport?
    {
        for seed in seeds {
            var config = SimulationConfig(seed: seed, mode: mode, ack: .async)
            config.plantedFault = fault
            let report = Simulation(config: config).run()
            if !report.passed { return report }
        }
        return nil
    }

    @Test func convergenceCheckCatchesDisabledMerge() async throws {
        // Without the merge, concurrent writes of two tabs overwrite each other as in Tomcat.
        let found = await onOwnThread { Self.firstFailure(.noMerge, mode: .delta, seeds: 1...40) }
        let report = try #require(found, "no run caught noMerge")
        #expect(report.violations.contains { $0.contains("not converged") || $0.contains("expected") })
        print("noMerge caught by \(report.config.replayKey): \(report.violations.first ?? "")")
    }

    @Test(arguments: ReplicationMode.allCases)
    func readYourWritesCheckCatchesStaleReads(mode: ReplicationMode) async throws {
        let found = await onOwnThread { Self.firstFailure(.serveStale, mode: mode, seeds: 1...40) }
        let report = try #require(found, "no run caught serveStale")
        #expect(report.violations.contains { $0.contains("older than token") || $0.contains("expected") })
        print("serveStale caught by \(report.config.replayKey): \(report.violations.first ?? "")")
    }
}

/// Delta mode: restarted nodes pull the state in several windows and resume from another donor under faults —
/// the seeded runs above exercise the windowed transfer, not just one chunk per join.
@Suite struct StateTransferCoverageTests {
    @Test func seededRunsPullSeveralWindowsAndResume() async {
        // Seconds of simulation: on a thread of its own, not on the cooperative pool.
        let runs = await onOwnThread { () -> [SimulationReport] in
            (UInt64(1)...40).map { seed in
                var config = SimulationConfig(seed: seed, mode: .delta, ack: seed % 2 == 0 ? .async : .sync)
                config.transferChunkSessions = 1
                config.transferWindowChunks = 2
                return Simulation(config: config).run()
            }
        }
        for report in runs where !report.passed { Issue.record(Comment(rawValue: "\(report)")) }
        let completed = runs.map(\.transfersCompleted).reduce(0, +)
        let asked = runs.map(\.transferDonorsAsked).reduce(0, +)
        let windows = runs.map(\.transferWindows).reduce(0, +)
        print("40 delta runs, windows of 2×1: \(completed) transfers, \(asked) donors asked, \(windows) windows")
        #expect(completed > 40)
        #expect(windows > 4 * completed, "most transfers take several windows")
        #expect(asked > completed, "some transfers resume from another donor")
    }
}

/// Backup mode: a join or a leave re-places about 1/N of the backups, not all of them.
@Suite struct PlacementMovementTests {
    @Test func joinAndLeaveRePlaceAboutOneNthOfBackups() async {
        // A second of simulation: on a thread of its own, not on the cooperative pool.
        await onOwnThread { Self.joinAndLeave() }.record()
    }

    static func joinAndLeave() -> Findings {
        var findings = Findings()
        var config = SimulationConfig(seed: 42, mode: .backup, ack: .async)
        config.nodes = 4
        config.crashes = 0
        config.partitions = 0
        config.dropReplication = 0
        config.dropBeacon = 0
        config.clients = 0
        config.sharedSessionPairs = 0
        let simulation = Simulation(config: config)
        simulation.startCluster()
        simulation.run(until: simulation.now + 1_500)
        simulation.createSessions(2_000)
        simulation.run(until: simulation.now + 3_000)
        let before = simulation.placements()
        findings.expect(before.count == 2_000, "\(before.count) placements")

        let joined = simulation.addNode()
        simulation.run(until: simulation.now + 4_000)
        let afterJoin = simulation.placements()
        let joinReport = simulation.checkNow()
        findings.expect(joinReport.passed, "\(joinReport)")
        let movedOnJoin = before.filter { afterJoin[$0.key]?.backup != $0.value.backup }.count
        let joinFraction = Double(movedOnJoin) / Double(before.count)
        print("join 4→5 nodes: \(movedOnJoin) of \(before.count) backups re-placed (\(joinFraction); 1/N = 0.20)")
        findings.expect(joinFraction > 0.05 && joinFraction < 0.40, "\(joinFraction) re-placed on join")

        simulation.stopNode(joined)
        simulation.run(until: simulation.now + 4_000)
        let afterLeave = simulation.placements()
        let movedOnLeave = afterJoin.filter { afterLeave[$0.key]?.backup != $0.value.backup }.count
        let leaveFraction = Double(movedOnLeave) / Double(afterJoin.count)
        print("leave 5→4 nodes: \(movedOnLeave) of \(afterJoin.count) backups re-placed (\(leaveFraction); 1/N = 0.20)")
        findings.expect(afterLeave.count == 2_000, "\(afterLeave.count) placements after the leave")
        findings.expect(leaveFraction > 0.05 && leaveFraction < 0.40, "\(leaveFraction) re-placed on leave")
        return findings
    }
}

extension SimulationTests {
    /// A healthy cluster — no crashes, partitions, drops, duplicates or clock skew, only reordering between
    /// links — never answers 503: every request that presents a token is served, on any node.
    @Test(arguments: ReplicationMode.allCases, [AckMode.async, .sync])
    func healthyClusterIsAlwaysAvailable(mode: ReplicationMode, ack: AckMode) async {
        let runs = Int(Self.environment["SIM_HEALTHY_SEEDS"] ?? "") ?? 40
        let failures = await Self.offPool { () -> [String] in
            var failures = [String]()
            for run in 0..<runs {
                var config = SimulationConfig(seed: Self.seedBase + UInt64(run), mode: mode, ack: ack)
                config.makeHealthy()
                let report = Simulation(config: config).run()
                if !report.passed || report.unavailable > 0 {
                    failures.append("\(config.replayKey): \(report.unavailable) unavailable\n\(report)")
                    if failures.count >= 2 { break }
                }
            }
            return failures
        }
        for failure in failures { Issue.record(Comment(rawValue: failure)) }
    }
}

extension SimulationTests {
    /// Seeded `copies: 3` runs per half (`SIM_COPIES_SEEDS`, default 40 in all, seeds from `SIM_SEED_BASE`).
    static let copiesRuns = Int(environment["SIM_COPIES_SEEDS"] ?? "") ?? 40

    /// Backup mode with three copies in `sync` mode: every crash takes two nodes down at the same moment, and no
    /// acknowledged write, no session is lost (the run's checks), in any seeded schedule.
    @Test(arguments: 0..<2)
    func threeCopiesLoseNothingAcknowledgedToTwoSimultaneousCrashes(half: Int) async {
        let runs = Array(stride(from: half, to: Self.copiesRuns, by: 2))
        let results = await Self.offPool { () -> (failures: [String], crashes: Int) in
            var failures = [String]()
            var crashes = 0
            for run in runs {
                let config = SimulationConfig(seed: Self.seedBase + UInt64(run), mode: .backup, ack: .sync, copies: 3)
                let report = Simulation(config: config).run()
                crashes += report.crashes
                if !report.passed {
                    failures.append("simulation run failed\n\(report)")
                    if failures.count >= 3 { break }
                }
            }
            return (failures, crashes)
        }
        for failure in results.failures { Issue.record(Comment(rawValue: failure)) }
        #expect(runs.count < 10 || results.crashes >= runs.count / 2, "\(results.crashes) crashes: too few to prove it")
    }

    /// The check above can fail: with two copies, two simultaneous crashes lose acknowledged writes (both holders
    /// of some session die), and the checks say so.
    @Test func twoCopiesLoseAcknowledgedWritesToTwoSimultaneousCrashes() async throws {
        let found = await Self.offPool { () -> SimulationReport? in
            for seed in UInt64(1)...60 {
                var config = SimulationConfig(seed: seed, mode: .backup, ack: .sync)
                config.nodesPerCrash = 2
                let report = Simulation(config: config).run()
                if !report.passed { return report }
            }
            return nil
        }
        let report = try #require(found, "no run lost a write to two simultaneous crashes of two-copy sessions")
        print("two copies, two simultaneous crashes: \(report.violations.first ?? "")")
    }
}
