@preconcurrency import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// session-bench: the benchmark harness of issue 6. See `Options.usage` and BENCHMARKS.md.

guard let options = Options.parse(Array(CommandLine.arguments.dropFirst())) else {
    print(Options.usage)
    exit(CommandLine.arguments.count > 1 && !CommandLine.arguments.contains("--help") ? 2 : 0)
}

signal(SIGPIPE, SIG_IGN)
// An interrupted bench stops exactly the processes it started (recorded PIDs), then exits.
signal(SIGINT, SIG_IGN)
signal(SIGTERM, SIG_IGN)
let signalSources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
    let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
    source.setEventHandler {
        print("\nsession-bench: interrupted; stopping the processes it started")
        ChildProcess.stopAll()
        exit(130)
    }
    source.resume()
    return source
}

/// Finds (or builds) the release `session-node` the cluster sections start.
@MainActor
func locateNodeBinary() throws -> String {
    if let path = options.nodeBinary ?? ProcessInfo.processInfo.environment["SESSION_NODE"] {
        guard access(path, X_OK) == 0 else { throw BenchError("session-node binary \(path) is not executable") }
        return path
    }
    let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    let sibling = me.deletingLastPathComponent().appendingPathComponent("session-node").path
    if access(sibling, X_OK) == 0 { return sibling }
    // <scratch>/<triple>/release/session-bench: build session-node into the same scratch path.
    let scratch = me.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    guard let swift = findOnPath("swift"), access("Package.swift", R_OK) == 0 else {
        throw BenchError(
            "no session-node next to \(me.path); build it (swift build -c release --product session-node) "
                + "or pass --node-binary")
    }
    print(
        "session-node not found next to session-bench: building it "
            + "(swift build -c release --product session-node --scratch-path \(scratch))")
    fflush(nil)
    let build = try ChildProcess(
        name: "swift build", executable: swift,
        arguments: ["build", "-c", "release", "--product", "session-node", "--scratch-path", scratch],
        logPath: "\(workDirectory)/build.log")
    guard let status = build.wait(seconds: 1_200), status == 0, access(sibling, X_OK) == 0 else {
        build.killHard()
        throw BenchError("building session-node failed; see \(workDirectory)/build.log")
    }
    return sibling
}

@MainActor
func section(_ name: String, _ body: () throws -> Void) {
    guard options.sections.contains(name) else { return }
    let started = Measure.seconds()
    // How long each section took: the test command runs `--short` inside CI's time budget.
    defer { print("  … section \(name) took \(fixed(Measure.seconds() - started, 0)) s") }
    do {
        try body()
    } catch {
        report.errors.append("\(name): \(error)")
        print("session-bench: section \(name) failed: \(error)")
    }
}

LocalCluster.suspectMillis = options.membershipTimeouts.suspect
LocalCluster.deadMillis = options.membershipTimeouts.dead
// Children inherit the environment: the bench's own allocator was configured at its start, before this.
for assignment in options.nodeEnvironment {
    let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
    setenv(parts[0], parts.count > 1 ? parts[1] : "", 1)
}

var template = Array("/tmp/session-bench-XXXXXX".utf8CString)
guard let created = mkdtemp(&template) else {
    print("session-bench: cannot create a temporary directory")
    exit(1)
}
let workDirectory = String(cString: created)
let command = "session-bench " + CommandLine.arguments.dropFirst().joined(separator: " ")
let report = Report(profile: options.profile, command: command)
let began = Measure.seconds()
print(
    "session-bench --\(options.profile.name): \(report.machine.cores) cores, \(fixed(report.machine.memoryGiB, 1)) GiB, "
        + "\(report.machine.cpu); scratch files in \(workDirectory)")
fflush(nil)

section("core") {
    print("== 1. core, in process")
    report.core = CoreBenchmarks.run(
        repetitions: options.profile.coreRepetitions, secondsPerRepetition: options.profile.coreSecondsPerRepetition)
}
section("memory") {
    let held = CoreBenchmarks.memoryPerHeldCopy(count: options.held ?? options.profile.joinCounts.last!)
    report.memory.append(held)
    progress("core: \(fixed(held.bytesPerSession, 0)) bytes resident per held 1 KB session (\(held.sessions) sessions)")
}
// After the memory figure: the allocator keeps what these sessions freed, which would hide the copies measured there.
section("core") {
    let loopTurnSessions = options.held ?? options.profile.loopTurnSessions
    print("== 1b. loop turns with \(loopTurnSessions) sessions held")
    report.loopTurns = LoopTurnBenchmarks.run(sessions: loopTurnSessions, windows: options.profile.loopTurnWindows)
}

section("scale") {
    let sizes = ScaleBenchmarks.sizes(options.profile).map(String.init).joined(separator: ", ")
    print("== 10. membership at scale, simulated (\(sizes) nodes)")
    _ = ScaleBenchmarks.run(profile: options.profile)
}

let wantsNodes = !options.sections.isDisjoint(with: [
    "cluster", "wire", "faults", "resp", "persistence", "loops", "tomcat", "bignode",
])
var nodeBinary: String?
if wantsNodes {
    do {
        nodeBinary = try locateNodeBinary()
    } catch {
        report.errors.append("cluster sections: \(error)")
        print("session-bench: \(error)")
    }
}

// The baseline server runs through the cluster section: its runs interleave with ours (same noise).
var redis: RedisBenchmarks?
var redisServer: RedisServer?
if options.sections.contains("redis") {
    if !options.redis {
        report.redisSkipped = "--no-redis given"
        print("== 5. Redis baseline SKIPPED: --no-redis given")
    } else {
        do {
            if let server = try RedisServer.startIfInstalled(directory: workDirectory) {
                redisServer = server
                redis = RedisBenchmarks(profile: options.profile, server: server)
                report.redisVersion = server.version()
                print(
                    "== 5. Redis baseline: redis-server \(report.redisVersion!) pid \(server.process.pid) "
                        + "port \(server.port) (runs interleaved with ours)")
            } else {
                report.redisSkipped = "redis-server is not on PATH (apt-get install redis-server)"
                print("== 5. Redis baseline SKIPPED: redis-server is not installed (apt-get install redis-server)")
            }
        } catch {
            report.errors.append("redis: \(error)")
            print("session-bench: redis-server failed to start: \(error)")
        }
    }
}

if let binary = nodeBinary {
    section("cluster") {
        print("== 2. cluster of 3 session-node processes (\(binary))")
        let bench = ClusterBenchmarks(profile: options.profile, binary: binary, directory: workDirectory)
        // Backup/sync with 3 copies beside it: on 3 nodes every node holds every session, a write costs two
        // acknowledged sends instead of one (its throughput and CPU per cycle against copies 2).
        let configs: [(String, String, Int?)] = [
            ("delta", "async", nil), ("delta", "sync", nil), ("backup", "async", nil), ("backup", "sync", nil),
            ("backup", "sync", 3),
        ]
        for (mode, ack, copies) in configs {
            let cluster = try LocalCluster(
                nodes: 3, mode: mode, ack: ack, binary: binary, directory: workDirectory,
                lagSampleMillis: ClusterBenchmarks.lagSampleMillis, copies: copies)
            defer { cluster.stopAll() }
            try cluster.start(cluster.first(3))
            progress("\(cluster.label): 3 nodes formed")
            for connections in [1, 8] {
                // The default configuration's runs alternate with the Redis runs.
                var redisRuns = [LoadOutcome]()
                var redisSpent = CPUSample()
                let interleave: ((Int) throws -> Void)? =
                    mode == "delta" && ack == "async" && redis != nil
                    ? { run in
                        redisRuns.append(try redis!.run(connections: connections, index: run, spent: &redisSpent))
                    } : nil
                report.cycles.append(try bench.cycles(cluster, connections: connections, interleaved: interleave))
                if !redisRuns.isEmpty {
                    var figure = summarise(label: "redis", connections: connections, redisRuns)
                    redisSpent.record(into: &figure)
                    report.redisCycles[connections] = figure
                }
            }
            if mode == "delta" && ack == "async" {
                // The same cycle as two REST requests (GET, then PUT): the cost of the extra HTTP round trip.
                for connections in [1, 8] {
                    report.cycles.append(try bench.cycles(cluster, connections: connections, shape: .api))
                }
            }
            report.lags.append(try bench.lag(cluster))
            if mode == "delta" && ack == "async" { report.lags.append(try bench.lag(cluster, steady: false)) }
            cluster.stopAll()
            cluster.removeFiles()
        }
    }
}
if let redis, report.redisCycles.isEmpty {
    section("redis") {
        for connections in [1, 8] { report.redisCycles[connections] = try redis.cycles(connections: connections) }
    }
}

if let binary = nodeBinary {
    section("wire") {
        print("== 2b. wire cost per write vs cluster size")
        report.wire = try ClusterBenchmarks(profile: options.profile, binary: binary, directory: workDirectory)
            .wireGrowth()
    }
    section("faults") {
        print("== 3/4. faults, state transfer and memory")
        let bench = FaultBenchmarks(profile: options.profile, binary: binary, directory: workDirectory)
        report.detection = try bench.detection()
        try bench.joinAndMemory(onJoin: { report.joins.append($0) }, onMemory: { report.memory.append($0) })
    }
}

if let redis {
    section("redis") { report.redisMemory = try redis.memory(count: options.profile.joinCounts.last!) }
}
if let binary = nodeBinary {
    section("resp") {
        print("== 6. the Redis protocol: redis-benchmark, \(RESPBenchmarks.connections) connections")
        report.resp = try RESPBenchmarks(profile: options.profile, binary: binary, directory: workDirectory).run()
        print("== 6b. commands on big hashes (sessions.maxAttributes raised to \(RESPBigHashBenchmarks.maxFields))")
        report.bigHashes = try RESPBigHashBenchmarks(binary: binary, directory: workDirectory).run()
    }
}
if let binary = nodeBinary {
    section("persistence") {
        print("== 7. persistence: write throughput (memory vs log) and start-up load, beside Redis (AOF, RDB)")
        let bench = PersistenceBenchmarks(
            profile: options.profile, binary: binary, directory: workDirectory, redis: options.redis)
        try bench.writes(into: &report.persistence)
        let keys = options.profile.persistenceKeys
        let fill = options.profile.persistenceFillSeconds
        report.persistence.loads.append(try bench.nodeLoad(count: keys, fillSeconds: fill))
        report.persistence.loads.append(try bench.nodeLoad(count: keys, fillSeconds: fill, log: true))
        if let figure = try bench.redisLoad(count: keys, fillSeconds: fill) {
            report.persistence.loads.append(figure)
        }
    }
}
if let binary = nodeBinary {
    section("loops") {
        print("== 8. event loops per node: 1 vs 2 (wrk, redis-benchmark), CPU per replicated write")
        report.loops = try LoopsBenchmarks(profile: options.profile, binary: binary, directory: workDirectory).run()
    }
}
section("tomcat") {
    if let reason = TomcatBenchmarks.missing() {
        report.tomcat.skipped = reason
        print("== 9. the 3-node pairs against Tomcat SKIPPED: \(reason)")
        return
    }
    guard let binary = nodeBinary, let files = TomcatCluster.locateFiles() else { return }
    print("== 9. the 3-node pairs against Tomcat's clustering (wrk, alternating rounds)")
    report.tomcat = try TomcatBenchmarks(
        profile: options.profile, binary: binary, directory: workDirectory, files: files,
        chosen: options.tomcatConfigs, loops: options.tomcatLoops
    ).run()
}
if let binary = nodeBinary {
    section("bignode") {
        let sessions = options.held ?? options.profile.bigNodeSessions
        print("== 11. one node holding \(sessions) sessions of 1 KB: latency at rest, while swept, while a node joins")
        report.bigNode = try BigNodeBenchmarks(
            profile: options.profile, binary: binary, directory: workDirectory, sessions: sessions
        ).run()
    }
}
redisServer?.stop()
ChildProcess.stopAll()
report.elapsedSeconds = Measure.seconds() - began
report.loadAtEnd = Report.loadAverage()
print("")
print(report.table())
do {
    let data = try JSONSerialization.data(withJSONObject: report.json(), options: [.prettyPrinted, .sortedKeys])
    try data.write(to: URL(fileURLWithPath: options.jsonPath))
    print("\nresults written to \(options.jsonPath)")
} catch {
    print("session-bench: cannot write \(options.jsonPath): \(error)")
    report.errors.append("json: \(error)")
}
if report.errors.isEmpty {
    try? FileManager.default.removeItem(atPath: workDirectory)
} else {
    print("logs kept in \(workDirectory)")
}
withExtendedLifetime(signalSources) {}
exit(report.errors.isEmpty ? 0 : 1)
