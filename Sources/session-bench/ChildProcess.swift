import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A process the bench started (a node or redis-server), by PID. Only these are ever signalled.
final class ChildProcess: Sendable {
    let pid: pid_t
    let name: String
    /// Where its stdout and stderr go.
    let logPath: String
    private let reaped = Mutex<Int32?>(nil)

    /// Every child still running, so an interrupted bench can stop exactly what it started.
    static let running = Mutex<[pid_t: String]>([:])

    /// Starts `executable` with `arguments`, output appended to `logPath`.
    init(name: String, executable: String, arguments: [String], logPath: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let status = argv.withUnsafeBufferPointer { pointer in
            posix_spawn(&pid, executable, &actions, nil, pointer.baseAddress!, environ)
        }
        guard status == 0 else { throw SocketError(call: "posix_spawn(\(executable))", code: status) }
        self.pid = pid
        self.name = name
        self.logPath = logPath
        ChildProcess.running.withLock { $0[pid] = name }
    }

    /// Whether the process has not exited (reaps it if it has).
    var isRunning: Bool { exitStatus(wait: false) == nil }

    /// Sends `signal` if the process still runs.
    func signal(_ number: Int32) {
        if isRunning { kill(pid, number) }
    }

    /// Waits up to `seconds` for the exit; returns the raw wait status, nil on timeout.
    @discardableResult
    func wait(seconds: Double) -> Int32? {
        let deadline = Measure.seconds() + seconds
        while true {
            if let status = exitStatus(wait: false) { return status }
            if Measure.seconds() > deadline { return nil }
            Measure.sleep(0.002)
        }
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; always reaps.
    func stop(grace: Double = 10) {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        if wait(seconds: grace) == nil {
            kill(pid, SIGKILL)
            wait(seconds: 10)
        }
    }

    /// SIGKILL at once, then reap.
    func killHard() {
        guard isRunning else { return }
        kill(pid, SIGKILL)
        wait(seconds: 10)
    }

    /// Resident memory in KiB (VmRSS of /proc/PID/status); nil when unreadable.
    var residentKiB: Int? {
        guard let text = readFile("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    /// CPU time used so far (user + system, every thread), in microseconds; nil when unreadable.
    var cpuMicros: Int? { ChildProcess.cpuMicros(pid: pid) }

    /// Context switches so far (voluntary + involuntary) summed over the live threads.
    var contextSwitches: Int { ChildProcess.contextSwitches(pid: pid) }

    static func cpuMicros(pid: pid_t) -> Int? {
        // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
        guard let text = readFile("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return (user + system) * 1_000_000 / Int(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func contextSwitches(pid: pid_t) -> Int {
        guard let directory = opendir("/proc/\(pid)/task") else { return 0 }
        defer { closedir(directory) }
        var total = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.first?.isNumber == true, let text = readFile("/proc/\(pid)/task/\(name)/status") else {
                continue
            }
            for line in text.split(separator: "\n")
            where line.hasPrefix("voluntary_ctxt_switches:") || line.hasPrefix("nonvoluntary_ctxt_switches:") {
                total += Int(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
            }
        }
        return total
    }

    private func exitStatus(wait blocking: Bool) -> Int32? {
        reaped.withLock { reaped in
            if let status = reaped { return status }
            var status: Int32 = 0
            let result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            guard result == pid else { return result < 0 && errno == ECHILD ? -1 : nil }
            reaped = status
            ChildProcess.running.withLock { _ = $0.removeValue(forKey: pid) }
            return status
        }
    }

    /// Stops every child still running (on an interrupt): SIGTERM, a short grace, then SIGKILL.
    static func stopAll() {
        let pids = running.withLock { Array($0.keys) }
        for pid in pids { kill(pid, SIGTERM) }
        let deadline = Measure.seconds() + 5
        var left = Set(pids)
        while !left.isEmpty && Measure.seconds() < deadline {
            for pid in left {
                var status: Int32 = 0
                let result = waitpid(pid, &status, WNOHANG)
                if result == pid || (result < 0 && errno == ECHILD) { left.remove(pid) }
            }
            Measure.sleep(0.01)
        }
        for pid in left {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        running.withLock { $0.removeAll() }
    }
}

/// The whole file as text (small /proc files and logs); nil when it cannot be read.
func readFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count <= 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Whether an executable named `name` is on PATH; its path if so.
func findOnPath(_ name: String) -> String? {
    let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
}
