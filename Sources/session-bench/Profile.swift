/// How much of everything a mode runs. `--short` is a quick look (under 3 minutes); `--full` is for the record.
struct Profile: Sendable {
    var name: String
    var coreRepetitions: Int
    var coreSecondsPerRepetition: Double
    /// Load runs per configuration (medians are reported), each `warmupSeconds` + `cycleSeconds`.
    var cycleRuns: Int
    var warmupSeconds: Double
    var cycleSeconds: Double
    var lagProbes: Int
    /// The steady write rate the lag is measured at (background writers + probes), writes per second.
    var lagWritesPerSecond: Double
    var wireSizes: [Int]
    var wireWrites: Int
    var detectionRuns: Int
    /// Session counts a new node joins with (the last one is also the memory measurement).
    var joinCounts: [Int]
    /// Sessions held by the core in the loop-turn figures (1b), and the state-transfer windows a joiner pulls there.
    var loopTurnSessions: Int
    var loopTurnWindows: Int
    /// Persistence section: alternating rounds of the write-throughput runs (each `warmupSeconds` + `cycleSeconds`
    /// per target), keys of 1 KB on disk for the start-up time, and the bound on filling them, in seconds.
    var persistenceRounds = 3
    var persistenceKeys = 100_000
    var persistenceFillSeconds = 60.0
    /// Section 11: sessions of 1 KB one real node holds while swept and joined.
    var bigNodeSessions = 100_000

    static let short = Profile(
        name: "short", coreRepetitions: 5, coreSecondsPerRepetition: 0.04, cycleRuns: 3, warmupSeconds: 0.2,
        cycleSeconds: 0.8, lagProbes: 300, lagWritesPerSecond: 5_000, wireSizes: [2, 3, 4, 6], wireWrites: 400,
        detectionRuns: 3, joinCounts: [10_000], loopTurnSessions: 100_000, loopTurnWindows: 100)

    static let full = Profile(
        name: "full", coreRepetitions: 11, coreSecondsPerRepetition: 0.2, cycleRuns: 7, warmupSeconds: 0.5,
        cycleSeconds: 3, lagProbes: 2_000, lagWritesPerSecond: 5_000, wireSizes: [2, 3, 4, 6], wireWrites: 3_000,
        detectionRuns: 10, joinCounts: [10_000, 100_000], loopTurnSessions: 1_000_000,
        loopTurnWindows: 100, persistenceRounds: 5, persistenceKeys: 1_000_000, persistenceFillSeconds: 300,
        bigNodeSessions: 5_000_000)
}

/// The command line.
struct Options {
    var profile = Profile.short
    var jsonPath = "bench-results.json"
    var nodeBinary: String?
    var redis = true
    /// Extra environment for the node processes (`--node-env NAME=VALUE`), for profiling experiments such as
    /// MALLOC_ARENA_MAX; recorded in the results.
    var nodeEnvironment: [String] = []
    /// Failure-detector timeouts (suspect, dead) in ms for the generated clusters.
    var membershipTimeouts = (suspect: 400, dead: 800)
    /// The configurations of the Tomcat pairs (`--tomcat-configs delta/sync,backup/async`); nil: the profile's.
    var tomcatConfigs: [(mode: String, ack: String)]?
    /// Event loops per node of our clusters in the Tomcat pairs (`--tomcat-loops N`).
    var tomcatLoops = 1
    /// Sessions held by the core in the memory and loop-turn figures (`--held N`); nil: the profile's.
    var held: Int?
    /// Sections to run (all by default): core, memory (the core's own memory per copy), redis, cluster, wire,
    /// faults, resp, persistence, loops (1 vs 2 event loops per node; needs wrk and redis-benchmark), tomcat (the
    /// 3-node pairs against Tomcat's clustering; needs wrk and tomcat10).
    var sections: Set<String> = Options.allSections

    static let allSections: Set<String> = [
        "core", "memory", "redis", "cluster", "wire", "faults", "resp", "persistence", "loops", "tomcat", "scale",
        "bignode",
    ]

    static let usage = """
        usage: session-bench --short | --full [--json FILE] [--node-binary PATH] [--no-redis]
                             [--only core,memory,redis,cluster,wire,faults,resp,persistence,loops,tomcat,scale,bignode]
                             [--node-env NAME=VALUE]
                             [--membership-timeouts SUSPECT,DEAD] [--tomcat-configs LIST] [--tomcat-loops N]
                             [--held N]

          --short        a quick look, under 3 minutes
          --full         the record, under 15 minutes (BENCHMARKS.md)
          --json FILE    where to write the results (default bench-results.json)
          --node-binary  the session-node executable (default: $SESSION_NODE, else next to session-bench,
                         else built with swift build -c release --product session-node)
          --no-redis     skip the Redis baseline
          --node-env NAME=VALUE  extra environment for the node processes (experiments, e.g. MALLOC_ARENA_MAX=2)
          --membership-timeouts SUSPECT,DEAD  failure-detector timeouts in ms (default 400,800: 4× and 8× the
                         100 ms heartbeat, as in the integration scenarios)
          --only LIST    run only these sections
          --tomcat-configs LIST  the Tomcat pairs to run, of delta/async,delta/sync,backup/async,backup/sync
                         (default: all four with --full, delta/sync with --short)
          --tomcat-loops N  event loops per node of our clusters in the Tomcat pairs (default 1)
          --held N       sessions the core holds in the memory and loop-turn figures (sections memory, core;
                         default 100,000 and 1,000,000 with --full; 5000000 needs about 16 GB) and the node of
                         section bignode (default 100,000 and 5,000,000 with --full: about 16 GB for two nodes)

        Prints a table (ours beside Redis and the ratio) and writes JSON. No timing assertions: the exit status
        is 1 only when a section could not run (a node failed to start, a request failed).
        """

    static func parse(_ arguments: [String]) -> Options? {
        var options = Options()
        var chosen = false
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--short":
                options.profile = .short
                chosen = true
            case "--full":
                options.profile = .full
                chosen = true
            case "--json":
                guard let value = rest.popFirst() else { return nil }
                options.jsonPath = value
            case "--node-binary":
                guard let value = rest.popFirst() else { return nil }
                options.nodeBinary = value
            case "--no-redis":
                options.redis = false
            case "--membership-timeouts":
                let parts = rest.popFirst()?.split(separator: ",").compactMap { Int($0) } ?? []
                guard parts.count == 2, parts[0] > 0, parts[1] > parts[0] else { return nil }
                options.membershipTimeouts = (parts[0], parts[1])
            case "--node-env":
                guard let value = rest.popFirst(), value.contains("=") else { return nil }
                options.nodeEnvironment.append(value)
            case "--tomcat-configs":
                let pairs = (rest.popFirst() ?? "").split(separator: ",").map { $0.split(separator: "/") }
                guard !pairs.isEmpty,
                    pairs.allSatisfy({
                        $0.count == 2 && ["delta", "backup"].contains($0[0]) && ["async", "sync"].contains($0[1])
                    })
                else { return nil }
                options.tomcatConfigs = pairs.map { (String($0[0]), String($0[1])) }
            case "--tomcat-loops":
                guard let value = rest.popFirst().flatMap({ Int($0) }), (1...64).contains(value) else { return nil }
                options.tomcatLoops = value
            case "--held":
                guard let value = rest.popFirst().flatMap({ Int($0) }), (1_000...50_000_000).contains(value) else {
                    return nil
                }
                options.held = value
            case "--only":
                guard let value = rest.popFirst() else { return nil }
                options.sections = Set(value.split(separator: ",").map(String.init))
                guard options.sections.isSubset(of: allSections) else { return nil }
            default:
                return nil
            }
        }
        return chosen ? options : nil
    }
}
