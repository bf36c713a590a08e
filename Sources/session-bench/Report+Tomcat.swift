import Foundation

/// Section 9 (the 3-node pairs against Tomcat) in the table, the targets and the JSON.
extension Report {
    /// The configurations of section 9 in the order measured.
    var tomcatConfigs: [String] {
        var seen = [String]()
        for figure in tomcat.figures where !seen.contains(figure.config) { seen.append(figure.config) }
        return seen
    }

    /// The median of `value` over the runs of (config, server).
    func tomcatMedian(_ config: String, _ server: String, _ value: (TomcatFigure) -> Double) -> Double? {
        let runs = tomcat.figures.filter { $0.config == config && $0.server == server }
        return runs.isEmpty ? nil : Measure.median(runs.map(value))
    }

    /// Ours ÷ Tomcat of the median requests per second, per configuration.
    func tomcatRatio(_ config: String) -> Double? {
        guard let ours = tomcatMedian(config, "session-node", \.requestsPerSecond),
            let theirs = tomcatMedian(config, "tomcat", \.requestsPerSecond), theirs > 0
        else { return nil }
        return ours / theirs
    }

    func tomcatTable() -> [String] {
        if let skipped = tomcat.skipped { return ["", "9. Tomcat pairs: SKIPPED — \(skipped)"] }
        guard !tomcat.figures.isEmpty || !tomcat.checks.isEmpty else { return [] }
        var out = [
            "",
            "9. The 3-node pairs against Tomcat \(tomcat.version ?? "") clustering (delta = DeltaManager, backup = "
                + "BackupManager; async = send options 8, sync = 6): wrk -t\(TomcatBenchmarks.threads) "
                + "-c\(TomcatBenchmarks.connections) against node 1, PUT of a \(TomcatBenchmarks.body.utf8.count)-byte "
                + "attribute cycling over \(TomcatBenchmarks.sessions) sessions; medians of \(tomcat.rounds) "
                + "alternating rounds of \(tomcat.seconds) s; ours on \(tomcat.loops) loop(s) per node. CPU per request in µs (user+system): the whole cluster "
                + "(3 processes) and the serving node; machine = cores busy of \(machine.cores), client included.",
        ]
        let widths = [14, 10, 10, 7, 11, 11, 10, 10, 11]
        out.append(
            row(
                [
                    "config", "ours r/s", "Tomcat r/s", "ratio", "ours clu µs", "Tomc clu µs", "ours n1 µs",
                    "Tomc t1 µs",
                    "machine",
                ], widths))
        for config in tomcatConfigs {
            func median(_ server: String, _ value: (TomcatFigure) -> Double, digits: Int = 1) -> String {
                tomcatMedian(config, server, value).map { fixed($0, digits) } ?? ""
            }
            out.append(
                row(
                    [
                        config, median("session-node", \.requestsPerSecond, digits: 0),
                        median("tomcat", \.requestsPerSecond, digits: 0),
                        tomcatRatio(config).map { fixed($0, 2) + "×" } ?? "",
                        median("session-node", \.clusterMicrosPerRequest), median("tomcat", \.clusterMicrosPerRequest),
                        median("session-node", \.servingMicrosPerRequest), median("tomcat", \.servingMicrosPerRequest),
                        median("session-node", \.machineCores, digits: 2) + "/"
                            + median("tomcat", \.machineCores, digits: 2),
                    ], widths))
        }
        for check in tomcat.checks {
            out.append("   replication check \(check.config): ours \(check.ours); Tomcat \(check.tomcat)")
        }
        for warmup in tomcat.warmups {
            out.append(
                "   Tomcat warm-up \(warmup.config) (discarded, req/s per \(tomcat.seconds) s burst): "
                    + warmup.runs.map { fixed($0, 0) }.joined(separator: ", ")
                    + (warmup.runs.count > 1 && warmup.runs.last! > warmup.runs.dropLast().max()! * 1.05
                        ? " — STILL RISING at the bound: Tomcat not fully warm, its figures above are low" : ""))
        }
        return out
    }

    var tomcatTargets: [Target] {
        let configs = tomcatConfigs
        guard !configs.isEmpty else { return [] }
        let ratios = configs.map { (config: $0, ratio: tomcatRatio($0) ?? 0) }
        return [
            Target(
                goal: "the 3-node wrk pairs against Tomcat (sync / async / backup) ≥ 2× (issue 15)",
                measured: ratios.map { "\($0.config) \(fixed($0.ratio, 2))×" }.joined(separator: ", "),
                met: ratios.allSatisfy { $0.ratio >= 2 })
        ]
    }

    func tomcatJSON() -> [String: Any] {
        var result: [String: Any] = [
            "rounds": tomcat.rounds, "seconds": tomcat.seconds, "threads": TomcatBenchmarks.threads,
            "connections": TomcatBenchmarks.connections, "sessions": TomcatBenchmarks.sessions,
            "checks": tomcat.checks.map { ["config": $0.config, "ours": $0.ours, "tomcat": $0.tomcat] },
            "tomcat_warmup_requests_per_second": tomcat.warmups.map {
                ["config": $0.config, "runs": $0.runs] as [String: Any]
            },
            "runs": tomcat.figures.map {
                [
                    "config": $0.config, "server": $0.server, "requests_per_second": $0.requestsPerSecond,
                    "cluster_us_per_request": $0.clusterMicrosPerRequest,
                    "serving_us_per_request": $0.servingMicrosPerRequest, "serving_cores": $0.servingCores,
                    "machine_cores": $0.machineCores, "errors": $0.errors,
                ] as [String: Any]
            },
            "ratios": Dictionary(uniqueKeysWithValues: tomcatConfigs.map { ($0, tomcatRatio($0) ?? 0) }),
            "loops": tomcat.loops,
        ]
        if let version = tomcat.version { result["version"] = version }
        if let skipped = tomcat.skipped { result["skipped"] = skipped }
        return result
    }
}
