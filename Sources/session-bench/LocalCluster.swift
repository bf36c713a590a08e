import Foundation

#if canImport(Glibc)
    import Glibc
#endif

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A cluster of `session-node run` processes on loopback: a generated cluster file (free ports, its own
/// multicast group and port, heartbeat 100 ms), nodes started and stopped by PID.
final class LocalCluster {
    let names: [String]
    let mode: String
    let ack: String
    /// Backup mode's `copies` when the file sets it (nil: the default, 2).
    let copies: Int?
    let configPath: String
    private(set) var httpAddress: [String: String] = [:]
    /// Each node's Redis-protocol port, when the cluster was made with `redis`.
    private(set) var redisPort: [String: UInt16] = [:]
    private(set) var processes: [String: ChildProcess] = [:]
    private let binary: String
    private let directory: String
    private var monitors: [String: HTTPClient] = [:]
    nonisolated(unsafe) private static var clusters = 0
    /// Failure-detector timeouts of every generated cluster (ms): 4× and 8× the 100 ms heartbeat, like the
    /// integration scenarios, unless `--membership-timeouts` says otherwise. Set once at start.
    nonisolated(unsafe) static var suspectMillis = 400
    nonisolated(unsafe) static var deadMillis = 800

    /// Writes the cluster file for `nodes + extra` nodes (the extra ones are started later, e.g. to join).
    /// `lagSampleMillis` > 0 makes the nodes stamp deltas so receivers measure replication lag themselves.
    /// `settings` adds top-level sections to the file (e.g. `persistence`, `sessions`).
    init(
        nodes: Int, extra: Int = 0, mode: String, ack: String, binary: String, directory: String,
        lagSampleMillis: Int = 0, redis: Bool = false, settings: [String: Any] = [:], copies: Int? = nil
    ) throws {
        let total = nodes + extra
        names = (1...total).map { "n\($0)" }
        self.mode = mode
        self.ack = ack
        self.copies = copies
        self.binary = binary
        self.directory = directory
        LocalCluster.clusters += 1
        let serial = LocalCluster.clusters
        let ports = freePorts(3 * total + 1)
        var nodeEntries = [[String: Any]]()
        for (index, name) in names.enumerated() {
            let http = "127.0.0.1:\(ports[total + index])"
            httpAddress[name] = http
            var entry: [String: Any] = ["name": name, "replication": "127.0.0.1:\(ports[index])", "http": http]
            if redis {
                redisPort[name] = ports[2 * total + index]
                entry["redis"] = "127.0.0.1:\(ports[2 * total + index])"
            }
            nodeEntries.append(entry)
        }
        let pid = Int(getpid())
        let group = "239.255.\(200 + (pid / 250 + serial) % 50).\(pid % 250 + 1)"
        var config: [String: Any] = [
            "cluster": "bench-\(pid)-\(serial)",
            "secret": "session-bench shared secret, 32+ characters long",
            "replication": ["mode": mode, "ack": ack, "lagSampleMillis": lagSampleMillis],
            "membership": [
                "multicast": ["group": group, "port": Int(ports[3 * total]), "interface": "127.0.0.1"],
                "heartbeatMillis": 100, "suspectAfterMillis": LocalCluster.suspectMillis,
                "deadAfterMillis": LocalCluster.deadMillis,
            ],
            "nodes": nodeEntries,
        ]
        if let copies {
            config["replication"] = ["mode": mode, "ack": ack, "lagSampleMillis": lagSampleMillis, "copies": copies]
        }
        config.merge(settings) { _, added in added }
        configPath = "\(directory)/cluster-\(serial)-\(mode)-\(ack).json"
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        guard FileManager.default.createFile(atPath: configPath, contents: data) else {
            throw BenchError("cannot write \(configPath)")
        }
    }

    deinit { stopAll() }

    /// `mode/ack`, and the copies when set: how figures of this cluster are labelled.
    var label: String { "\(mode)/\(ack)" + (copies.map { " k=\($0)" } ?? "") }

    /// The first `count` node names.
    func first(_ count: Int) -> [String] { Array(names.prefix(count)) }

    func address(_ name: String) -> String { httpAddress[name]! }

    /// Starts node `name` (a new incarnation if it ran before).
    @discardableResult
    func start(_ name: String) throws -> ChildProcess {
        if let old = processes[name], old.isRunning { throw BenchError("\(name) is already running") }
        let process = try ChildProcess(
            name: name, executable: binary,
            arguments: ["run", "--config", configPath, "--node", name, "--log-level", "info"],
            logPath: "\(configPath).\(name).log")
        processes[name] = process
        monitors.removeValue(forKey: name)?.close()
        return process
    }

    /// Starts `names` and waits until each sees exactly the others alive.
    func start(_ names: [String], timeout: Double = 20) throws {
        for name in names { try start(name) }
        try waitFormed(names, timeout: timeout)
    }

    /// Waits until every node of `names` sees exactly `names` alive.
    func waitFormed(_ names: [String], timeout: Double = 20) throws {
        let deadline = Measure.seconds() + timeout
        let wanted = names.sorted()
        while Measure.seconds() < deadline {
            if names.allSatisfy({ (try? alive($0)) == wanted }) { return }
            Measure.sleep(0.02)
        }
        let views = names.map { "\($0): \((try? alive($0))?.joined(separator: ",") ?? "no answer")" }
        throw BenchError("cluster \(wanted) did not form in \(Int(timeout)) s (\(views.joined(separator: "; ")))")
    }

    /// Node names `name` reports alive (itself included).
    func alive(_ name: String, client: HTTPClient? = nil) throws -> [String] {
        try members(name, client: client).filter { $0.state == "alive" }.map(\.name).sorted()
    }

    /// `/cluster/members` of `name`: each member's name, incarnation id and state.
    func members(_ name: String, client: HTTPClient? = nil) throws -> [(name: String, id: String, state: String)] {
        let answer = try (client ?? monitor(name)).request("GET", "/cluster/members")
        guard answer.status == 200,
            let object = try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any],
            let members = object["members"] as? [[String: Any]]
        else { throw BenchError("\(name): /cluster/members answered \(answer.status)") }
        return members.map {
            (($0["name"] as? String) ?? "?", ($0["id"] as? String) ?? "?", ($0["state"] as? String) ?? "?")
        }
    }

    /// `/cluster/stats` of `name`.
    func stats(_ name: String, client: HTTPClient? = nil) throws -> [String: Int] {
        let answer = try (client ?? monitor(name)).request("GET", "/cluster/stats")
        guard answer.status == 200,
            let object = try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
        else { throw BenchError("\(name): /cluster/stats answered \(answer.status)") }
        return object.compactMapValues { ($0 as? NSNumber)?.intValue }
    }

    /// The replication-lag histogram of `name` from `/metrics`: (upper bound µs, cumulative count) per bucket,
    /// the last bound `.infinity`.
    func lagHistogram(_ name: String) throws -> [(bound: Double, count: Int)] {
        let answer = try monitor(name).request("GET", "/metrics")
        guard answer.status == 200 else { throw BenchError("\(name): /metrics answered \(answer.status)") }
        var buckets = [(bound: Double, count: Int)]()
        for line in answer.text.split(separator: "\n")
        where line.hasPrefix("sessioncluster_replication_lag_seconds_bucket") {
            guard let start = line.range(of: "le=\""), let end = line[start.upperBound...].firstIndex(of: "\""),
                let count = Int(line.split(separator: " ").last ?? "")
            else { continue }
            let le = line[start.upperBound..<end]
            buckets.append((le == "+Inf" ? .infinity : (Double(le) ?? .infinity) * 1e6, count))
        }
        return buckets
    }

    /// Sum of a stats field over `names`.
    func total(_ field: String, over names: [String]) throws -> Int {
        try names.reduce(0) { $0 + (try stats($1)[field] ?? 0) }
    }

    /// A kept-alive client for the bench's own polling of `name` (main thread only).
    func monitor(_ name: String) -> HTTPClient {
        if let client = monitors[name] { return client }
        let client = HTTPClient(address: address(name))
        monitors[name] = client
        return client
    }

    /// Node names whose process runs.
    var running: [String] { names.filter { processes[$0]?.isRunning == true } }

    /// Stops every running node gracefully (SIGKILL after 10 s), closes the monitors.
    func stopAll() {
        for client in monitors.values { client.close() }
        monitors = [:]
        for process in processes.values where process.isRunning { kill(process.pid, SIGTERM) }
        for process in processes.values { process.stop(grace: 10) }
    }

    /// Removes the cluster file and logs (after a clean run; kept when something failed).
    func removeFiles() {
        for name in names { unlink("\(configPath).\(name).log") }
        unlink(configPath)
    }
}
