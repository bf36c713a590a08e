#if canImport(Glibc)
    import Glibc
#endif

/// A `redis-server` the bench starts on loopback (free port, no persistence) and stops, by PID.
final class RedisServer {
    let process: ChildProcess
    let port: UInt16

    /// Starts redis-server from PATH; nil when it is not installed. With `replicaOf`, a replica of that port.
    /// `settings` (command-line options such as `--appendonly yes`) come last, so they override the defaults.
    /// Returns once it answers PING with PONG (not `-LOADING`), within `timeout` seconds.
    static func startIfInstalled(
        directory: String, replicaOf: UInt16? = nil, settings: [String] = [], timeout: Double = 10
    ) throws -> RedisServer? {
        guard let executable = findOnPath("redis-server") else { return nil }
        return try RedisServer(
            executable: executable, directory: directory, replicaOf: replicaOf, settings: settings, timeout: timeout)
    }

    private init(
        executable: String, directory: String, replicaOf: UInt16?, settings: [String], timeout: Double
    ) throws {
        port = freePorts(1)[0]
        process = try ChildProcess(
            name: "redis-server", executable: executable,
            arguments: [
                "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory,
                "--daemonize", "no", "--loglevel", "warning", "--dbfilename", "dump-\(port).rdb",
            ] + (replicaOf.map { ["--replicaof", "127.0.0.1", "\($0)"] } ?? []) + settings,
            logPath: "\(directory)/redis-\(port).log")
        let deadline = Measure.seconds() + timeout
        while true {
            if let client = try? RESPClient(host: "127.0.0.1", port: port),
                (try? client.call([Array("PING".utf8)])) == .simple("PONG")
            {
                client.close()
                return
            }
            guard process.isRunning, Measure.seconds() < deadline else {
                process.killHard()
                throw BenchError(
                    "redis-server did not answer PING on port \(port) (log: \(directory)/redis-\(port).log)")
            }
            Measure.sleep(0.01)
        }
    }

    /// Version string from INFO server.
    func version() -> String {
        guard let client = try? RESPClient(host: "127.0.0.1", port: port),
            case .bulk(let bytes?)? = try? client.call([Array("INFO".utf8), Array("server".utf8)])
        else { return "?" }
        client.close()
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\r\n") where line.hasPrefix("redis_version:") {
            return String(line.dropFirst("redis_version:".count))
        }
        return "?"
    }

    func stop() { process.stop(grace: 10) }
}
