import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Section 7b: start-up time with many 1 KB keys on disk — a node's `snapshot` beside Redis's RDB.
extension PersistenceBenchmarks {
    /// Fills one node with `count` keys (pipelined `SET`s on its RESP port), stops it, starts it again: the load
    /// figure the node reports, the wall time to its first answer and until `/cluster/stats` counts every key
    /// again, the size of its files. `log: false`: `snapshot` mode, stopped with SIGTERM (it writes its snapshot).
    /// `log: true`: `log`/`everysec`, killed with SIGKILL right after the fill (every answered write is in the log:
    /// it is appended before the answer is sent), so the start reads the last compaction's snapshot and replays the
    /// log segments written since; a node that refuses `log` gives a figure with `skipped` set.
    func nodeLoad(count: Int, fillSeconds: Double, log: Bool = false) throws -> PersistenceLoadFigure {
        let target = log ? "node log, kill -9" : "node snapshot"
        let home = "\(directory)/persist-load-\(log ? "log" : "snapshot")"
        let cluster = try LocalCluster(
            nodes: 1, mode: "delta", ack: "async", binary: binary, directory: directory, redis: true,
            settings: [
                "persistence": ["directory": home, "mode": log ? "log" : "snapshot", "fsync": "everysec"],
                "sessions": ["maxSessions": count + count / 10 + 1_000],
            ])
        defer {
            cluster.processes["n1"]?.killHard()  // a snapshot of what was already measured is not needed
            cluster.stopAll()
            try? FileManager.default.removeItem(atPath: home)
        }
        if let refusal = try Self.startNode(cluster, timeout: 30) {
            progress("persistence: \(target): \(refusal)")
            return PersistenceLoadFigure(
                target: target, requested: count, held: 0, fillSeconds: 0, saveSeconds: nil, fileBytes: 0,
                answerSeconds: 0, restored: 0, residentMiB: 0, skipped: refusal)
        }
        let port = cluster.redisPort["n1"]!
        let filled = try Self.fill(port: port, count: count, seconds: fillSeconds)
        // `sessions` of /cluster/stats, not DBSIZE: the node's DBSIZE walks every key (1.8 s at 1,000,000 here).
        let held = try cluster.stats("n1")["sessions"] ?? 0
        let resident = Double(cluster.processes["n1"]?.residentKiB ?? 0) / 1024
        progress("persistence: node holds \(held) keys of 1 KB after \(fixed(filled, 1)) s (\(fixed(resident, 0)) MiB)")
        let stopping = Measure.seconds()
        if log {
            cluster.processes["n1"]!.killHard()
        } else {
            cluster.processes["n1"]!.signal(SIGTERM)
            guard cluster.processes["n1"]!.wait(seconds: 300) != nil else {
                throw BenchError("node did not stop within 300 s of SIGTERM with \(held) keys")
            }
        }
        let saved = log ? nil : Measure.seconds() - stopping
        let fileBytes = Self.directorySize("\(home)/n1")
        let began = Measure.seconds()
        if let refusal = try Self.startNode(cluster, timeout: 120) { throw BenchError("node restart: \(refusal)") }
        let answered = Measure.seconds() - began
        var holdsAll: Double?
        var stats = [String: Int]()
        while Measure.seconds() < began + (log ? 30 : 120) {
            stats = try cluster.stats("n1")
            if stats["sessions"] ?? 0 >= held {
                holdsAll = Measure.seconds() - began
                break
            }
            Measure.sleep(0.01)
        }
        // `snapshot_load_ms` covers reading the snapshot, replaying the log segments (log mode) and installing.
        let loadMillis = stats["snapshot_load_ms"].map(Double.init)
        let replayed = stats["log_sessions_replayed"] ?? 0
        let figure = PersistenceLoadFigure(
            target: target, requested: count, held: held, fillSeconds: filled, saveSeconds: saved,
            fileBytes: fileBytes, loadMillis: loadMillis, answerSeconds: answered, holdsAllSeconds: holdsAll,
            restored: stats["sessions"] ?? 0, replayed: replayed, residentMiB: resident)
        progress(
            "persistence: \(target), \(held) keys: \(saved.map { "written in \(fixed($0, 2)) s on SIGTERM" } ?? "killed"), "
                + "\(fixed(Double(fileBytes) / 1e6, 0)) MB on disk; restart: load \(loadMillis.map { fixed($0, 0) } ?? "?") ms, "
                + "answers after \(fixed(answered, 2)) s, holds all after \(holdsAll.map { fixed($0, 2) } ?? "–") s "
                + "(\(figure.restored) sessions\(replayed > 0 ? ", \(replayed) copies replayed from the log" : ""))")
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

    /// Bytes of the regular files in `path` and its subdirectories (a node's persistence files, whatever their
    /// names).
    static func directorySize(_ path: String) -> Int {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total = 0
        while let name = walker.nextObject() as? String { total += fileSize("\(path)/\(name)") }
        return total
    }
}
