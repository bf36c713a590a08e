import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One load run of section 8: requests per second and where the CPU went.
struct LoopsFigure: Sendable {
    /// `1 node` or `3 nodes, load on n1`.
    var setup: String
    /// `PUT (wrk)` or `SET (redis-benchmark)`.
    var test: String
    var loops: Int
    var requestsPerSecond: Double
    /// Cores the serving node's busiest threads used (its loops, busiest first), and the node in all.
    var loopCores: [Double]
    var nodeCores: Double
    /// Cores the whole machine used during the run (the client and everything else included), of `cores`.
    var machineCores: Double
    /// The serving node's CPU per request (every thread of it), µs.
    var nodeMicrosPerRequest: Double
}

/// Section 8: a node served by 1 and by 2 event loops, driven by `wrk` (HTTP PUT, 64 sessions, both cookies) and by
/// `redis-benchmark` (SET of 100 bytes), rounds alternating; then the serving node's CPU per replicated write in a
/// 3-node delta/async cluster (the load on n1, which sends each write to 2 peers). Each run prints the CPU split —
/// the node's loops, the node, the machine — so the reader sees who was the limit: on a 2-core machine the client
/// shares the cores with the node's loops.
struct LoopsBenchmarks {
    let profile: Profile
    let binary: String
    let directory: String

    static let connections = 16
    var seconds: Double { profile.name == "full" ? 5 : 1.5 }
    var rounds: Int { profile.name == "full" ? 5 : 2 }

    func run() throws -> [LoopsFigure] {
        let wrk = findOnPath("wrk")
        let benchmark = findOnPath("redis-benchmark")
        if wrk == nil { progress("loops: wrk is not on PATH (apt-get install wrk): no HTTP figures") }
        if benchmark == nil { progress("loops: redis-benchmark is not on PATH (apt-get install redis-tools)") }
        guard wrk != nil || benchmark != nil else { return [] }
        var figures = [LoopsFigure]()
        // One node: the rounds alternate 1 and 2 loops, so both see the same noise.
        let nodes = try [1, 2].map { loops in try Target(nodes: 1, loops: loops, bench: self) }
        defer { for node in nodes { node.cluster.stopAll() } }
        for round in 0..<rounds {
            for target in (round % 2 == 0 ? nodes : nodes.reversed()) {
                if let wrk { figures.append(try target.put(wrk, setup: "1 node", seconds: seconds)) }
                if let benchmark { figures.append(try target.set(benchmark, setup: "1 node", seconds: seconds)) }
            }
        }
        for node in nodes { node.cluster.stopAll() }
        // Three nodes, the load on n1: the CPU n1 spends per write it replicates to its 2 peers.
        for loops in [1, 2] {
            let target = try Target(nodes: 3, loops: loops, bench: self)
            defer { target.cluster.stopAll() }
            for _ in 0..<max(1, rounds / 2) {
                if let wrk { figures.append(try target.put(wrk, setup: "3 nodes, load on n1", seconds: seconds)) }
                if let benchmark {
                    figures.append(try target.set(benchmark, setup: "3 nodes, load on n1", seconds: seconds))
                }
            }
            target.cluster.stopAll()
            target.cluster.removeFiles()
        }
        return figures
    }

    /// A running cluster whose n1 takes the load, with the sessions the HTTP load writes to.
    final class Target {
        let cluster: LocalCluster
        let loops: Int
        let node: ChildProcess
        let script: String
        let bench: LoopsBenchmarks

        init(nodes: Int, loops: Int, bench: LoopsBenchmarks) throws {
            self.loops = loops
            self.bench = bench
            cluster = try LocalCluster(
                nodes: nodes, mode: "delta", ack: "async", binary: bench.binary, directory: bench.directory,
                redis: true, settings: ["loops": loops])
            try cluster.start(cluster.first(nodes))
            guard let node = cluster.processes["n1"] else { throw BenchError("loops: n1 did not start") }
            self.node = node
            // 64 sessions, each with both cookies, in a wrk script that cycles through them.
            var cookies = [String]()
            for index in 0..<64 {
                let client = HTTPClient(address: cluster.httpAddress["n1"]!)
                defer { client.close() }
                _ = try client.postForm("/login", "user=bench\(index)")
                cookies.append(client.cookies.map { "\($0.name)=\($0.value)" }.joined(separator: "; "))
            }
            script = "\(bench.directory)/loops-\(nodes)-\(loops).lua"
            try WrkLoad.writePutScript(
                cookies: cookies, body: "value-0123456789-0123456789-0123456789", to: script)
            progress("loops: \(nodes) node(s) with \(loops) loop(s) up")
        }

        func put(_ wrk: String, setup: String, seconds: Double) throws -> LoopsFigure {
            let url = "http://\(cluster.httpAddress["n1"]!)/"
            return try measure(setup: setup, test: "PUT (wrk)") {
                let output = try bench.runTool(
                    wrk,
                    ["-t2", "-c\(LoopsBenchmarks.connections)", "-d\(Int(seconds.rounded(.up)))s", "-s", script, url])
                guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("Requests/sec:") }),
                    let rps = Double(line.split(separator: " ").last ?? "")
                else { throw BenchError("wrk printed no Requests/sec") }
                return rps
            }
        }

        func set(_ benchmark: String, setup: String, seconds: Double) throws -> LoopsFigure {
            let port = cluster.redisPort["n1"]!
            // About `seconds` of load at the rate a node sustains (the count bounds the run).
            let requests = Int(seconds * 40_000)
            return try measure(setup: setup, test: "SET (redis-benchmark)") {
                let output = try bench.runTool(
                    benchmark,
                    [
                        "-h", "127.0.0.1", "-p", "\(port)", "-c", "\(LoopsBenchmarks.connections)", "-n", "\(requests)",
                        "-t", "set", "-d", "100", "-r", "10000", "--csv",
                    ])
                guard let line = output.split(separator: "\n").dropFirst().first,
                    let rps = Double(
                        line.split(separator: ",").dropFirst().first?.replacingOccurrences(of: "\"", with: "") ?? "")
                else { throw BenchError("redis-benchmark printed no figures") }
                return rps
            }
        }

        /// Runs `load` (which returns requests per second) and samples the node's threads and the machine around it.
        private func measure(setup: String, test: String, _ load: () throws -> Double) throws -> LoopsFigure {
            let threadsBefore = LoopsBenchmarks.threadNanos(node.pid)
            let machineBefore = LoopsBenchmarks.machineTicks()
            let nodeBefore = node.cpuMicros ?? 0
            let started = Measure.seconds()
            let rps = try load()
            let wall = Measure.seconds() - started
            let nodeMicros = Double((node.cpuMicros ?? 0) - nodeBefore)
            let machine = LoopsBenchmarks.machineTicks()
            let threadsAfter = LoopsBenchmarks.threadNanos(node.pid)
            var busiest = threadsAfter.map { Double($0.value - (threadsBefore[$0.key] ?? 0)) / 1e9 / wall }
            busiest.sort(by: >)
            let busyShare =
                1 - Double(machine.idle - machineBefore.idle) / Double(max(1, machine.total - machineBefore.total))
            let figure = LoopsFigure(
                setup: setup, test: test, loops: loops, requestsPerSecond: rps, loopCores: Array(busiest.prefix(loops)),
                nodeCores: nodeMicros / 1e6 / wall, machineCores: busyShare * Double(Machine.current().cores),
                nodeMicrosPerRequest: rps > 0 ? nodeMicros / (rps * wall) : 0)
            progress(
                "loops: \(setup), \(loops) loop(s), \(test): \(fixed(rps, 0)) req/s; loops at "
                    + figure.loopCores.map { fixed($0, 2) }.joined(separator: "+") + " cores, node "
                    + "\(fixed(figure.nodeCores, 2)), machine \(fixed(figure.machineCores, 2)) of "
                    + "\(Machine.current().cores); node \(fixed(figure.nodeMicrosPerRequest, 1)) µs/request")
            return figure
        }
    }

    /// Runs a load tool to its end (bounded), its output.
    func runTool(_ executable: String, _ arguments: [String]) throws -> String {
        try WrkLoad.runToEnd(executable, arguments, directory: directory)
    }

    /// CPU time so far of each thread of `pid` (ns, from schedstat).
    static func threadNanos(_ pid: pid_t) -> [String: UInt64] {
        var result = [String: UInt64]()
        for thread in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? [] {
            guard let text = readFile("/proc/\(pid)/task/\(thread)/schedstat"),
                let nanos = UInt64(text.split(separator: " ").first ?? "")
            else { continue }
            result[thread] = nanos
        }
        return result
    }

    /// The machine's CPU ticks so far: all, and idle (idle + iowait), from /proc/stat.
    static func machineTicks() -> (total: Int, idle: Int) {
        guard let line = readFile("/proc/stat")?.split(separator: "\n").first else { return (0, 0) }
        let values = line.split(separator: " ").dropFirst().compactMap { Int($0) }
        guard values.count >= 5 else { return (0, 0) }
        return (values.reduce(0, +), values[3] + values[4])
    }
}
