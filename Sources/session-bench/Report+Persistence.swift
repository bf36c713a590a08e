import Foundation

/// The persistence section's table, targets and JSON (issue 14).
extension Report {
    /// The figure a write figure is compared with: the node in memory for a node, Redis without persistence for
    /// Redis, same workload. Nil for the baselines themselves.
    func persistenceBaseline(of figure: PersistenceWriteFigure) -> PersistenceWriteFigure? {
        let baseline = figure.target.hasPrefix("redis") ? "redis no persistence" : "node memory"
        guard figure.target != baseline else { return nil }
        return persistence.writes.first { $0.target == baseline && $0.workload == figure.workload && $0.skipped == nil }
    }

    /// Ratio of medians to the baseline; and the per-round ratios' median and range (each round runs every target
    /// once, so a round's two runs saw about the same machine: the paired median shrugs off a noisy round).
    func persistenceRatio(
        _ figure: PersistenceWriteFigure
    ) -> (median: Double, paired: Double, low: Double, high: Double)? {
        guard figure.skipped == nil, let baseline = persistenceBaseline(of: figure),
            baseline.requestsPerSecond > 0, !figure.runs.isEmpty
        else { return nil }
        let paired = zip(figure.runs, baseline.runs).filter { $1 > 0 }.map { $0 / $1 }
        return (
            figure.requestsPerSecond / baseline.requestsPerSecond, Measure.median(paired), paired.min() ?? 0,
            paired.max() ?? 0
        )
    }

    var persistenceTargets: [Target] {
        var result = [Target]()
        let goal = "write throughput of one node with persistence log/everysec ≥ 0.9× in memory"
        let everysec = persistence.writes.filter { $0.target == "node log/everysec" }
        if let skipped = everysec.first(where: { $0.skipped != nil })?.skipped {
            result.append(Target(goal: goal, measured: "pending (\(skipped))", met: nil))
        } else if !everysec.isEmpty {
            let ratios = everysec.compactMap { figure in persistenceRatio(figure).map { (figure.workload, $0) } }
            result.append(
                Target(
                    goal: goal,
                    measured: ratios.map {
                        "\($0.0) \(fixed($0.1.paired, 2))× paired median (rounds \(fixed($0.1.low, 2))–"
                            + "\(fixed($0.1.high, 2))×; medians' ratio \(fixed($0.1.median, 2))×)"
                    }.joined(separator: ", "),
                    met: ratios.isEmpty ? nil : ratios.allSatisfy { $0.1.paired >= 0.9 }))
        }
        if let load = persistence.loads.first(where: { $0.target == "node snapshot" && $0.skipped == nil }) {
            let seconds = load.holdsAllSeconds ?? load.answerSeconds
            let redis = persistence.loads.first { $0.target == "redis RDB" }
            let measured =
                "\(load.held) keys: holds all \(fixed(seconds, 2)) s after launch (snapshot_load_ms "
                + "\(load.loadMillis.map { fixed($0, 0) } ?? "?")); Redis RDB "
                + (redis.map { "\(fixed($0.answerSeconds, 2)) s" } ?? "not measured")
            result.append(
                Target(
                    goal: "start-up with 1,000,000 sessions of 1 KB ≤ 5 s", measured: measured,
                    met: load.held >= 1_000_000 && load.holdsAllSeconds != nil ? seconds <= 5 : nil))
        }
        return result
    }

    func persistenceTable() -> [String] {
        var out = [String]()
        if !persistence.writes.isEmpty {
            out.append("")
            out.append(
                "7. Persistence (issue 14): writes through one node (alone, delta/async) with and without `persistence`, "
                    + "beside redis-server with and without `appendonly`; the bench's own client, "
                    + "\(persistence.connections) connections, RESP `SET` of a 1 KB value over 1,000 keys per "
                    + "connection, or HTTP `PUT /session/attributes/x` (small value)")
            out.append(
                "   median of \(persistence.rounds) alternating rounds of \(fixed(persistence.seconds, 1)) s; "
                    + "ratio = ÷ the same workload in memory (node) or without persistence (Redis): of the medians, "
                    + "then the median and range of the per-round ratios (paired)")
            let widths = [22, 14, 10, 8, 8, 7, 7, 12]
            out.append(row(["target", "workload", "req/s", "p50 ms", "p99 ms", "ratio", "paired", "range"], widths))
            for figure in persistence.writes {
                if let skipped = figure.skipped {
                    out.append(row([figure.target, figure.workload, skipped], [22, 14, 0]))
                    continue
                }
                let ratio = persistenceRatio(figure)
                out.append(
                    row(
                        [
                            figure.target, figure.workload, fixed(figure.requestsPerSecond, 0), fixed(figure.p50, 3),
                            fixed(figure.p99, 3), ratio.map { fixed($0.median, 2) + "×" } ?? "",
                            ratio.map { fixed($0.paired, 2) + "×" } ?? "",
                            ratio.map { "\(fixed($0.low, 2))–\(fixed($0.high, 2))" } ?? "",
                        ], widths))
                if figure.errors > 0 {
                    out.append("   note: \(figure.errors) failed requests (first: \(figure.firstError ?? "?"))")
                }
            }
            // The log's own counters, once per node target (both workloads ran on the same node).
            var noted = Set<String>()
            for figure in persistence.writes where !figure.logStats.isEmpty && noted.insert(figure.target).inserted {
                let stats = figure.logStats
                out.append(
                    "   \(figure.target) after every round: \(stats["log_records_appended"] ?? 0) records appended "
                        + "(\(stats["log_sessions_appended"] ?? 0) copies), the log now "
                        + "\(fixed(Double(stats["log_bytes"] ?? 0) / 1e6, 0)) MB, "
                        + "\(stats["log_compactions"] ?? 0) compactions, \(stats["log_fsyncs"] ?? 0) fsyncs "
                        + "(max \(fixed(Double(stats["log_fsync_max_us"] ?? 0) / 1000, 1)) ms)"
                        + ((stats["log_write_failures"] ?? 0) > 0
                            ? ", \(stats["log_write_failures"]!) write failures" : "")
                        + ((stats["log_writer_waits"] ?? 0) > 0
                            ? ", the loop waited \(stats["log_writer_waits"]!) times for the writer thread" : ""))
            }
        }
        if !persistence.loads.isEmpty {
            out.append("")
            out.append(
                "7b. Start-up with keys of 1 KB on disk (pipelined SETs, graceful stop / BGSAVE, start again; the "
                    + "file was just written, so it is read from the page cache). load = the server's own figure "
                    + "(node: snapshot_load_ms, read + decrypt + install; Redis: \"DB loaded from disk\"); answers = "
                    + "spawn → first answer; holds all = spawn → every key held (node: `sessions` of /cluster/stats; Redis: "
                    + "loading:0)")
            let widths = [18, 9, 8, 8, 9, 9, 10, 10, 10, 9]
            out.append(
                row(
                    [
                        "target", "keys", "fill s", "save s", "file MB", "RSS MiB", "load ms", "answers s",
                        "holds all", "restored",
                    ], widths))
            for load in persistence.loads {
                if let skipped = load.skipped {
                    out.append(row([load.target, skipped], [18, 0]))
                    continue
                }
                out.append(
                    row(
                        [
                            load.target, "\(load.held)", fixed(load.fillSeconds, 1),
                            load.saveSeconds.map { fixed($0, 2) } ?? "killed",
                            fixed(Double(load.fileBytes) / 1e6, 0), fixed(load.residentMiB, 0),
                            load.loadMillis.map { fixed($0, 0) } ?? "?", fixed(load.answerSeconds, 2),
                            load.holdsAllSeconds.map { fixed($0, 2) } ?? "no", "\(load.restored)",
                        ], widths))
            }
            for load in persistence.loads where load.target.contains("log") && load.skipped == nil {
                out.append(
                    "   \(load.target): \(load.replayed) copies replayed from the log's segments, the rest read from the "
                        + "snapshot its last compaction wrote")
            }
        }
        return out
    }

    func persistenceJSON() -> [String: Any] {
        [
            "rounds": persistence.rounds, "connections": persistence.connections,
            "seconds_per_run": persistence.seconds,
            "writes": persistence.writes.map { figure in
                var object: [String: Any] = ["target": figure.target, "workload": figure.workload]
                if let skipped = figure.skipped {
                    object["skipped"] = skipped
                    return object
                }
                object["requests_per_second"] = figure.requestsPerSecond
                object["runs_requests_per_second"] = figure.runs
                object["p50_ms"] = figure.p50
                object["p99_ms"] = figure.p99
                object["errors"] = figure.errors
                if !figure.logStats.isEmpty { object["log_stats"] = figure.logStats }
                if let ratio = persistenceRatio(figure) {
                    object["ratio"] = ratio.median
                    object["round_ratio_median"] = ratio.paired
                    object["round_ratio_min"] = ratio.low
                    object["round_ratio_max"] = ratio.high
                }
                return object
            },
            "startup": persistence.loads.map { load -> [String: Any] in
                if let skipped = load.skipped { return ["target": load.target, "skipped": skipped] }
                return [
                    "target": load.target, "requested": load.requested, "held": load.held,
                    "fill_seconds": load.fillSeconds, "save_seconds": load.saveSeconds ?? NSNull(),
                    "file_bytes": load.fileBytes,
                    "load_ms": load.loadMillis ?? NSNull(), "answer_seconds": load.answerSeconds,
                    "holds_all_seconds": load.holdsAllSeconds ?? NSNull(), "restored": load.restored,
                    "replayed_from_log": load.replayed,
                    "resident_mib": load.residentMiB,
                ]
            },
        ]
    }
}
