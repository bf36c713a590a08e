import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Write throughput of one target (a lone node, or redis-server) with one persistence setting.
struct PersistenceWriteFigure: Sendable {
    /// `node memory`, `node log/everysec`, `redis AOF everysec`, …
    var target: String
    /// `RESP SET 1 KB` or `HTTP PUT`.
    var workload: String
    /// Requests per second of every round, in round order (a round runs every target once).
    var runs: [Double] = []
    /// Each round's latency quantiles, in ms.
    var p50s: [Double] = []
    var p99s: [Double] = []
    var errors = 0
    var firstError: String?
    /// Why the target was not measured (a build whose node refuses `log`); nil when it was.
    var skipped: String?
    /// The node's append-log counters after every round (`log_bytes`, `log_records_appended`, `log_compactions`,
    /// `log_fsyncs`, `log_fsync_max_us` of `/cluster/stats`); empty for Redis and the node in memory.
    var logStats: [String: Int] = [:]

    /// Median requests per second over the rounds.
    var requestsPerSecond: Double { Measure.median(runs) }
    /// Medians over the rounds of the latency quantiles, in ms.
    var p50: Double { Measure.median(p50s) }
    var p99: Double { Measure.median(p99s) }
}

/// Start-up after a restart with `keys` keys of 1 KB on disk.
struct PersistenceLoadFigure: Sendable {
    /// `node snapshot`, `node log, kill -9` or `redis RDB`.
    var target: String
    /// Keys asked for, and keys held before the stop (fewer only when the fill ran out of time).
    var requested: Int
    var held: Int
    /// Filling (pipelined SETs), and writing the file (node: SIGTERM → exit; Redis: BGSAVE; nil after kill -9), in
    /// seconds.
    var fillSeconds: Double
    var saveSeconds: Double?
    var fileBytes: Int
    /// The server's own load figure (node: `snapshot_load_ms`, which covers a log replay too; Redis: "DB loaded
    /// from disk" of its log), in ms.
    var loadMillis: Double?
    /// From spawn to the first answer (node: `/cluster/stats`; Redis: PONG and `loading:0`), in seconds.
    var answerSeconds: Double
    /// From spawn until it holds every key again (node: `sessions` of `/cluster/stats`; Redis: `loading:0`), in
    /// seconds; nil when it did not within the wait.
    var holdsAllSeconds: Double?
    /// Keys (sessions) held after the restart, and how many copies the node replayed from its log segments (the
    /// rest came from the snapshot the last compaction wrote).
    var restored: Int
    var replayed = 0
    /// Resident memory holding the keys before the stop, in MiB.
    var residentMiB: Double
    /// Why it was not measured (a build whose node refuses `log`); nil when it was.
    var skipped: String?
}

/// Everything the persistence section measured.
struct PersistenceReport: Sendable {
    var writes: [PersistenceWriteFigure] = []
    var loads: [PersistenceLoadFigure] = []
    var rounds = 0
    var connections = 0
    var seconds = 0.0
}

/// Section 7 (issue 14): what persistence costs. (a) write throughput of one node in memory vs `persistence`
/// `log` with `everysec` (and `always`), beside redis-server without persistence vs `appendonly yes` with the same
/// `appendfsync`, in alternating rounds; (b) start-up time with `profile.persistenceKeys` keys of 1 KB: a node's
/// `snapshot` beside Redis's RDB. A node that refuses `log` (a build without it) gives a `skipped` row.
struct PersistenceBenchmarks {
    let profile: Profile
    let binary: String
    let directory: String
    /// Whether to measure redis-server beside the node (false with `--no-redis`).
    let redis: Bool

    static let connections = 8
    static let valueBytes = 1_024
    /// The node's start-up refusal of a persistence mode it does not support, as a skipped row says it.
    static let unsupportedLog = "skipped: log mode not supported by this build"
    /// The append-log counters kept from a log-mode node after the rounds.
    static let logCounters: Set<String> = [
        "log_bytes", "log_records_appended", "log_sessions_appended", "log_compactions", "log_fsyncs",
        "log_fsync_max_us", "log_write_failures", "log_writer_waits",
    ]

    /// One thing written to: a lone node (its cluster) or a redis-server.
    private final class Target {
        let label: String
        var cluster: LocalCluster?
        var redis: RedisServer?
        var figures: [PersistenceWriteFigure]

        init(label: String, workloads: [String]) {
            self.label = label
            figures = workloads.map { PersistenceWriteFigure(target: label, workload: $0) }
        }
    }

    // MARK: Write throughput

    /// Starts every target, then runs `profile.persistenceRounds` rounds; each round runs every target and workload
    /// once, in an order rotated by one per round (so no target always runs first or after the same neighbour).
    func writes(into report: inout PersistenceReport) throws {
        report.rounds = profile.persistenceRounds
        report.connections = Self.connections
        report.seconds = profile.cycleSeconds
        var targets = [Target]()
        defer {
            for target in targets {
                target.cluster?.stopAll()
                target.redis?.stop()
            }
        }
        let nodeWorkloads = ["RESP SET 1 KB", "HTTP PUT"]
        let nodeSettings: [(String, [String: Any]?)] = [
            ("node memory", nil), ("node log/everysec", ["mode": "log", "fsync": "everysec"]),
            ("node log/always", ["mode": "log", "fsync": "always"]),
        ]
        var skipped = [PersistenceWriteFigure]()
        for (label, persistence) in nodeSettings {
            let target = Target(label: label, workloads: nodeWorkloads)
            var settings = [String: Any]()
            if var persistence {
                persistence["directory"] = "\(directory)/\(label.replacingOccurrences(of: "/", with: "-"))"
                settings["persistence"] = persistence
            }
            let cluster = try LocalCluster(
                nodes: 1, mode: "delta", ack: "async", binary: binary, directory: directory, redis: true,
                settings: settings)
            if let refusal = try Self.startNode(cluster, timeout: 30) {
                cluster.removeFiles()
                progress("persistence \(label): \(refusal)")
                for var figure in target.figures {
                    figure.skipped = refusal
                    skipped.append(figure)
                }
                continue
            }
            target.cluster = cluster
            targets.append(target)
        }
        let redisSettings: [(String, [String])] = [
            ("redis no persistence", []),
            ("redis AOF everysec", ["--appendonly", "yes", "--appendfsync", "everysec"]),
            ("redis AOF always", ["--appendonly", "yes", "--appendfsync", "always"]),
        ]
        for (label, settings) in redis ? redisSettings : [] {
            let home = "\(directory)/\(label.replacingOccurrences(of: " ", with: "-"))"
            mkdir(home, 0o700)
            guard let server = try RedisServer.startIfInstalled(directory: home, settings: settings) else {
                progress("persistence: redis-server is not installed: no Redis figures to compare with")
                break
            }
            let target = Target(label: label, workloads: ["RESP SET 1 KB"])
            target.redis = server
            targets.append(target)
        }
        let value = Self.payload(seed: 7)
        for round in 0..<profile.persistenceRounds {
            for offset in 0..<targets.count {
                let target = targets[(offset + round) % targets.count]
                for index in target.figures.indices {
                    try run(target, index, round: round, value: value)
                }
            }
        }
        for target in targets where target.label.hasPrefix("node log") {
            let stats = (try? target.cluster?.stats("n1")) ?? [:]
            let counters = stats.filter { Self.logCounters.contains($0.key) }
            for index in target.figures.indices { target.figures[index].logStats = counters }
        }
        // In the order declared (node settings, then Redis), skipped rows in their place.
        let order = (nodeSettings.map(\.0) + redisSettings.map(\.0))
        report.writes += (targets.flatMap(\.figures) + skipped).sorted {
            (order.firstIndex(of: $0.target) ?? 0, nodeWorkloads.firstIndex(of: $0.workload) ?? 0)
                < (order.firstIndex(of: $1.target) ?? 0, nodeWorkloads.firstIndex(of: $1.workload) ?? 0)
        }
        for target in targets {
            target.cluster?.stopAll()
            target.cluster?.removeFiles()
            target.redis?.stop()
        }
        targets.removeAll()
    }

    /// One measured run of `target.figures[index]`'s workload at `connections` connections.
    private func run(_ target: Target, _ index: Int, round: Int, value: [UInt8]) throws {
        let workload = target.figures[index].workload
        let tag = "\(target.label.replacingOccurrences(of: " ", with: "-"))-r\(round)"
        let make: @Sendable (Int) throws -> any LoadWorker
        if workload == "HTTP PUT", let cluster = target.cluster {
            let address = cluster.address("n1")
            make = { thread in try WebCycleWorker(address: address, user: "\(tag)t\(thread)", shape: .write) }
        } else {
            let port = target.redis?.port ?? target.cluster!.redisPort["n1"]!
            make = { thread in try RESPSetWorker(port: port, prefix: "w\(thread):", value: value) }
        }
        let outcome = try runLoad(
            threads: Self.connections, warmup: profile.warmupSeconds, measure: profile.cycleSeconds, make: make)
        var figure = target.figures[index]
        figure.runs.append(outcome.cyclesPerSecond)
        figure.p50s.append(outcome.latency.p50)
        figure.p99s.append(outcome.latency.p99)
        figure.errors += outcome.errors
        if figure.firstError == nil { figure.firstError = outcome.firstError }
        target.figures[index] = figure
        progress(
            "persistence \(target.label) \(workload) round \(round + 1)/\(profile.persistenceRounds): "
                + "\(fixed(outcome.cyclesPerSecond, 0)) req/s, p50 \(fixed(outcome.latency.p50, 3)) ms, "
                + "p99 \(fixed(outcome.latency.p99, 3)) ms\(outcome.errors > 0 ? ", \(outcome.errors) errors" : "")")
    }

    // MARK: Helpers shared with the load measurement

    /// Starts the cluster's lone node `n1` and waits until it answers `/cluster/stats`. Returns nil when it runs, or
    /// `unsupportedLog` when it exited refusing its `persistence.mode` (any other exit is an error, with the log's
    /// last lines).
    static func startNode(_ cluster: LocalCluster, timeout: Double) throws -> String? {
        let process = try cluster.start("n1")
        let deadline = Measure.seconds() + timeout
        while Measure.seconds() < deadline {
            if !process.isRunning {
                let log = readFile(process.logPath) ?? ""
                if log.contains("persistence.mode") && log.contains("not yet supported") { return unsupportedLog }
                let tail = log.split(separator: "\n").suffix(3).joined(separator: " | ")
                throw BenchError("n1 exited at start: \(tail)")
            }
            if (try? cluster.stats("n1")) != nil { return nil }
            Measure.sleep(0.01)
        }
        throw BenchError("n1 did not answer /cluster/stats within \(Int(timeout)) s (log: \(process.logPath))")
    }

    /// 1 KB of printable pseudo-random bytes (a fixed seed: the same bytes for the node and Redis; random enough
    /// that Redis's LZF compression of RDB strings finds nothing to shrink, like our encrypted file).
    static func payload(seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<valueBytes).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(0x21 + state % 94)
        }
    }
}

/// `SET <key> <1 KB value>` over one RESP connection, cycling over 1,000 keys per connection (writes overwrite:
/// memory stays bounded however long the run).
final class RESPSetWorker: LoadWorker {
    private let client: RESPClient
    private let keys: [[UInt8]]
    private let value: [UInt8]
    private var counter = 0
    private static let command = Array("SET".utf8)

    init(port: UInt16, prefix: String, value: [UInt8]) throws {
        client = try RESPClient(host: "127.0.0.1", port: port)
        keys = (0..<1_000).map { Array("persist-bench:\(prefix)\($0)".utf8) }
        self.value = value
    }

    func cycle() throws {
        counter += 1
        guard case .simple("OK") = try client.call([Self.command, keys[counter % keys.count], value]) else {
            throw BenchError("SET did not answer OK")
        }
    }

    func finish() { client.close() }
}
