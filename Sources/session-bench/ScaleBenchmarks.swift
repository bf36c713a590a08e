import Foundation
import SessionClusterCore
import SessionClusterSimulator

/// Section 10: membership at scale, in the simulator (issue 13). Every phase of `ScaleScenario` on clusters of
/// 16 to 1,024 simulated nodes, printed as one table.
enum ScaleBenchmarks {
    /// Cluster sizes simulated per profile; today's beacons cost the simulator O(N³), so past 256 their traffic is
    /// computed from the encoding instead.
    static func sizes(_ profile: Profile) -> [Int] { profile.name == "full" ? [16, 64, 256, 1_024] : [16, 64] }
    static let beaconSimulationLimit = 256
    /// Beacons are strictly periodic: 5 s of them is their steady state (SWIM's window holds a push-pull round).
    static var beaconPlan: ScaleScenario.Plan {
        var plan = ScaleScenario.Plan()
        plan.trafficMillis = 5_000
        return plan
    }

    /// Every scale run's membership settings: dead members remembered a minute.
    static var settings: MembershipSettings {
        var settings = MembershipSettings()
        settings.deadRetentionMillis = 60_000
        return settings
    }

    static func run(profile: Profile) -> [ScaleFigures] {
        var rows: [ScaleFigures] = []
        // `SESSION_BENCH_SCALE=swim` skips the beacon rows (a full run of them takes minutes: O(N³) to simulate).
        let beacons = ProcessInfo.processInfo.environment["SESSION_BENCH_SCALE"] != "swim"
        for nodes in sizes(profile) where beacons {
            let began = Measure.seconds()
            let figures =
                nodes <= beaconSimulationLimit
                ? ScaleScenario.run(
                    BeaconScaleNode.self, name: "beacons", nodes: nodes, settings: settings, plan: beaconPlan)
                : ScaleScenario.beaconTrafficComputed(nodes: nodes, settings: settings)
            progress(
                "\(figures.protocolName) \(nodes) nodes: \(fixed(Measure.seconds() - began, 1)) s, "
                    + "\(figures.events) events"
            )
            rows.append(figures)
        }
        for nodes in sizes(profile) {
            let began = Measure.seconds()
            let figures = ScaleScenario.run(SwimScaleNode.self, name: "swim", nodes: nodes, settings: settings)
            progress(
                "\(figures.protocolName) \(nodes) nodes: \(fixed(Measure.seconds() - began, 1)) s, "
                    + "\(figures.events) events"
            )
            rows.append(figures)
        }
        print(table(rows))
        rows += seedSweep()
        return rows
    }

    /// `SESSION_BENCH_SCALE_SEEDS=K`: K more SWIM runs at `SESSION_BENCH_SCALE_NODES` nodes (1,024 by default),
    /// seeds 2…K+1, with a 10 s steady state: one seed is one sample of how soon a probe reaches a silently crashed
    /// node, so the crash figures are printed per seed with their worst.
    static func seedSweep() -> [ScaleFigures] {
        let environment = ProcessInfo.processInfo.environment
        guard let count = environment["SESSION_BENCH_SCALE_SEEDS"].flatMap(Int.init), count > 0 else { return [] }
        let nodes = environment["SESSION_BENCH_SCALE_NODES"].flatMap(Int.init) ?? 1_024
        var plan = ScaleScenario.Plan()
        plan.trafficMillis = 10_000
        var rows: [ScaleFigures] = []
        for seed in 2...UInt64(count + 1) {
            let began = Measure.seconds()
            var figures = ScaleScenario.run(
                SwimScaleNode.self, name: "swim", nodes: nodes, settings: settings, seed: seed, plan: plan)
            figures.protocolName = "swim seed \(seed)"
            progress("swim \(nodes) nodes, seed \(seed): \(fixed(Measure.seconds() - began, 1)) s")
            rows.append(figures)
        }
        print(table(rows))
        func summary(_ values: [Int64]) -> String {
            guard let worst = values.max() else { return "-" }
            return "\(worst) ms (median \(fixed(Measure.median(values.map(Double.init)), 0)))"
        }
        print(
            "  silent crash over \(rows.count) seeds: suspected by all within "
                + "\(summary(rows.compactMap(\.silentSuspectAll))), dead for 99.9 % within "
                + summary(rows.compactMap(\.silentMost)))
        return rows
    }

    static func table(_ rows: [ScaleFigures]) -> String {
        func ms(_ value: Int64?) -> String { value.map { "\($0)" } ?? "-" }
        var lines = [
            "  protocol            nodes  dgram in/s  dgram out/s    B in/s   B out/s  largest  >1400  formed  "
                + "join 99.9%/all  kill -9 99.9%/all  suspect 99.9%/all  dead 99.9%/all  heal 99.9%/all"
                + "  5% loss: suspect/dead"
        ]
        for row in rows {
            let fields: [String] = [
                row.protocolName.padding(toLength: 18, withPad: " ", startingAt: 0),
                pad("\(row.nodes)", 6), pad(fixed(row.datagramsInPerNode, 1), 11),
                pad(fixed(row.datagramsOutPerNode, 1), 12),
                pad(fixed(row.bytesInPerNode, 0), 9), pad(fixed(row.bytesOutPerNode, 0), 9),
                pad("\(row.largestDatagram)", 8), pad("\(Int((row.shareOver1400 * 100).rounded()))%", 6),
                pad(ms(row.formedMillis), 7),
                pad("\(ms(row.joinMost))/\(ms(row.joinAll))", 15), pad("\(ms(row.killMost))/\(ms(row.killAll))", 18),
                pad("\(ms(row.silentSuspectMost))/\(ms(row.silentSuspectAll))", 17),
                pad("\(ms(row.silentMost))/\(ms(row.silentAll))", 14),
                pad("\(ms(row.healMost))/\(ms(row.healAll))", 15),
                pad(
                    row.lossSeconds == 0 ? "-" : "\(row.falseSuspects)/\(row.falseDeaths) in \(Int(row.lossSeconds)) s",
                    22),
            ]
            lines.append("  " + fields.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }

    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
