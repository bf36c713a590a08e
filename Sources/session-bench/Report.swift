import Foundation

/// The machine the figures were measured on.
struct Machine: Sendable {
    var cores: Int
    var memoryGiB: Double
    var cpu: String

    static func current() -> Machine {
        let meminfo = readFile("/proc/meminfo") ?? ""
        let totalKiB =
            meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
        let cpuinfo = readFile("/proc/cpuinfo") ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?" }
            ?? "?"
        return Machine(
            cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), memoryGiB: Double(totalKiB) / 1_048_576, cpu: model)
    }
}

/// Everything measured in one run: printed as a table, written as JSON.
final class Report {
    let machine = Machine.current()
    let profile: Profile
    let command: String
    let startedAt = Date()
    var core: [CoreFigure] = []
    var loopTurns: [LoopTurnFigure] = []
    var redisVersion: String?
    var redisSkipped: String?
    var redisCycles: [Int: CycleFigure] = [:]
    var cycles: [CycleFigure] = []
    var lags: [LagFigure] = []
    var wire: [WireFigure] = []
    var detection: [DetectionFigure] = []
    var joins: [JoinFigure] = []
    var memory: [MemoryFigure] = []
    var redisMemory: MemoryFigure?
    var resp: [RESPFigure] = []
    var bigHashes: [BigHashFigure] = []
    /// Section 8: one node on 1 and 2 loops, and the serving node's CPU per replicated write.
    var loops: [LoopsFigure] = []
    /// Section 9: the 3-node pairs against Tomcat's clustering.
    var tomcat = TomcatReport()
    var persistence = PersistenceReport()
    var bigNode: BigNodeFigure?
    var errors: [String] = []
    var elapsedSeconds = 0.0
    /// /proc/loadavg at the start and the end: how busy the shared machine was.
    let loadAtStart = Report.loadAverage()
    var loadAtEnd = ""

    static func loadAverage() -> String {
        (readFile("/proc/loadavg") ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    }

    init(profile: Profile, command: String) {
        self.profile = profile
        self.command = command
    }

    // MARK: Targets (issue 6)

    struct Target {
        var goal: String
        var measured: String
        var met: Bool?
    }

    var targets: [Target] {
        var result = [Target]()
        let ours = cycles.first { $0.label == "delta/async" && $0.connections == 8 }
        if let ours, let redis = redisCycles[8] {
            let ratio = ours.cyclesPerSecond / redis.cyclesPerSecond
            let others = cycles.filter { $0.connections == 8 && $0.shape == .page }.map {
                "\($0.label) \(fixed($0.cyclesPerSecond / redis.cyclesPerSecond, 2))×"
            }
            result.append(
                Target(
                    goal: "web-style cycle through one node at 8 connections ≥ 2× the Redis cycle",
                    measured: "delta/async \(fixed(ratio, 2))× (\(fixed(ours.cyclesPerSecond, 0)) vs "
                        + "\(fixed(redis.cyclesPerSecond, 0)) cycles/s); all: \(others.joined(separator: ", "))",
                    met: ratio >= 2))
        } else if !cycles.isEmpty || !redisCycles.isEmpty {
            result.append(
                Target(
                    goal: "web-style cycle through one node at 8 connections ≥ 2× the Redis cycle",
                    measured: "not measured (\(redisSkipped ?? "section not run"))", met: nil))
        }
        if let lag = lags.first(where: { $0.label == "delta/async" }) {
            // The nodes' own figure when they stamped deltas; the outside poll is an upper bound (it includes up to
            // one HTTP round trip), kept for reference.
            if let p50 = lag.nodeP50, let p99 = lag.nodeP99 {
                let others = lags.filter { $0.nodeP50 != nil && !$0.label.hasSuffix("idle") }.map {
                    "\($0.label) \(fixed($0.nodeP50!, 3))/\(fixed($0.nodeP99!, 3))"
                }
                result.append(
                    Target(
                        goal: "replication lag p50 ≤ 0.2 ms and p99 ≤ 1 ms at a steady 5,000 writes/s",
                        measured: "delta/async p50 \(fixed(p50, 3)) ms, p99 \(fixed(p99, 3)) ms as the receiving nodes "
                            + "measured it (\(lag.nodeSamples) sampled deltas) at \(fixed(lag.writesPerSecond, 0)) "
                            + "writes/s; all (p50/p99 ms): \(others.joined(separator: ", "))",
                        met: lags.filter { $0.nodeP50 != nil && !$0.label.hasSuffix("idle") }.allSatisfy {
                            $0.nodeP50! <= 0.2 && $0.nodeP99! <= 1
                        }))
            } else {
                result.append(
                    Target(
                        goal: "replication lag p50 ≤ 0.2 ms and p99 ≤ 1 ms at a steady 5,000 writes/s",
                        measured: "delta/async p50 \(fixed(lag.p50, 3)) ms, p99 \(fixed(lag.p99, 3)) ms at "
                            + "\(fixed(lag.writesPerSecond, 0)) writes/s (poll round trip \(fixed(lag.pollP50, 3)) ms; "
                            + "an upper bound: the nodes did not stamp deltas)",
                        met: lag.p50 <= 0.2 && lag.p99 <= 1))
            }
        }
        if let kill = detection.first(where: { $0.kind == "kill -9" }) {
            result.append(
                Target(
                    goal: "kill -9 detection ≤ 0.5 s",
                    measured:
                        "median \(fixed(kill.median, 1)) ms, max \(fixed(kill.max, 1)) ms (\(kill.runs.count) runs)",
                    met: kill.max <= 500))
        }
        if let join = joins.first(where: { $0.sessions == 10_000 }) {
            result.append(
                Target(
                    goal: "a new node serving 10,000 sessions ≤ 1 s after launch",
                    measured: join.completed
                        ? "\(fixed(join.seconds, 2)) s (served \(join.served)/\(join.sampled) sampled)"
                        : "did not complete within \(fixed(join.seconds, 0)) s (held \(join.held))",
                    met: join.completed && join.seconds <= 1))
        }
        for join in joins where join.sessions != 10_000 {
            result.append(
                Target(
                    goal: "(no target) a new node serving \(join.sessions) sessions",
                    measured: join.completed
                        ? "\(fixed(join.seconds, 2)) s (served \(join.served)/\(join.sampled) sampled)"
                        : "did not complete within \(fixed(join.seconds, 0)) s (held \(join.held), "
                            + "\(join.suspectEvents) suspect events)",
                    met: nil))
        }
        let copies = memory.filter { $0.label.contains("copy built from deltas") }
        if let largest = copies.map(\.sessions).max() {
            let perCopy = Measure.median(copies.filter { $0.sessions == largest }.map(\.bytesPerSession))
            result.append(
                Target(
                    goal: "≤ 1.5 KB resident per 1 KB session copy",
                    measured: "\(fixed(perCopy / 1024, 2)) KB per copy (\(largest) sessions, copies built from deltas)",
                    met: perCopy <= 1536))
        }
        return result + persistenceTargets + loopsTargets + tomcatTargets + bigNodeTargets
    }

    // MARK: Table

    func table() -> String {
        var out = [String]()
        let formatter = ISO8601DateFormatter()
        out.append(
            "SessionCluster benchmarks — \(profile.name) — \(formatter.string(from: startedAt)) — "
                + "\(machine.cores) cores, \(fixed(machine.memoryGiB, 1)) GiB, \(machine.cpu)")
        out.append(
            "command: \(command)   (\(fixed(elapsedSeconds, 0)) s; load average \(loadAtStart) at start, "
                + "\(loadAtEnd) at end)")
        if let redisVersion { out.append("baseline: redis-server \(redisVersion) on loopback") }
        if let redisSkipped { out.append("baseline: SKIPPED — \(redisSkipped)") }

        if !core.isEmpty {
            out.append("")
            out.append("1. Core, in process (median of \(profile.coreRepetitions) runs)")
            out.append(row(["operation", "ns/op", "min–max", "bytes", "note"], [32, 10, 16, 6, 0]))
            for figure in core {
                out.append(
                    row(
                        [
                            figure.name, fixed(figure.nanosPerOp, 1),
                            "\(fixed(figure.minNanos, 1))–\(fixed(figure.maxNanos, 1))",
                            figure.bytes.map { "\($0)" } ?? "", figure.note,
                        ], [32, 10, 16, 6, 0]))
            }
        }

        if !loopTurns.isEmpty {
            out.append("")
            out.append(
                "1b. Loop turns: the longest single core call (a node's loop turn; thread CPU time, and its wall time) while "
                    + "sessions are held, and the p99 of access + commit interleaved (wall; ticks every "
                    + "\(LoopTurnBenchmarks.tickMillis) ms, simulated time)")
            let widths = [20, 9, 7, 11, 9, 7, 42, 11, 0]
            out.append(
                row(
                    [
                        "phase", "sessions", "calls", "longest ms", "(wall ms)", ">5 ms", "longest call", "req p99 µs",
                        "note",
                    ],
                    widths))
            for figure in loopTurns {
                out.append(
                    row(
                        [
                            figure.phase, "\(figure.sessions)", "\(figure.calls)", fixed(figure.longestMillis, 2),
                            fixed(figure.longestWallMillis, 2), "\(figure.over5ms)", figure.longestCall,
                            fixed(figure.requestP99Micros, 1), figure.note,
                        ], widths))
            }
        }

        if !cycles.isEmpty || !redisCycles.isEmpty {
            out.append("")
            out.append(
                "2. Web-style cycle through n1 of 3 nodes, keep-alive: one page view that reads the session and sets "
                    + "one attribute (PATCH /session, answered with the session); \"api\" = the same as GET /session + "
                    + "PUT /session/attributes/x; Redis (Spring Session): HGETALL, EXISTS, HSET, PEXPIREAT")
            out.append(
                "   median of \(profile.cycleRuns) runs of \(fixed(profile.cycleSeconds, 1)) s; "
                    + "latency per cycle; ratio = ours ÷ Redis cycles/s")
            let widths = [18, 6, 10, 8, 8, 12, 8, 8, 7, 10, 8]
            out.append(
                row(
                    [
                        "config", "conns", "cycles/s", "p50 ms", "p99 ms", "Redis cyc/s", "p50 ms", "p99 ms", "ratio",
                        "B/write", "fr/write",
                    ], widths))
            for connections in [1, 8] {
                let redis = redisCycles[connections]
                for figure in cycles where figure.connections == connections {
                    out.append(
                        row(
                            [
                                figure.label, "\(connections)", fixed(figure.cyclesPerSecond, 0), fixed(figure.p50, 3),
                                fixed(figure.p99, 3), redis.map { fixed($0.cyclesPerSecond, 0) } ?? "skipped",
                                redis.map { fixed($0.p50, 3) } ?? "", redis.map { fixed($0.p99, 3) } ?? "",
                                redis.map { fixed(figure.cyclesPerSecond / $0.cyclesPerSecond, 2) + "×" } ?? "",
                                figure.bytesPerWrite.map { fixed($0, 0) } ?? "",
                                figure.framesPerWrite.map { fixed($0, 2) } ?? "",
                            ], widths))
                }
                if cycles.isEmpty, let redis {
                    out.append(
                        row(
                            [
                                "(redis only)", "\(connections)", "", "", "", fixed(redis.cyclesPerSecond, 0),
                                fixed(redis.p50, 3), fixed(redis.p99, 3),
                            ], widths))
                }
            }
            let costed = (cycles + redisCycles.keys.sorted().map { redisCycles[$0]! }).filter {
                $0.serverCPUMicros != nil
            }
            if !costed.isEmpty {
                out.append(
                    "   CPU per cycle (µs, user+system, whole measured runs incl. warm-up): server = every node or "
                        + "redis-server; serving = n1 or redis-server; client = the bench's threads; "
                        + "ctx = context switches of the serving process")
                let cpuWidths = [18, 6, 10, 10, 10, 8]
                out.append(row(["config", "conns", "server", "serving", "client", "ctx"], cpuWidths))
                for figure in costed {
                    out.append(
                        row(
                            [
                                figure.label, "\(figure.connections)", fixed(figure.serverCPUMicros ?? 0, 0),
                                fixed(figure.servingCPUMicros ?? 0, 0), fixed(figure.clientCPUMicros ?? 0, 0),
                                fixed(figure.contextSwitches ?? 0, 1),
                            ], cpuWidths))
                }
            }
            let failed = (cycles + redisCycles.values).filter { $0.errors > 0 }
            for figure in failed {
                out.append(
                    "   note: \(figure.label) at \(figure.connections) conn had \(figure.errors) failed cycles "
                        + "(first: \(figure.firstError ?? "?"))")
            }
        }

        if !lags.isEmpty {
            out.append("")
            out.append(
                "3. Replication lag at a steady background write rate on n1 (\"idle\": probes alone). nodes = as the "
                    + "receiving nodes measured it: n1 stamps a delta per link every \(ClusterBenchmarks.lagSampleMillis) ms "
                    + "with its clock, the receiver records stamp → applied (one host, one clock; p50/p99 interpolated "
                    + "in 25–500 µs buckets). poll = PUT on n1 → first poll of the copy's other holder (no version "
                    + "cookie) that shows it, \(lags.first!.probes) probes: an upper bound that includes up to one "
                    + "HTTP round trip")
            let widths = [18, 10, 10, 9, 10, 10, 10, 12, 10, 10, 9]
            out.append(
                row(
                    [
                        "config", "nodes p50", "nodes p99", "samples", "poll p50", "poll p99", "poll max",
                        "poll rtt ms",
                        "1st poll", "writes/s", "polled",
                    ], widths))
            for lag in lags {
                out.append(
                    row(
                        [
                            lag.label, lag.nodeP50.map { fixed($0, 3) } ?? "–", lag.nodeP99.map { fixed($0, 3) } ?? "–",
                            "\(lag.nodeSamples)", fixed(lag.p50, 3), fixed(lag.p99, 3), fixed(lag.max, 3),
                            fixed(lag.pollP50, 3), "\(fixed(lag.firstPollShare * 100, 0)) %",
                            fixed(lag.writesPerSecond, 0), lag.pollNodes,
                        ], widths))
                if lag.timeouts > 0 { out.append("   note: \(lag.timeouts) probes not visible within 2 s") }
            }
        }

        if !wire.isEmpty {
            out.append("")
            out.append(
                "4. Wire cost per write (async; all nodes' bytes_sent / frames_sent; \(profile.wireWrites) writes)")
            let widths = [7, 14, 14, 14, 14]
            out.append(row(["nodes", "delta bytes", "delta frames", "backup bytes", "backup frames"], widths))
            for size in profile.wireSizes {
                let delta = wire.first { $0.mode == "delta" && $0.nodes == size }
                let backup = wire.first { $0.mode == "backup" && $0.nodes == size }
                out.append(
                    row(
                        [
                            "\(size)", delta.map { fixed($0.bytesPerWrite, 1) } ?? "",
                            delta.map { fixed($0.framesPerWrite, 2) } ?? "",
                            backup.map { fixed($0.bytesPerWrite, 1) } ?? "",
                            backup.map { fixed($0.framesPerWrite, 2) } ?? "",
                        ], widths))
            }
        }

        if !detection.isEmpty || !joins.isEmpty {
            out.append("")
            out.append(
                "5. Faults (3-node delta cluster, heartbeat 100 ms, suspect \(LocalCluster.suspectMillis) ms, "
                    + "dead \(LocalCluster.deadMillis) ms)")
            for figure in detection {
                out.append(
                    "   \(figure.kind): every peer dropped the node in median \(fixed(figure.median, 1)) ms, "
                        + "max \(fixed(figure.max, 1)) ms (\(figure.runs.count) runs: "
                        + figure.runs.map { fixed($0, 1) }.joined(separator: ", ") + ")")
            }
            for join in joins where !join.completed {
                out.append(
                    "   new node with \(join.sessions) sessions of 1 KB: DID NOT hold them all within "
                        + "\(fixed(join.seconds, 0)) s (held \(join.held)); \(join.suspectEvents) suspect events in the "
                        + "nodes' logs meanwhile (membership flapping)")
            }
            for join in joins where join.completed {
                out.append(
                    "   new node with \(join.sessions) sessions of 1 KB: holds all \(fixed(join.seconds, 2)) s after "
                        + "launch (first HTTP answer \(fixed(join.firstAnswerSeconds, 2)) s); "
                        + "served \(join.served)/\(join.sampled) sampled with their cookies")
            }
        }

        if !memory.isEmpty || redisMemory != nil {
            out.append("")
            out.append(
                "6. Resident memory (VmRSS − empty-node baseline) for sessions of ~1 KB (a 1,024-byte attribute + user)"
            )
            let widths = [44, 9, 12, 14, 10]
            out.append(row(["process", "sessions", "B/session", "MiB per 100k", "vs Redis"], widths))
            for figure in memory + (redisMemory.map { [$0] } ?? []) {
                out.append(
                    row(
                        [
                            figure.label, "\(figure.sessions)", fixed(figure.bytesPerSession, 0),
                            fixed(figure.mibPer100k, 1),
                            redisMemory.map { fixed(figure.bytesPerSession / $0.bytesPerSession, 2) + "×" } ?? "",
                        ], widths))
            }
        }

        if !resp.isEmpty {
            out.append("")
            out.append(
                "6. The Redis protocol: redis-benchmark, \(RESPBenchmarks.connections) connections against n1 "
                    + "(reads vs redis alone, writes vs redis with 2 replicas; spring cycle: cycles/s vs section 5)")
            let widths = [18, 14, 12, 9, 9, 8]
            out.append(row(["target", "test", "req/s", "p50 ms", "p99 ms", "ratio"], widths))
            for figure in resp {
                out.append(
                    row(
                        [
                            figure.target, figure.test, fixed(figure.requestsPerSecond, 0), fixed(figure.p50, 3),
                            fixed(figure.p99, 3), respRatio(figure).map { fixed($0, 2) + "×" } ?? "",
                        ], widths))
            }
        }

        if !bigHashes.isEmpty {
            out.append("")
            out.append(
                "6b. Commands on big hashes (maxAttributes \(RESPBigHashBenchmarks.maxFields)), 3 nodes delta/sync, "
                    + "one client: each command's time, median and max of \(RESPBigHashBenchmarks.repeats)")
            let widths = [36, 8, 11, 9]
            out.append(row(["command", "fields", "median ms", "max ms"], widths))
            for figure in bigHashes {
                out.append(
                    row(
                        [figure.test, "\(figure.fields)", fixed(figure.medianMillis, 1), fixed(figure.maxMillis, 1)],
                        widths))
            }
        }

        out += persistenceTable()
        out += loopsTable()
        out += tomcatTable()

        let goals = targets
        if !goals.isEmpty {
            out.append("")
            out.append("Targets (issues 6, 14 and 15)")
            for target in goals {
                let verdict = target.met.map { $0 ? "MET   " : "MISSED" } ?? "n/a   "
                out.append("   \(verdict) \(target.goal): \(target.measured)")
            }
        }
        for error in errors { out.append("ERROR: \(error)") }
        return out.joined(separator: "\n")
    }

    /// Section 8 as medians per (setup, test, loops), with 2 loops against 1.
    func loopsTable() -> [String] {
        guard !loops.isEmpty else { return [] }
        var out = [
            "",
            "8. Event loops per node: medians of the alternating runs (wrk PUT, 64 sessions; redis-benchmark SET "
                + "of 100 B; \(LoopsBenchmarks.connections) connections). CPU in cores of \(machine.cores).",
        ]
        let widths = [22, 22, 6, 9, 11, 6, 8, 8, 7]
        out.append(row(["setup", "test", "loops", "req/s", "loop cores", "node", "machine", "µs/req", "vs 1"], widths))
        for (setup, test) in loopsGroups {
            let one = loopsMedian(setup, test, 1)
            for count in [1, 2] {
                guard let figure = loopsMedian(setup, test, count) else { continue }
                let ratio = one.map { figure.requestsPerSecond / max(1, $0.requestsPerSecond) }
                out.append(
                    row(
                        [
                            setup, test, "\(count)", fixed(figure.requestsPerSecond, 0),
                            figure.loopCores.map { fixed($0, 2) }.joined(separator: "+"), fixed(figure.nodeCores, 2),
                            fixed(figure.machineCores, 2), fixed(figure.nodeMicrosPerRequest, 1),
                            count == 1 ? "" : ratio.map { fixed($0, 2) + "×" } ?? "",
                        ], widths))
            }
        }
        return out
    }

    /// Issue 15's targets measured by section 8: 2 loops against 1 on one node, and the serving node's CPU per
    /// replicated write (3 nodes, one loop) for HTTP and RESP.
    var loopsTargets: [Target] {
        guard !loops.isEmpty else { return [] }
        var result = [Target]()
        let scaling = ["PUT (wrk)", "SET (redis-benchmark)"].compactMap { test -> String? in
            guard let one = loopsMedian("1 node", test, 1), let two = loopsMedian("1 node", test, 2) else { return nil }
            return
                "\(test) \(fixed(two.requestsPerSecond / max(1, one.requestsPerSecond), 2))× (node \(fixed(two.nodeCores, 2)) "
                + "cores, machine \(fixed(two.machineCores, 2)) of \(machine.cores))"
        }
        let ratios = ["PUT (wrk)", "SET (redis-benchmark)"].compactMap { test -> Double? in
            guard let one = loopsMedian("1 node", test, 1), let two = loopsMedian("1 node", test, 2) else { return nil }
            return two.requestsPerSecond / max(1, one.requestsPerSecond)
        }
        if !ratios.isEmpty {
            result.append(
                Target(
                    goal: "one node, 2 loops vs 1: ≥ 1.6× the requests/s",
                    measured: scaling.joined(separator: "; "), met: ratios.allSatisfy { $0 >= 1.6 }))
        }
        let costs = ["PUT (wrk)", "SET (redis-benchmark)"].compactMap { test -> (String, Double)? in
            loopsMedian("3 nodes, load on n1", test, 1).map { (test, $0.nodeMicrosPerRequest) }
        }
        if !costs.isEmpty {
            let twoLoops = ["PUT (wrk)", "SET (redis-benchmark)"].compactMap { test -> String? in
                loopsMedian("3 nodes, load on n1", test, 2).map { "\(test) \(fixed($0.nodeMicrosPerRequest, 1))" }
            }
            result.append(
                Target(
                    goal: "serving-node CPU per replicated write (delta, 2 peers) ≤ 20 µs, HTTP PUT and RESP SET",
                    measured: costs.map { "\($0.0) \(fixed($0.1, 1)) µs" }.joined(separator: ", ")
                        + " (on 2 loops: \(twoLoops.joined(separator: ", ")) µs)",
                    met: costs.allSatisfy { $0.1 <= 20 }))
        }
        return result
    }

    /// The (setup, test) pairs of section 8, in the order first measured.
    var loopsGroups: [(String, String)] {
        var seen = [(String, String)]()
        for figure in loops where !seen.contains(where: { $0 == (figure.setup, figure.test) }) {
            seen.append((figure.setup, figure.test))
        }
        return seen
    }

    /// The run with the median requests per second among those of (setup, test, loops).
    func loopsMedian(_ setup: String, _ test: String, _ count: Int) -> LoopsFigure? {
        let runs = loops.filter { $0.setup == setup && $0.test == test && $0.loops == count }
            .sorted { $0.requestsPerSecond < $1.requestsPerSecond }
        return runs.isEmpty ? nil : runs[runs.count / 2]
    }

    func row(_ cells: [String], _ widths: [Int]) -> String {
        var line = "  "
        for (index, cell) in cells.enumerated() {
            let width = index < widths.count ? widths[index] : 0
            if index == 0 || width == 0 {
                line += cell.padding(toLength: max(width, cell.count), withPad: " ", startingAt: 0)
            } else {
                line += String(repeating: " ", count: max(1, width - cell.count)) + cell
            }
            line += " "
        }
        while line.hasSuffix(" ") { line.removeLast() }
        return line
    }

    // MARK: JSON

    /// A RESP figure against the Redis figure it is compared with: a read against redis alone, a write against
    /// redis with its two replicas, the spring cycle against section 5's Redis cycle at the same connections.
    func respRatio(_ figure: RESPFigure) -> Double? {
        guard !figure.target.hasPrefix("redis") else { return nil }
        let baseline: Double?
        if figure.test == "spring cycle" {
            baseline = redisCycles[RESPBenchmarks.connections]?.cyclesPerSecond
        } else {
            let target = figure.test.hasPrefix("GET") ? "redis" : "redis+2 replicas"
            baseline = resp.first { $0.target == target && $0.test == figure.test }?.requestsPerSecond
        }
        guard let baseline, baseline > 0 else { return nil }
        return figure.requestsPerSecond / baseline
    }

    func json() -> [String: Any] {
        func cycle(_ figure: CycleFigure) -> [String: Any] {
            var object: [String: Any] = [
                "config": figure.label, "connections": figure.connections, "cycles_per_second": figure.cyclesPerSecond,
                "requests_per_second": figure.cyclesPerSecond * Double(figure.shape?.requests ?? 4),
                "shape": figure.shape?.rawValue ?? "redis",
                "runs_cycles_per_second": figure.runs, "p50_ms": figure.p50, "p99_ms": figure.p99,
                "max_ms": figure.max, "errors": figure.errors,
            ]
            if let bytes = figure.bytesPerWrite { object["bytes_per_write"] = bytes }
            if let frames = figure.framesPerWrite { object["frames_per_write"] = frames }
            if let cpu = figure.serverCPUMicros { object["server_cpu_us_per_cycle"] = cpu }
            if let cpu = figure.servingCPUMicros { object["serving_cpu_us_per_cycle"] = cpu }
            if let cpu = figure.clientCPUMicros { object["client_cpu_us_per_cycle"] = cpu }
            if let switches = figure.contextSwitches { object["serving_context_switches_per_cycle"] = switches }
            return object
        }
        var result: [String: Any] = [
            "profile": profile.name, "command": command,
            "started": ISO8601DateFormatter().string(from: startedAt), "elapsed_seconds": elapsedSeconds,
            "load_average_start": loadAtStart, "load_average_end": loadAtEnd,
            "membership_ms": [
                "heartbeat": 100, "suspect": LocalCluster.suspectMillis, "dead": LocalCluster.deadMillis,
            ],
            "machine": ["cores": machine.cores, "memory_gib": machine.memoryGiB, "cpu": machine.cpu],
            "core": core.map {
                var object: [String: Any] = [
                    "operation": $0.name, "ns_per_op": $0.nanosPerOp, "min_ns": $0.minNanos, "max_ns": $0.maxNanos,
                    "note": $0.note,
                ]
                if let bytes = $0.bytes { object["bytes"] = bytes }
                return object
            },
            "loop_turns": loopTurns.map {
                [
                    "phase": $0.phase, "sessions": $0.sessions, "calls": $0.calls, "longest_cpu_ms": $0.longestMillis,
                    "longest_wall_ms": $0.longestWallMillis,
                    "longest_call": $0.longestCall, "calls_over_5ms": $0.over5ms, "requests": $0.requests,
                    "request_p99_us": $0.requestP99Micros,
                    "note": $0.note,
                ] as [String: Any]
            },
            "cycles": cycles.map(cycle),
            "loops": loops.map {
                [
                    "setup": $0.setup, "test": $0.test, "loops": $0.loops, "requests_per_second": $0.requestsPerSecond,
                    "loop_cores": $0.loopCores, "node_cores": $0.nodeCores, "machine_cores": $0.machineCores,
                    "node_us_per_request": $0.nodeMicrosPerRequest,
                ] as [String: Any]
            },
            "resp": resp.map {
                var object: [String: Any] = [
                    "target": $0.target, "test": $0.test, "requests_per_second": $0.requestsPerSecond,
                    "p50_ms": $0.p50, "p99_ms": $0.p99,
                ]
                if let ratio = respRatio($0) { object["ratio_to_redis"] = ratio }
                return object
            },
            "big_hashes": bigHashes.map {
                [
                    "test": $0.test, "fields": $0.fields, "median_ms": $0.medianMillis, "max_ms": $0.maxMillis,
                ] as [String: Any]
            },
            "replication_lag": lags.map {
                [
                    "config": $0.label, "probes": $0.probes, "p50_ms": $0.p50, "p99_ms": $0.p99, "max_ms": $0.max,
                    "poll_rtt_p50_ms": $0.pollP50, "first_poll_share": $0.firstPollShare, "timeouts": $0.timeouts,
                    "writes_per_second": $0.writesPerSecond, "polled_nodes": $0.pollNodes,
                    "nodes_p50_ms": $0.nodeP50 ?? NSNull(), "nodes_p99_ms": $0.nodeP99 ?? NSNull(),
                    "nodes_samples": $0.nodeSamples,
                ] as [String: Any]
            },
            "wire_per_write": wire.map {
                [
                    "mode": $0.mode, "nodes": $0.nodes, "writes": $0.writes, "bytes": $0.bytesPerWrite,
                    "frames": $0.framesPerWrite,
                ] as [String: Any]
            },
            "detection_ms": detection.map { ["kind": $0.kind, "runs": $0.runs, "median": $0.median, "max": $0.max] },
            "join": joins.map {
                [
                    "sessions": $0.sessions, "completed": $0.completed, "held": $0.held,
                    "suspect_events": $0.suspectEvents, "seconds": $0.seconds,
                    "first_answer_seconds": $0.firstAnswerSeconds,
                    "served": $0.served, "sampled": $0.sampled,
                ] as [String: Any]
            },
            "memory": (memory + (redisMemory.map { [$0] } ?? [])).map {
                [
                    "process": $0.label, "sessions": $0.sessions, "baseline_kib": $0.baselineKiB,
                    "resident_kib": $0.residentKiB, "bytes_per_session": $0.bytesPerSession,
                    "mib_per_100k_sessions": $0.mibPer100k,
                ] as [String: Any]
            },
            "targets": targets.map {
                ["goal": $0.goal, "measured": $0.measured, "met": $0.met.map { $0 as Any } ?? NSNull()] as [String: Any]
            },
            "errors": errors,
        ]
        if let redisVersion { result["redis_version"] = redisVersion }
        if let redisSkipped { result["redis_skipped"] = redisSkipped }
        result["redis_cycles"] = redisCycles.keys.sorted().map { cycle(redisCycles[$0]!) }
        result["persistence"] = persistenceJSON()
        result["tomcat"] = tomcatJSON()
        return result
    }
}
