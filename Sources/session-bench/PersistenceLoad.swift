import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Section 7b: start-up time with many 1 KB keys on disk — a node's `snapshot` beside Redis's RDB.
extension PersistenceBenchmarks {
    /// Fills one node with `count` keys (pipelined `SET`s on its RESP port), stops it with SIGTERM (it writes its
    /// snapshot), starts it again: `snapshot_load_ms`, the wall time to its first answer and until DBSIZE shows
    /// every key again, the file's size.
    func nodeLoad(count: Int, fillSeconds: Double) throws -> PersistenceLoadFigure {
        let home = "\(directory)/persist-load"
        let cluster = try LocalCluster(
            nodes: 1, mode: "delta", ack: "async", binary: binary, directory: directory, redis: true,
            settings: [
                "persistence": ["directory": home, "mode": "snapshot"],
                "sessions": ["maxSessions": count + count / 10 + 1_000],
            ])
        defer {
            cluster.processes["n1"]?.killHard()  // a snapshot of what was already measured is not needed
            cluster.stopAll()
            try? FileManager.default.removeItem(atPath: home)
        }
        if let refusal = try Self.startNode(cluster, timeout: 30) { throw BenchError("node snapshot: \(refusal)") }
        let port = cluster.redisPort["n1"]!
        let filled = try Self.fill(port: port, count: count, seconds: fillSeconds)
        let held = try Self.dbsize(port: port)
        let resident = Double(cluster.processes["n1"]?.residentKiB ?? 0) / 1024
        progress("persistence: node holds \(held) keys of 1 KB after \(fixed(filled, 1)) s (\(fixed(resident, 0)) MiB)")
        let stopping = Measure.seconds()
        cluster.processes["n1"]!.signal(SIGTERM)
        guard cluster.processes["n1"]!.wait(seconds: 300) != nil else {
            throw BenchError("node did not stop within 300 s of SIGTERM with \(held) keys")
        }
        let saved = Measure.seconds() - stopping
        let fileBytes = Self.fileSize("\(home)/n1/sessions.snapshot")
        let began = Measure.seconds()
        if let refusal = try Self.startNode(cluster, timeout: 120) { throw BenchError("node restart: \(refusal)") }
        let answered = Measure.seconds() - began
        let holdsAll = try Self.waitHeld(port: port, count: held, since: began, timeout: 60)
        let stats = try cluster.stats("n1")
        let figure = PersistenceLoadFigure(
            target: "node snapshot", requested: count, held: held, fillSeconds: filled, saveSeconds: saved,
            fileBytes: fileBytes, loadMillis: stats["snapshot_load_ms"].map(Double.init), answerSeconds: answered,
            holdsAllSeconds: holdsAll, restored: stats["snapshot_sessions_restored"] ?? 0, residentMiB: resident)
        progress(
            "persistence: node snapshot of \(held) keys: written in \(fixed(saved, 2)) s on SIGTERM, "
                + "\(fixed(Double(fileBytes) / 1e6, 0)) MB; restart: snapshot_load_ms \(stats["snapshot_load_ms"] ?? -1), "
                + "answers after \(fixed(answered, 2)) s, holds all after \(holdsAll.map { fixed($0, 2) } ?? "–") s")
        return figure
    }

    /// Fills a redis-server with the same keys and values, BGSAVE, stops it (no save on shutdown), starts a new one
    /// on the same directory: its own "DB loaded from disk" figure, the wall time until it answers PING with PONG
    /// and `loading:0`, the RDB's size. Nil without redis-server.
    func redisLoad(count: Int, fillSeconds: Double) throws -> PersistenceLoadFigure? {
        guard redis else { return nil }
        let home = "\(directory)/redis-rdb"
        mkdir(home, 0o700)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let settings = ["--dbfilename", "bench.rdb", "--loglevel", "notice"]
        guard let first = try RedisServer.startIfInstalled(directory: home, settings: settings) else { return nil }
        defer { first.stop() }
        let filled = try Self.fill(port: first.port, count: count, seconds: fillSeconds)
        let held = try Self.dbsize(port: first.port)
        let resident = Double(first.process.residentKiB ?? 0) / 1024
        let saving = Measure.seconds()
        let client = try RESPClient(host: "127.0.0.1", port: first.port)
        defer { client.close() }
        try client.call([Array("BGSAVE".utf8)])
        let saveDeadline = saving + 300
        while try !Self.info(client, "persistence").contains("rdb_bgsave_in_progress:0") {
            guard Measure.seconds() < saveDeadline else { throw BenchError("redis BGSAVE took over 300 s") }
            Measure.sleep(0.01)
        }
        let saved = Measure.seconds() - saving
        guard try Self.info(client, "persistence").contains("rdb_last_bgsave_status:ok") else {
            throw BenchError("redis BGSAVE failed (log: \(first.process.logPath))")
        }
        client.close()
        first.stop()
        let fileBytes = Self.fileSize("\(home)/bench.rdb")
        let began = Measure.seconds()
        guard let second = try RedisServer.startIfInstalled(directory: home, settings: settings, timeout: 120) else {
            return nil
        }
        defer { second.stop() }
        let probe = try RESPClient(host: "127.0.0.1", port: second.port)
        defer { probe.close() }
        while try !Self.info(probe, "persistence").contains("loading:0") {
            guard Measure.seconds() < began + 120 else { throw BenchError("redis still loading after 120 s") }
            Measure.sleep(0.01)
        }
        let answered = Measure.seconds() - began
        let restored = try Self.dbsize(port: second.port)
        // "DB loaded from disk: 0.812 seconds" (notice level).
        let log = readFile(second.process.logPath) ?? ""
        let loadMillis = log.split(separator: "\n").last { $0.contains("DB loaded from disk:") }
            .flatMap { line in line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) } }
            .map { $0 * 1000 }
        progress(
            "persistence: redis RDB of \(held) keys: BGSAVE \(fixed(saved, 2)) s, "
                + "\(fixed(Double(fileBytes) / 1e6, 0)) MB; restart: loaded in \(loadMillis.map { fixed($0, 0) } ?? "?") "
                + "ms (its log), answers after \(fixed(answered, 2)) s")
        return PersistenceLoadFigure(
            target: "redis RDB", requested: count, held: held, fillSeconds: filled, saveSeconds: saved,
            fileBytes: fileBytes, loadMillis: loadMillis, answerSeconds: answered, holdsAllSeconds: answered,
            restored: restored, residentMiB: resident)
    }

    // MARK: Helpers

    /// Writes keys `sess:0` … `sess:<count-1>` with 1 KB values, pipelined in batches of 256 over 4 connections
    /// (each its own thread); stops early after `seconds`. Returns the seconds it took.
    static func fill(port: UInt16, count: Int, seconds: Double) throws -> Double {
        let connections = 4
        let batch = 256
        let template = payload(seed: 11)
        let began = Measure.seconds()
        let deadline = began + seconds
        let failure = Mutex<String?>(nil)
        let done = DispatchGroup()
        for connection in 0..<connections {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                do {
                    let client = try RESPClient(host: "127.0.0.1", port: port)
                    defer { client.close() }
                    let set = Array("SET".utf8)
                    var commands = [[[UInt8]]]()
                    commands.reserveCapacity(batch)
                    var index = connection
                    while index < count && Measure.seconds() < deadline {
                        commands.removeAll(keepingCapacity: true)
                        while commands.count < batch && index < count {
                            var value = template
                            let stamp = Array("\(index):".utf8)
                            value.replaceSubrange(0..<stamp.count, with: stamp)
                            commands.append([set, Array("sess:\(index)".utf8), value])
                            index += connections
                        }
                        try client.pipeline(commands)
                    }
                } catch {
                    failure.withLock { $0 = $0 ?? "\(error)" }
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        if done.wait(timeout: .now() + seconds + 60) == .timedOut { throw BenchError("the fill threads did not end") }
        if let message = failure.withLock({ $0 }) { throw BenchError("fill failed: \(message)") }
        return Measure.seconds() - began
    }

    static func dbsize(port: UInt16) throws -> Int {
        let client = try RESPClient(host: "127.0.0.1", port: port)
        defer { client.close() }
        guard case .integer(let count) = try client.call([Array("DBSIZE".utf8)]) else {
            throw BenchError("DBSIZE did not answer an integer")
        }
        return Int(count)
    }

    /// Polls DBSIZE until it reaches `count`; seconds since `since`, nil when it did not within `timeout`.
    static func waitHeld(port: UInt16, count: Int, since: Double, timeout: Double) throws -> Double? {
        while Measure.seconds() < since + timeout {
            if (try? dbsize(port: port)) ?? 0 >= count { return Measure.seconds() - since }
            Measure.sleep(0.01)
        }
        return nil
    }

    static func info(_ client: RESPClient, _ section: String) throws -> String {
        guard case .bulk(let bytes?) = try client.call([Array("INFO".utf8), Array(section.utf8)]) else {
            throw BenchError("INFO \(section) did not answer a bulk string")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func fileSize(_ path: String) -> Int {
        var status = stat()
        return stat(path, &status) == 0 ? Int(status.st_size) : 0
    }
}
