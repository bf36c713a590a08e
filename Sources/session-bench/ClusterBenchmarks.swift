import Foundation
import SessionClusterCore

/// Repeated load runs of one configuration, summarised by medians (the machines are shared and noisy).
struct CycleFigure: Sendable {
    var label: String
    var connections: Int
    /// What a cycle sends (Redis: its four commands).
    var shape: CycleShape?
    /// Median over the runs, and every run's figure.
    var cyclesPerSecond: Double
    var runs: [Double]
    var p50: Double
    var p99: Double
    var max: Double
    var errors: Int
    var firstError: String?
    /// Network cost of one write (one PUT), summed over every node's `bytes_sent` / `frames_sent`.
    var bytesPerWrite: Double?
    var framesPerWrite: Double?
    /// CPU per cycle, in microseconds: the server side (every node, or redis-server), its busiest process (n1),
    /// and the bench's own client threads; context switches per cycle of the serving process.
    var serverCPUMicros: Double?
    var servingCPUMicros: Double?
    var clientCPUMicros: Double?
    var contextSwitches: Double?
}

/// CPU and context-switch counters of the server processes and the bench itself, for per-cycle costs.
struct CPUSample {
    var server = 0
    var serving = 0
    var client = 0
    var switches = 0
    var cycles = 0

    init() {}

    init(server processes: [ChildProcess], serving: ChildProcess) {
        server = processes.reduce(0) { $0 + ($1.cpuMicros ?? 0) }
        self.serving = serving.cpuMicros ?? 0
        client = ChildProcess.cpuMicros(pid: getpid()) ?? 0
        switches = serving.contextSwitches
    }

    /// Adds what was spent between `start` and `end` over `cycles` cycles.
    mutating func add(from start: CPUSample, to end: CPUSample, cycles count: Int) {
        server += end.server - start.server
        serving += end.serving - start.serving
        client += end.client - start.client
        switches += end.switches - start.switches
        cycles += count
    }

    /// Per-cycle costs into `figure`.
    func record(into figure: inout CycleFigure) {
        guard cycles > 0 else { return }
        let count = Double(cycles)
        figure.serverCPUMicros = Double(server) / count
        figure.servingCPUMicros = Double(serving) / count
        figure.clientCPUMicros = Double(client) / count
        figure.contextSwitches = Double(switches) / count
    }
}

/// Write on one node → visible on another.
struct LagFigure: Sendable {
    var label: String
    var probes: Int
    var p50: Double
    var p99: Double
    var max: Double
    /// Timing resolution: the median round trip of one poll of the other node.
    var pollP50: Double
    /// Probes whose very first poll already saw the write.
    var firstPollShare: Double
    var timeouts: Int
    /// Writes per second the cluster took during the probes (background writers + probes).
    var writesPerSecond: Double
    var pollNodes: String
    /// Measured by the receiving nodes themselves (deltas stamped by n1's clock, same host): p50 / p99 in ms
    /// interpolated within the nodes' histogram buckets, and how many deltas were sampled. Nil when not stamped.
    var nodeP50: Double?
    var nodeP99: Double?
    var nodeSamples = 0
}

/// Percentiles of the difference of two cumulative histograms (bucket bounds in µs), interpolated linearly within
/// the bucket; returned in ms. Nil without samples.
func histogramPercentile(
    before: [(bound: Double, count: Int)], after: [(bound: Double, count: Int)], _ fraction: Double
) -> Double? {
    guard before.count == after.count || before.isEmpty, let total = after.last?.count else { return nil }
    let counts = after.enumerated().map { $1.count - (before.isEmpty ? 0 : before[$0].count) }
    guard let samples = counts.last, samples > 0, total >= samples else { return nil }
    let rank = fraction * Double(samples)
    var lower = 0.0
    var below = 0
    for (index, bucket) in after.enumerated() {
        let cumulative = counts[index]
        if Double(cumulative) >= rank && cumulative > below {
            guard bucket.bound.isFinite else { return lower / 1000 }  // beyond the last bound: at least it
            let share = (rank - Double(below)) / Double(cumulative - below)
            return (lower + max(0, share) * (bucket.bound - lower)) / 1000
        }
        below = cumulative
        if bucket.bound.isFinite { lower = bucket.bound }
    }
    return nil
}

/// Network cost per write for one cluster size and mode.
struct WireFigure: Sendable {
    var mode: String
    var nodes: Int
    var writes: Int
    var bytesPerWrite: Double
    var framesPerWrite: Double
}

/// Section 2: three (or 2–6) real `session-node` processes on loopback.
struct ClusterBenchmarks {
    /// How often n1 stamps a delta per link for the nodes' own lag measurement (stamps are not counted in the
    /// nodes' bytes / frames sent, so the wire figures stay those of replication).
    static let lagSampleMillis = 2

    let profile: Profile
    let binary: String
    let directory: String

    /// The web-style cycle through n1 of a 3-node cluster, at each concurrency, `profile.cycleRuns` times.
    /// `interleaved`, when given, runs after each of our runs (the Redis baseline: both then see the same noise
    /// of a shared machine).
    func cycles(
        _ cluster: LocalCluster, connections: Int, shape: CycleShape = .page,
        interleaved: ((Int) throws -> Void)? = nil
    ) throws -> CycleFigure {
        let address = cluster.address("n1")
        let nodes = cluster.running
        let label = cluster.label + (shape == .page ? "" : " \(shape.rawValue)")
        var runs = [LoadOutcome]()
        var bytes = 0
        var frames = 0
        var writes = 0
        let processes = nodes.compactMap { cluster.processes[$0] }
        var spent = CPUSample()
        for run in 0..<profile.cycleRuns {
            var before = (0, 0)
            var cpuBefore: CPUSample?
            let outcome = try runLoad(
                threads: connections, warmup: profile.warmupSeconds, measure: profile.cycleSeconds,
                atStart: {
                    before = (
                        try cluster.total("bytes_sent", over: nodes), try cluster.total("frames_sent", over: nodes)
                    )
                    cpuBefore = CPUSample(server: processes, serving: cluster.processes["n1"]!)
                },
                make: { index in
                    try WebCycleWorker(address: address, user: "c\(connections)r\(run)t\(index)", shape: shape)
                })
            let cpuAfter = CPUSample(server: processes, serving: cluster.processes["n1"]!)
            if let cpuBefore { spent.add(from: cpuBefore, to: cpuAfter, cycles: outcome.totalCycles) }
            Measure.sleep(0.2)  // acks of the last sync writes, in flight
            bytes += try cluster.total("bytes_sent", over: nodes) - before.0
            frames += try cluster.total("frames_sent", over: nodes) - before.1
            writes += outcome.totalCycles
            runs.append(outcome)
            progress(
                "\(label) \(connections) conn run \(run + 1)/\(profile.cycleRuns): "
                    + "\(fixed(outcome.cyclesPerSecond, 0)) cycles/s, p50 \(fixed(outcome.latency.p50, 3)) ms, "
                    + "p99 \(fixed(outcome.latency.p99, 3)) ms\(outcome.errors > 0 ? ", \(outcome.errors) errors" : "")"
            )
            try interleaved?(run)
        }
        var figure = summarise(label: label, connections: connections, runs)
        figure.shape = shape
        spent.record(into: &figure)
        figure.bytesPerWrite = writes > 0 ? Double(bytes) / Double(writes) : nil
        figure.framesPerWrite = writes > 0 ? Double(frames) / Double(writes) : nil
        return figure
    }

    /// Replication lag under a steady background write rate on n1: each probe writes on n1, then polls the node
    /// that should receive the copy (delta: n2; backup: the session's ring backup) WITHOUT the version cookie,
    /// so the pull-on-token path never runs: what is measured is replication alone. Lag = first poll answer
    /// showing the write − the write's own answer (an upper bound: it includes up to one poll round trip).
    /// `steady: false` runs the probes alone (no background writers): the floor of what polling can resolve.
    func lag(_ cluster: LocalCluster, steady: Bool = true) throws -> LagFigure {
        let label = cluster.label + (steady ? "" : " idle")
        let live = cluster.running
        let primary = "n1"
        let probeSessions = 8
        var writers = [HTTPClient]()
        var pollers = [HTTPClient]()
        var pollNames = Set<String>()
        defer { for client in writers + pollers { client.close() } }
        for index in 0..<probeSessions {
            let writer = HTTPClient(address: cluster.address(primary))
            let login = try writer.postForm("/login", "user=probe\(index)")
            guard login.status == 200, let cookie = writer.cookie("SESSIONID") else {
                throw BenchError("probe login answered \(login.status)")
            }
            let target = cluster.mode == "backup" ? Self.backupNode(of: cookie, primary: primary, live: live) : "n2"
            pollNames.insert(target)
            let poller = HTTPClient(address: cluster.address(target))
            poller.ignoredCookies = ["SESSIONVERSION"]
            poller.setCookie("SESSIONID", cookie)
            writers.append(writer)
            pollers.append(poller)
        }
        let probeGap = 0.004
        let probeRate = 1 / (probeGap + 0.0003)
        let background = steady ? max(0, profile.lagWritesPerSecond - probeRate) : 0
        let threads = background > 0 ? 4 : 0
        let address = cluster.address(primary)
        var lags = [UInt64]()
        var polls = [UInt64]()
        var firstPoll = 0
        var timeouts = 0
        var probeSeconds = 0.0
        let tag = Measure.nanos() % 1_000_000
        // Every node but the writer receives n1's deltas (delta mode) or backs some probe sessions up (backup).
        let receivers = live.filter { $0 != primary }
        var histogramsBefore = [[(bound: Double, count: Int)]]()
        var histogramsAfter = [[(bound: Double, count: Int)]]()
        let outcome = try runLoad(
            threads: threads, warmup: 0.3, measure: 600, pacingPerThread: background / Double(max(1, threads)),
            whileRunning: {
                Measure.sleep(0.3)
                histogramsBefore = try receivers.map { try cluster.lagHistogram($0) }
                let began = Measure.seconds()
                for probe in 0..<profile.lagProbes {
                    let slot = probe % probeSessions
                    let value = "p\(tag)-\(probe)"
                    let needle = Array("\"\(value)\"".utf8)
                    let write = try writers[slot].request("PUT", "/session/attributes/x", body: Array(value.utf8))
                    guard write.status == 204 else { throw BenchError("probe PUT answered \(write.status)") }
                    let written = Measure.nanos()
                    var attempts = 0
                    while true {
                        let sent = Measure.nanos()
                        let read = try pollers[slot].request("GET", "/session")
                        let seen = Measure.nanos()
                        polls.append(seen - sent)
                        attempts += 1
                        if read.status == 200 && read.contains(needle) {
                            lags.append(seen - written)
                            if attempts == 1 { firstPoll += 1 }
                            break
                        }
                        if seen - written > 2_000_000_000 {
                            timeouts += 1
                            break
                        }
                    }
                    Measure.sleep(probeGap)
                }
                probeSeconds = Measure.seconds() - began
                histogramsAfter = try receivers.map { try cluster.lagHistogram($0) }
            },
            make: { index in try WebCycleWorker(address: address, user: "lag\(index)", shape: .write) })
        let latency = LatencySummary(nanos: lags)
        let pollMillis = polls.map { Double($0) / 1e6 }
        var figure = LagFigure(
            label: label, probes: lags.count, p50: latency.p50, p99: latency.p99, max: latency.max,
            pollP50: Measure.percentile(pollMillis, 0.5),
            firstPollShare: lags.isEmpty ? 0 : Double(firstPoll) / Double(lags.count), timeouts: timeouts,
            writesPerSecond: outcome.cyclesPerSecond + Double(profile.lagProbes) / max(probeSeconds, 0.001),
            pollNodes: pollNames.sorted().joined(separator: ","))
        let merged = { (histograms: [[(bound: Double, count: Int)]]) -> [(bound: Double, count: Int)] in
            guard let first = histograms.first else { return [] }
            return first.indices.map { index in
                (first[index].bound, histograms.reduce(0) { $0 + ($1.count > index ? $1[index].count : 0) })
            }
        }
        let before = merged(histogramsBefore)
        let after = merged(histogramsAfter)
        figure.nodeSamples = (after.last?.count ?? 0) - (before.last?.count ?? 0)
        figure.nodeP50 = histogramPercentile(before: before, after: after, 0.5)
        figure.nodeP99 = histogramPercentile(before: before, after: after, 0.99)
        if let p50 = figure.nodeP50, let p99 = figure.nodeP99 {
            progress(
                "\(label) lag measured by the nodes: p50 \(fixed(p50, 3)) ms, p99 \(fixed(p99, 3)) ms "
                    + "(\(figure.nodeSamples) sampled deltas)")
        }
        progress(
            "\(label) lag: p50 \(fixed(figure.p50, 3)) ms, p99 \(fixed(figure.p99, 3)) ms, max \(fixed(figure.max, 3)) "
                + "ms at \(fixed(figure.writesPerSecond, 0)) writes/s (poll rtt \(fixed(figure.pollP50, 3)) ms)")
        return figure
    }

    /// Bytes and frames on the network per write (every node's counters summed) for each cluster size, async.
    func wireGrowth() throws -> [WireFigure] {
        var figures = [WireFigure]()
        for mode in ["delta", "backup"] {
            for size in profile.wireSizes {
                let cluster = try LocalCluster(
                    nodes: size, mode: mode, ack: "async", binary: binary, directory: directory)
                defer { cluster.stopAll() }
                let names = cluster.first(size)
                try cluster.start(names)
                let sessions = 16
                let clients = (0..<sessions).map { _ in HTTPClient(address: cluster.address("n1")) }
                defer { for client in clients { client.close() } }
                for (index, client) in clients.enumerated() {
                    guard try client.postForm("/login", "user=wire\(index)").status == 200 else {
                        throw BenchError("wire login failed")
                    }
                }
                Measure.sleep(0.3)
                let bytesBefore = try cluster.total("bytes_sent", over: names)
                let framesBefore = try cluster.total("frames_sent", over: names)
                for write in 0..<profile.wireWrites {
                    let answer = try clients[write % sessions].request(
                        "PUT", "/session/attributes/x", body: Array("value-\(write)".utf8))
                    guard answer.status == 204 else { throw BenchError("wire PUT answered \(answer.status)") }
                }
                Measure.sleep(0.3)
                let bytes = try cluster.total("bytes_sent", over: names) - bytesBefore
                let frames = try cluster.total("frames_sent", over: names) - framesBefore
                let figure = WireFigure(
                    mode: mode, nodes: size, writes: profile.wireWrites,
                    bytesPerWrite: Double(bytes) / Double(profile.wireWrites),
                    framesPerWrite: Double(frames) / Double(profile.wireWrites))
                figures.append(figure)
                progress(
                    "wire \(mode) \(size) nodes: \(fixed(figure.bytesPerWrite, 1)) bytes, "
                        + "\(fixed(figure.framesPerWrite, 2)) frames per write")
                cluster.stopAll()
                cluster.removeFiles()
            }
        }
        return figures
    }

    /// The session's backup when `primary` holds it: the first ring member clockwise that is not the primary
    /// (the ring places members by name, so any distinct ids give the same order as the nodes' own rings).
    static func backupNode(of cookie: String, primary: String, live: [String]) -> String {
        guard let id = SessionID(cookieValue: cookie) else { return live.first { $0 != primary } ?? primary }
        let members = live.enumerated().map { HashRing.Member(id: NodeID(rawValue: UInt64($0 + 1)), key: $1) }
        let ring = HashRing(members: members)
        let primaryID = members.first { $0.key == primary }!.id
        guard let backup = ring.backup(of: id, primary: primaryID) else { return primary }
        return members.first { $0.id == backup }!.key
    }
}

/// Medians over repeated runs.
func summarise(label: String, connections: Int, _ runs: [LoadOutcome]) -> CycleFigure {
    CycleFigure(
        label: label, connections: connections, cyclesPerSecond: Measure.median(runs.map(\.cyclesPerSecond)),
        runs: runs.map(\.cyclesPerSecond), p50: Measure.median(runs.map(\.latency.p50)),
        p99: Measure.median(runs.map(\.latency.p99)), max: runs.map(\.latency.max).max() ?? 0,
        errors: runs.reduce(0) { $0 + $1.errors }, firstError: runs.compactMap(\.firstError).first)
}
