import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One `redis-benchmark` test (or the Spring cycle) against one target.
struct RESPFigure: Sendable {
    /// `redis`, `redis+2 replicas`, or a node cluster's `mode/ack`.
    var target: String
    /// `GET`, `SET`, `HSET`, `GET -P16`, `SET -P16`, or `spring cycle`.
    var test: String
    var requestsPerSecond: Double
    var p50: Double
    var p99: Double
}

/// Section 6: the Redis protocol, driven by `redis-benchmark` (a load generator nobody here wrote), 8 connections,
/// against redis-server alone, redis-server with two replicas (`replicaof` on loopback: the durability class of
/// 3 nodes), and 3 nodes in delta/async, delta/sync and backup/sync; plus the Spring Session request cycle
/// (`HGETALL EXISTS HSET PEXPIREAT`) with the bench's own client. Reads compare with Redis alone, writes with
/// Redis and its replicas.
struct RESPBenchmarks {
    let profile: Profile
    let binary: String
    let directory: String

    static let connections = 8

    /// Requests per `redis-benchmark` test (pipelined tests 4× as many).
    var requests: Int { profile.name == "full" ? 200_000 : 20_000 }

    func run() throws -> [RESPFigure] {
        guard let benchmark = findOnPath("redis-benchmark") else {
            throw BenchError("redis-benchmark is not on PATH (apt-get install redis-tools)")
        }
        var figures = [RESPFigure]()
        if let primary = try RedisServer.startIfInstalled(directory: directory) {
            defer { primary.stop() }
            figures += try measure(benchmark, port: primary.port, target: "redis")
            var replicas = [RedisServer]()
            defer { for replica in replicas { replica.stop() } }
            for _ in 0..<2 {
                if let replica = try RedisServer.startIfInstalled(directory: directory, replicaOf: primary.port) {
                    replicas.append(replica)
                }
            }
            try waitForReplicas(primary.port, count: replicas.count)
            figures += try measure(benchmark, port: primary.port, target: "redis+2 replicas", reads: false)
        } else {
            progress("resp: redis-server is not installed: no Redis figures to compare with")
        }
        for (mode, ack) in [("delta", "async"), ("delta", "sync"), ("backup", "sync")] {
            let cluster = try LocalCluster(
                nodes: 3, mode: mode, ack: ack, binary: binary, directory: directory, redis: true)
            defer { cluster.stopAll() }
            try cluster.start(cluster.first(3))
            let port = cluster.redisPort["n1"]!
            figures += try measure(benchmark, port: port, target: "\(mode)/\(ack)")
            figures.append(try springCycle(port: port, target: "\(mode)/\(ack)"))
            cluster.stopAll()
            cluster.removeFiles()
        }
        return figures
    }

    /// GET, SET, HSET, then pipelined GET and SET (`-P 16`); `reads: false` leaves out what a replica cannot
    /// change (GET).
    private func measure(_ benchmark: String, port: UInt16, target: String, reads: Bool = true) throws
        -> [RESPFigure]
    {
        var figures = try redisBenchmark(
            benchmark, port: port, tests: reads ? "set,get" : "set", pipeline: 1, target: target)
        // HSET writes field `element:<n>` of one hash: 100 distinct fields keep it within a session's attribute
        // limit (`sessions.maxAttributes`), which a Redis hash does not have.
        figures += try redisBenchmark(benchmark, port: port, tests: "hset", pipeline: 1, target: target, keyspace: 100)
        figures += try redisBenchmark(
            benchmark, port: port, tests: reads ? "set,get" : "set", pipeline: 16, target: target)
        for figure in figures {
            progress(
                "resp \(target) \(figure.test): \(fixed(figure.requestsPerSecond, 0)) req/s, "
                    + "p50 \(fixed(figure.p50, 3)) ms, p99 \(fixed(figure.p99, 3)) ms")
        }
        return figures
    }

    private func redisBenchmark(
        _ benchmark: String, port: UInt16, tests: String, pipeline: Int, target: String, keyspace: Int = 10_000
    ) throws -> [RESPFigure] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: benchmark)
        process.arguments = [
            "-h", "127.0.0.1", "-p", "\(port)", "-c", "\(Self.connections)", "-n", "\(requests * pipeline / 4 * 4)",
            "-P", "\(pipeline)", "-t", tests, "-r", "\(keyspace)", "--csv",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError("redis-benchmark against port \(port) exited with \(process.terminationStatus)")
        }
        var figures = [RESPFigure]()
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst() {
            let cells = line.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            guard cells.count >= 7, let rps = Double(cells[1]), let p50 = Double(cells[4]), let p99 = Double(cells[6])
            else { continue }
            let test = cells[0] + (pipeline > 1 ? " -P\(pipeline)" : "")
            figures.append(RESPFigure(target: target, test: test, requestsPerSecond: rps, p50: p50, p99: p99))
        }
        guard !figures.isEmpty else { throw BenchError("redis-benchmark printed no figures for port \(port)") }
        return figures
    }

    /// The Spring Session request cycle with the bench's own client (the same worker as the Redis baseline of
    /// section 5), at `connections` connections: cycles (of four commands) per second.
    private func springCycle(port: UInt16, target: String) throws -> RESPFigure {
        let runs = try (0..<profile.cycleRuns).map { index in
            try runLoad(
                threads: Self.connections, warmup: profile.warmupSeconds, measure: profile.cycleSeconds,
                make: { thread in try RedisCycleWorker(port: port, session: "resp-\(target)-\(index)-\(thread)") })
        }
        let figure = summarise(label: target, connections: Self.connections, runs)
        progress(
            "resp \(target) spring cycle: \(fixed(figure.cyclesPerSecond, 0)) cycles/s, p50 "
                + "\(fixed(figure.p50, 3)) ms, p99 \(fixed(figure.p99, 3)) ms")
        return RESPFigure(
            target: target, test: "spring cycle", requestsPerSecond: figure.cyclesPerSecond, p50: figure.p50,
            p99: figure.p99)
    }

    /// Waits until the primary reports `count` connected replicas, so the write figures include replication.
    private func waitForReplicas(_ port: UInt16, count: Int) throws {
        let deadline = Measure.seconds() + 10
        while Measure.seconds() < deadline {
            if let client = try? RESPClient(host: "127.0.0.1", port: port),
                case .bulk(let bytes?)? = try? client.call([Array("INFO".utf8), Array("replication".utf8)])
            {
                client.close()
                if String(decoding: bytes, as: UTF8.self).contains("connected_slaves:\(count)") { return }
            }
            Measure.sleep(0.05)
        }
        throw BenchError("redis replicas did not connect within 10 s")
    }
}
