/// Section 5: the baseline — Redis used the way Spring Session uses it, at the same concurrency.
struct RedisBenchmarks {
    let profile: Profile
    let server: RedisServer

    /// All runs of the Redis cycle at `connections`, then their summary.
    func cycles(connections: Int) throws -> CycleFigure {
        var spent = CPUSample()
        let runs = try (0..<profile.cycleRuns).map { try run(connections: connections, index: $0, spent: &spent) }
        var figure = summarise(label: "redis", connections: connections, runs)
        spent.record(into: &figure)
        return figure
    }

    /// One run of the Redis cycle (used interleaved with ours); CPU spent is added to `spent`.
    func run(connections: Int, index: Int, spent: inout CPUSample) throws -> LoadOutcome {
        let port = server.port
        var before: CPUSample?
        let outcome = try runLoad(
            threads: connections, warmup: profile.warmupSeconds, measure: profile.cycleSeconds,
            atStart: { before = CPUSample(server: [server.process], serving: server.process) },
            make: { thread in try RedisCycleWorker(port: port, session: "c\(connections)r\(index)t\(thread)") })
        if let before {
            spent.add(
                from: before, to: CPUSample(server: [server.process], serving: server.process),
                cycles: outcome.totalCycles)
        }
        progress(
            "redis \(connections) conn run \(index + 1)/\(profile.cycleRuns): "
                + "\(fixed(outcome.cyclesPerSecond, 0)) cycles/s, p50 \(fixed(outcome.latency.p50, 3)) ms, "
                + "p99 \(fixed(outcome.latency.p99, 3)) ms\(outcome.errors > 0 ? ", \(outcome.errors) errors" : "")")
        return outcome
    }

    /// Resident memory of redis-server holding `count` Spring-Session-shaped hashes with a 1 KB attribute.
    func memory(count: Int) throws -> MemoryFigure {
        let client = try RESPClient(host: "127.0.0.1", port: server.port)
        defer { client.close() }
        try client.call([Array("FLUSHALL".utf8)])
        Measure.sleep(0.3)
        let baseline = server.process.residentKiB ?? 0
        let payload = [UInt8]((0..<1024).map { UInt8(0x41 + $0 % 26) })
        let now = Measure.wallMillis()
        var batch = [[[UInt8]]]()
        for index in 0..<count {
            let key = Array("spring:session:sessions:memory-\(index)".utf8)
            batch.append([
                Array("HSET".utf8), key, Array("creationTime".utf8), Array("\(now)".utf8),
                Array("maxInactiveInterval".utf8), Array("1800".utf8), Array("lastAccessedTime".utf8),
                Array("\(now)".utf8), Array("sessionAttr:user".utf8), Array("u\(index)".utf8),
                Array("sessionAttr:data".utf8), payload,
            ])
            batch.append([Array("PEXPIREAT".utf8), key, Array("\(now + 1_800_000)".utf8)])
            if batch.count >= 1_000 {
                try client.pipeline(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { try client.pipeline(batch) }
        Measure.sleep(0.3)
        let figure = MemoryFigure(
            label: "redis-server", sessions: count, baselineKiB: baseline, residentKiB: server.process.residentKiB ?? 0)
        try client.call([Array("FLUSHALL".utf8)])
        progress("redis: \(fixed(figure.bytesPerSession, 0)) bytes resident per 1 KB session (\(count) sessions)")
        return figure
    }
}
