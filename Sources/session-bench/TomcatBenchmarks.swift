import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One measured `wrk` run of section 9 against one cluster.
struct TomcatFigure: Sendable {
    /// `delta/async`, `delta/sync`, `backup/async`, `backup/sync`.
    var config: String
    /// `session-node` or `tomcat`.
    var server: String
    var requestsPerSecond: Double
    /// CPU of the whole cluster (its 3 processes, every thread) per request, µs.
    var clusterMicrosPerRequest: Double
    /// CPU of the serving process (n1, t1) per request, µs.
    var servingMicrosPerRequest: Double
    /// Cores the serving process and the whole machine used during the run (the client included), of `cores`.
    var servingCores: Double
    var machineCores: Double
    /// Answers other than 2xx/3xx plus socket errors, as wrk counted them.
    var errors: Int
}

/// What section 9 found: the figures, each configuration's replication check, or why it did not run.
struct TomcatReport: Sendable {
    var version: String?
    var skipped: String?
    /// Per configuration: how the replication check of each cluster went.
    var checks: [(config: String, ours: String, tomcat: String)] = []
    var figures: [TomcatFigure] = []
    var rounds = 0
    var seconds = 0
    /// Event loops per node of our clusters.
    var loops = 1
    /// Per configuration: Tomcat's discarded warm-up bursts, requests per second.
    var warmups: [(config: String, runs: [Double])] = []
}

/// Section 9: the 3-node pairs against Tomcat's own clustering. For each configuration, a 3-node session-node
/// cluster and a 3-instance Tomcat cluster set up alike (delta ↔ DeltaManager, backup ↔ BackupManager; async ↔
/// channel send options 8, sync ↔ 6), both proven to replicate first; then `wrk -t2 -c8` against node 1 of each, a
/// PUT of a short attribute cycling over 64 logged-in sessions, in rounds that alternate ours and Tomcat (the same
/// noise for both) after a discarded warm-up (Tomcat's JIT). Prints requests/s, the ratio, and CPU per request of
/// each whole cluster and of its serving node.
struct TomcatBenchmarks {
    let profile: Profile
    let binary: String
    let directory: String
    let files: String
    /// `--tomcat-configs`, else the profile's choice.
    var chosen: [(mode: String, ack: String)]? = nil
    /// Event loops per node of our clusters (`--tomcat-loops`).
    var loops = 1

    static let threads = 2
    static let connections = 8
    static let sessions = 64
    static let body = "value-0123456789-0123456789-0123456789"
    var full: Bool { profile.name == "full" }
    var seconds: Int { full ? 5 : 2 }
    var rounds: Int { full ? 5 : 2 }
    /// Discarded load before the rounds, in bursts of `seconds`, until a burst is no more than 5 % faster than the
    /// best before it (HotSpot has compiled Tomcat's hot paths), at least `minimum` and at most `maximum` s.
    var warmup: (minimum: Int, maximum: Int) { full ? (15, 60) : (4, 12) }
    /// `--short` runs the sync delta pair alone (three JVMs start one after another: about 25 s a configuration).
    var configurations: [(mode: String, ack: String)] {
        if let chosen { return chosen }
        return full
            ? [("delta", "async"), ("delta", "sync"), ("backup", "async"), ("backup", "sync")] : [("delta", "sync")]
    }

    /// Why the section cannot run here, nil when it can.
    static func missing() -> String? {
        if findOnPath("wrk") == nil { return "wrk is not on PATH (apt-get install wrk)" }
        if !TomcatCluster.isInstalled {
            return
                "Tomcat is not installed at \(TomcatCluster.home) (apt-get install tomcat10; its service need not run)"
        }
        if TomcatCluster.locateFiles() == nil {
            return "Tests/Compatibility/Tomcat (server.xml template, webapp) not found: run from the package directory"
        }
        return nil
    }

    func run() throws -> TomcatReport {
        var report = TomcatReport(rounds: rounds, seconds: seconds, loops: loops)
        let wrk = findOnPath("wrk")!
        for (mode, ack) in configurations {
            let config = "\(mode)/\(ack)"
            let ours = try LocalCluster(
                nodes: 3, mode: mode, ack: ack, binary: binary, directory: directory, settings: ["loops": loops])
            defer { ours.stopAll() }
            try ours.start(ours.first(3))
            let tomcat = try TomcatCluster(instances: 3, mode: mode, ack: ack, files: files, scratch: directory)
            defer { tomcat.stopAll() }
            let started = Measure.seconds()
            try tomcat.start()
            report.version = report.version ?? tomcat.version()
            progress("tomcat \(config): 3 instances serving \(fixed(Measure.seconds() - started, 1)) s after launch")
            let oursCheck = try verifyOurs(ours)
            let tomcatCheck = try tomcat.verifyReplication()
            report.checks.append((config, oursCheck, tomcatCheck))
            progress("tomcat \(config): replication check: ours \(oursCheck); Tomcat \(tomcatCheck)")
            let targets = [
                try WrkTarget(
                    server: "session-node", config: config, url: "http://\(ours.address("n1"))/",
                    processes: ours.first(3).compactMap { ours.processes[$0] }, directory: directory),
                try WrkTarget(
                    server: "tomcat", config: config, url: "http://\(tomcat.httpAddress["t1"]!)/",
                    processes: tomcat.names.compactMap { tomcat.processes[$0] }, directory: directory),
            ]
            _ = try targets[0].run(wrk, seconds: 1)
            report.warmups.append((config, try warmUp(targets[1], wrk)))
            progress(
                "tomcat \(config): Tomcat warmed up: "
                    + report.warmups.last!.runs.map { fixed($0, 0) }
                    .joined(separator: ", ") + " req/s in bursts of \(seconds) s, discarded")
            for round in 0..<rounds {
                for target in (round % 2 == 0 ? targets : targets.reversed()) {
                    let figure = try target.run(wrk, seconds: seconds)
                    report.figures.append(figure)
                    progress(
                        "tomcat \(config) \(figure.server): \(fixed(figure.requestsPerSecond, 0)) req/s; cluster "
                            + "\(fixed(figure.clusterMicrosPerRequest, 1)) µs/req, serving "
                            + "\(fixed(figure.servingMicrosPerRequest, 1)) µs/req (\(fixed(figure.servingCores, 2)) "
                            + "cores); machine \(fixed(figure.machineCores, 2)) of \(Machine.current().cores)")
                }
            }
            ours.stopAll()
            tomcat.stopAll()
            ours.removeFiles()
            tomcat.removeFiles()
        }
        return report
    }

    /// Loads `target` in bursts until its rate stops rising (see `warmup`); the bursts' requests per second.
    func warmUp(_ target: WrkTarget, _ wrk: String) throws -> [Double] {
        var runs = [Double]()
        while runs.count * seconds < warmup.maximum {
            let rate = try target.run(wrk, seconds: seconds).requestsPerSecond
            let best = runs.max() ?? 0
            runs.append(rate)
            if runs.count * seconds >= warmup.minimum && rate <= best * 1.05 { break }
        }
        return runs
    }

    /// The same proof for our cluster: a write through n1 read back through n2 and n3 (`GET /session` with the
    /// session cookie alone, so no version token makes a node pull: replication itself is what is seen).
    func verifyOurs(_ cluster: LocalCluster, timeout: Double = 5) throws -> String {
        let writer = HTTPClient(address: cluster.address("n1"))
        defer { writer.close() }
        let login = try writer.postForm("/login", "user=replication-check")
        guard login.status == 200, let cookie = writer.cookie("SESSIONID") else {
            throw BenchError("session-node: POST /login answered \(login.status)")
        }
        let value = "check-\(UInt64(Measure.nanos()))"
        let put = try writer.request("PUT", "/session/attributes/x", body: Array(value.utf8))
        guard put.status == 204 else { throw BenchError("session-node: PUT through n1 answered \(put.status)") }
        let written = Measure.seconds()
        var seen = [String]()
        for name in ["n2", "n3"] {
            let reader = HTTPClient(address: cluster.address(name))
            defer { reader.close() }
            reader.setCookie("SESSIONID", cookie)
            let deadline = Measure.seconds() + timeout
            while true {
                if let answer = try? reader.request("GET", "/session"), answer.status == 200,
                    answer.contains(Array(value.utf8))
                {
                    break
                }
                guard Measure.seconds() < deadline else {
                    throw BenchError(
                        "session-node \(cluster.mode)/\(cluster.ack): a write through n1 not visible "
                            + "through \(name) within \(fixed(timeout, 0)) s")
                }
                Measure.sleep(0.005)
            }
            seen.append("\(name) after \(fixed((Measure.seconds() - written) * 1000, 0)) ms")
        }
        return "read back through " + seen.joined(separator: ", ")
    }
}

/// One cluster under `wrk`: its node 1's URL, a Lua script cycling over sessions logged in there, and the
/// processes whose CPU is counted (the first is the serving one).
struct WrkTarget {
    let server: String
    let config: String
    let url: String
    let processes: [ChildProcess]
    let script: String
    let directory: String

    /// Logs `TomcatBenchmarks.sessions` users in through `url` and writes the script that PUTs to their sessions
    /// (every cookie the login set: ours sets the session and version cookies, Tomcat JSESSIONID).
    init(server: String, config: String, url: String, processes: [ChildProcess], directory: String) throws {
        self.server = server
        self.config = config
        self.url = url
        self.processes = processes
        self.directory = directory
        let address = String(url.dropFirst("http://".count).dropLast())
        var cookies = [String]()
        for index in 0..<TomcatBenchmarks.sessions {
            let client = HTTPClient(address: address)
            defer { client.close() }
            let login = try client.postForm("/login", "user=bench\(index)")
            guard login.status == 200, !client.cookies.isEmpty else {
                throw BenchError("\(server): POST /login answered \(login.status)")
            }
            cookies.append(client.cookies.map { "\($0.name)=\($0.value)" }.joined(separator: "; "))
        }
        script = "\(directory)/tomcat-pairs-\(server)-\(config.replacingOccurrences(of: "/", with: "-")).lua"
        try WrkLoad.writePutScript(cookies: cookies, body: TomcatBenchmarks.body, to: script)
    }

    /// One `wrk` run of `seconds`, with the CPU its cluster, its serving process and the machine spent meanwhile.
    func run(_ wrk: String, seconds: Int) throws -> TomcatFigure {
        let clusterBefore = processes.reduce(0) { $0 + ($1.cpuMicros ?? 0) }
        let servingBefore = processes[0].cpuMicros ?? 0
        let machineBefore = LoopsBenchmarks.machineTicks()
        let started = Measure.seconds()
        let output = try runWrk(
            wrk,
            [
                "-t\(TomcatBenchmarks.threads)", "-c\(TomcatBenchmarks.connections)", "-d\(seconds)s", "-s", script,
                url,
            ])
        let wall = Measure.seconds() - started
        let machine = LoopsBenchmarks.machineTicks()
        let cluster = Double(processes.reduce(0) { $0 + ($1.cpuMicros ?? 0) } - clusterBefore)
        let serving = Double((processes[0].cpuMicros ?? 0) - servingBefore)
        let requests = Double(output.requests)
        guard requests > 0 else { throw BenchError("\(server) \(config): wrk completed no request") }
        if Double(output.errors) > requests * 0.01 {
            throw BenchError(
                "\(server) \(config): \(output.errors) of \(output.requests) requests failed (non-2xx or socket "
                    + "errors); see \(directory)")
        }
        let busy = 1 - Double(machine.idle - machineBefore.idle) / Double(max(1, machine.total - machineBefore.total))
        return TomcatFigure(
            config: config, server: server, requestsPerSecond: output.requestsPerSecond,
            clusterMicrosPerRequest: cluster / requests, servingMicrosPerRequest: serving / requests,
            servingCores: serving / 1e6 / wall, machineCores: busy * Double(Machine.current().cores),
            errors: output.errors)
    }

    /// Runs wrk to its end (bounded) and reads its summary: requests/s, requests completed, errors.
    private func runWrk(_ wrk: String, _ arguments: [String]) throws -> (
        requestsPerSecond: Double, requests: Int, errors: Int
    ) {
        let output = try WrkLoad.runToEnd(wrk, arguments, directory: directory)
        var requestsPerSecond: Double?
        var requests = 0
        var errors = 0
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ")
            if line.hasPrefix("Requests/sec:") {
                requestsPerSecond = Double(words.last ?? "")
            } else if line.contains(" requests in ") {
                requests = Int(words.first ?? "") ?? 0
            } else if line.contains("Non-2xx or 3xx responses:") {
                errors += Int(words.last ?? "") ?? 0
            } else if line.contains("Socket errors:") {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                errors += words.compactMap { Int($0.trimmingCharacters(in: .punctuationCharacters)) }.reduce(0, +)
            }
        }
        guard let requestsPerSecond else { throw BenchError("wrk printed no Requests/sec: \(output.suffix(300))") }
        return (requestsPerSecond, requests, errors)
    }
}
