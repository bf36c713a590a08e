import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One phase of section 11: the probe's request latencies and node 1's loop turns while it ran.
struct BigNodePhase: Sendable {
    var name: String
    var seconds: Double
    var latencies: LatencySummary?
    /// The p99 of the probe's `SET`s alone (ms).
    var writeP99: Double?
    var requests: Int
    /// Node 1's loop turns during the phase, and those over 5 ms.
    var turns: Int
    var turnsOver5ms: Int
    /// The upper bound of the highest loop-turn bucket that counted a turn in the phase (µs); nil past the last.
    var longestTurnBound: Int?
    /// Turns per histogram bucket (`LoopTurnBounds.micros`, then the longer ones).
    var turnBuckets: [Int] = []
    var note: String
}

/// Section 11's figures.
struct BigNodeFigure: Sendable {
    var sessions: Int
    var fillSeconds: Double
    var residentMiB: Double
    var bytesPerSession: Double
    var phases: [BigNodePhase]
}

/// Section 11 (issue 13): one real `session-node` process holding many sessions of 1 KB (5,000,000 with `--full`)
/// while a probe measures request latency: at rest, while a fifth of them expire and are swept, and while a second
/// node joins and receives all of them. Node 1's loop-turn histogram (`/cluster/stats`) gives the turns per phase.
///
/// The probe is one RESP connection sending a request every 2 ms (alternately `GET` and `SET` of a random held key:
/// the `SET` is a replicated write once the second node is there), timed from its send to its answer.
struct BigNodeBenchmarks {
    let profile: Profile
    let binary: String
    let directory: String
    let sessions: Int

    static let probeIntervalSeconds = 0.002
    static let restSeconds = 10.0
    /// The logins' sessions expire this long after their last access.
    static let maxInactiveSeconds = 20

    func run() throws -> BigNodeFigure {
        let expiring = sessions / 5
        let lasting = sessions - expiring
        let cluster = try LocalCluster(
            nodes: 1, extra: 1, mode: "delta", ack: "async", binary: binary, directory: directory, redis: true,
            settings: [
                "sessions": [
                    "maxSessions": sessions + sessions / 10 + 10_000, "maxInactiveSeconds": Self.maxInactiveSeconds,
                ]
            ])
        defer {
            cluster.stopAll()
            cluster.removeFiles()
        }
        try cluster.start(["n1"])
        let node = cluster.processes["n1"]!
        // n1 gets a core of its own; the joiner (niced) and this bench (fill, probe) stand for other machines on the
        // other.
        let pinned =
            sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2 && Self.pin(node.pid, cpu: 0) && Self.pin(getpid(), cpu: 1)
        // The probe's client thread (created below: it inherits this thread's nice) must not wait for the CPU
        // behind the joiner either (Linux's nice is per thread).
        let raised = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, -10) == 0
        progress(
            "bignode: "
                + (pinned ? "n1 pinned to CPU 0; the joiner (nice 19) and this bench to CPU 1" : "not pinned to CPUs")
                + (raised ? "; the probe at nice -10" : ""))
        let baseline = node.residentKiB ?? 0
        let port = cluster.redisPort["n1"]!

        let filled = try PersistenceBenchmarks.fill(port: port, count: lasting, seconds: 1_800)
        let stored = try cluster.stats("n1")["sessions"] ?? 0
        guard stored >= lasting else { throw BenchError("n1 holds \(stored) of \(lasting) keys after the fill") }
        let resident = node.residentKiB ?? 0
        let perSession = Double(resident - baseline) * 1024 / Double(lasting)
        progress(
            "bignode: n1 holds \(lasting) sessions of 1 KB after \(fixed(filled, 1)) s, "
                + "\(fixed(Double(resident) / 1024, 0)) MiB resident (\(fixed(perSession, 0)) B per session)")

        let probe = try Probe(port: port, keys: lasting)
        defer { probe.stop() }
        var phases = [BigNodePhase]()
        func measure(_ name: String, note: @escaping () -> String = { "" }, until done: () throws -> Bool) throws {
            let before = try cluster.stats("n1")
            let start = Measure.seconds()
            probe.begin()
            while try !done() { Measure.sleep(0.05) }
            let (latencies, writes) = probe.end()
            if let failure = probe.failure { throw BenchError("the probe failed in phase \(name): \(failure)") }
            let after = try cluster.stats("n1")
            phases.append(
                Self.phase(
                    name, seconds: Measure.seconds() - start, latencies: latencies, before: before, after: after,
                    note: note()))
            phases[phases.count - 1].writeP99 = writes.isEmpty ? nil : LatencySummary(nanos: writes).p99
            let last = phases.last!
            progress(
                "bignode: \(name): \(fixed(last.seconds, 1)) s, \(last.requests) requests, "
                    + "p99 \(last.latencies.map { fixed($0.p99, 3) } ?? "-") ms "
                    + "(SET \(last.writeP99.map { fixed($0, 3) } ?? "-") ms), "
                    + "\(last.turnsOver5ms) of \(last.turns) turns > 5 ms \(last.note); turns per bucket "
                    + "(≤ 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100 ms, more): "
                    + last.turnBuckets.map(String.init).joined(separator: " "))
        }

        let rest = profile.name == "full" ? Self.restSeconds : 3
        let restEnd = Measure.seconds() + rest
        try measure("at rest") { Measure.seconds() >= restEnd }

        // The expiring fifth: HTTP logins, whose sessions expire `maxInactiveSeconds` after their last access (the
        // keys above never expire by inactivity), swept by the core while the probe runs.
        let expiredBefore = try cluster.stats("n1")["sessions_expired"] ?? 0
        try measure("\(expiring) logins (HTTP)") {
            try Self.login(address: cluster.address("n1"), count: expiring, timeout: 1_800)
            return true
        }
        // Most of them expire after the logins: the last ones `maxInactiveSeconds` after the end.
        let sweepBound = Measure.seconds() + Double(Self.maxInactiveSeconds) + 300
        var expired = 0
        try measure(
            "sweep of the \(expiring) logins", note: { "(\(expired) expired)" },
            until: {
                expired = (try cluster.stats("n1")["sessions_expired"] ?? 0) - expiredBefore
                return expired >= expiring || Measure.seconds() > sweepBound
            })
        if expired < expiring { progress("bignode: only \(expired) of \(expiring) sessions expired in time") }

        // A second node joins and receives every held session (delta mode: a state transfer from n1): done when
        // it holds as many as n1 (tombstones of the expired logins included), or every key and no more for 2 s.
        let target = try cluster.stats("n1")["sessions"] ?? lasting
        let joiner = try cluster.start("n2")
        // Niced as well: on its own machine it would not delay the probe's client thread.
        if pinned { _ = Self.pin(joiner.pid, cpu: 1) }
        Self.renice(joiner.pid, 19)
        let joinBound = Measure.seconds() + max(120, Double(lasting) / 10_000)
        var held = 0
        var steady = (count: -1, since: Measure.seconds())
        try measure(
            "n2 joins and receives \(lasting)", note: { "(n2 holds \(held))" },
            until: {
                held = (try? cluster.stats("n2")["sessions"]) ?? 0
                if held != steady.count { steady = (held, Measure.seconds()) }
                let settled = held >= lasting && Measure.seconds() - steady.since >= 2
                return held >= target || settled || Measure.seconds() > joinBound
            })
        let figure = BigNodeFigure(
            sessions: lasting, fillSeconds: filled, residentMiB: Double(resident) / 1024,
            bytesPerSession: perSession, phases: phases)
        print(Self.table(figure))
        return figure
    }

    static func phase(
        _ name: String, seconds: Double, latencies: [UInt64], before: [String: Int], after: [String: Int],
        note: String
    ) -> BigNodePhase {
        var turns = 0
        var over = 0
        var longest: Int? = 0
        var buckets = [Int]()
        let bounds = LoopTurnBounds.micros
        for (index, bound) in (bounds.map { Optional($0) } + [nil]).enumerated() {
            let key = bound.map { "loop_turn_le_\($0)us" } ?? "loop_turn_over_\(bounds.last!)us"
            let count = (after[key] ?? 0) - (before[key] ?? 0)
            turns += count
            buckets.append(count)
            if index >= bounds.firstIndex(of: 5_000)! + 1 { over += count }
            if count > 0 { longest = bound }
        }
        return BigNodePhase(
            name: name, seconds: seconds, latencies: latencies.isEmpty ? nil : LatencySummary(nanos: latencies),
            requests: latencies.count, turns: turns, turnsOver5ms: over, longestTurnBound: longest,
            turnBuckets: buckets, note: note)
    }

    static func table(_ figure: BigNodeFigure) -> String {
        var lines = [
            "  n1 holds \(figure.sessions) sessions of 1 KB: filled in \(fixed(figure.fillSeconds, 1)) s, "
                + "\(fixed(figure.residentMiB, 0)) MiB resident, \(fixed(figure.bytesPerSession, 0)) B per session",
            "  phase                                      seconds  requests  p50 ms   p99 ms   max ms  turns >5 ms  "
                + "longest turn",
        ]
        for phase in figure.phases {
            let summary = phase.latencies
            let cells = [
                phase.name.padding(toLength: 42, withPad: " ", startingAt: 0),
                fixed(phase.seconds, 1).leftPadded(7),
                "\(phase.requests)".leftPadded(9),
                (summary.map { fixed($0.p50, 3) } ?? "-").leftPadded(7),
                (summary.map { fixed($0.p99, 3) } ?? "-").leftPadded(8),
                (summary.map { fixed($0.max, 1) } ?? "-").leftPadded(8),
                "\(phase.turnsOver5ms) of \(phase.turns)".leftPadded(12),
                phase.longestTurnBound.map { "≤ \(fixed(Double($0) / 1000, 1)) ms" } ?? "> 100 ms",
            ]
            lines.append("  " + cells.joined(separator: " ") + (phase.note.isEmpty ? "" : "  " + phase.note))
        }
        let measured = figure.phases.filter { $0.name.hasPrefix("sweep") || $0.name.hasPrefix("n2 joins") }
        let worstP99 = measured.compactMap { $0.latencies?.p99 }.max()
        let over = measured.reduce(0) { $0 + $1.turnsOver5ms }
        lines.append(
            "  targets (issue 13): request p99 ≤ 2 ms while swept and while a node joins: "
                + (worstP99.map { "\(fixed($0, 3)) ms, \($0 <= 2 ? "met" : "MISSED")" } ?? "no figure")
                + "; loop turns ≤ 5 ms: \(over == 0 ? "met" : "MISSED (\(over) over)")"
                + "; ≤ 1.2 KB per copy: \(fixed(figure.bytesPerSession, 0)) B, "
                + (figure.bytesPerSession <= 1_228.8 ? "met" : "MISSED"))
        return lines.joined(separator: "\n")
    }

    /// Sets the nice value of every thread of `pid`: Linux's nice is per thread, and a node's loops are threads
    /// started before anyone could renice the process (renicing the pid alone leaves them at 0).
    static func renice(_ pid: pid_t, _ nice: Int32) {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? ["\(pid)"]
        for task in tasks {
            guard let tid = id_t(task) else { continue }
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid, nice)
        }
    }

    /// Binds every thread of `pid` to `cpu` (`taskset -a -p -c`); false when that failed.
    static func pin(_ pid: pid_t, cpu: Int) -> Bool {
        guard let taskset = findOnPath("taskset"),
            let process = try? ChildProcess(
                name: "taskset", executable: taskset, arguments: ["-a", "-p", "-c", "\(cpu)", "\(pid)"],
                logPath: "/dev/null")
        else { return false }
        return process.wait(seconds: 10) == 0
    }

    /// `count` HTTP logins (`POST /login`, each a new session) over 4 keep-alive connections (a thread each).
    static func login(address: String, count: Int, timeout: Double) throws {
        let connections = 4
        let deadline = Measure.seconds() + timeout
        let failure = Mutex<String?>(nil)
        let done = DispatchGroup()
        for connection in 0..<connections {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                let client = HTTPClient(address: address)
                defer { client.close() }
                do {
                    var index = connection
                    while index < count {
                        guard Measure.seconds() < deadline else { throw BenchError("the logins ran out of time") }
                        client.clearCookies()
                        let answer = try client.request(
                            "POST", "/login", body: Array("user=u\(index)".utf8),
                            contentType: "application/x-www-form-urlencoded")
                        guard answer.status == 200 else { throw BenchError("login answered \(answer.status)") }
                        index += connections
                    }
                } catch {
                    failure.withLock { $0 = $0 ?? "\(error)" }
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        if done.wait(timeout: .now() + timeout + 60) == .timedOut { throw BenchError("the login threads did not end") }
        if let message = failure.withLock({ $0 }) { throw BenchError("logins failed: \(message)") }
    }

    /// A request every `probeIntervalSeconds` on one RESP connection, on its own thread, recording latencies
    /// between `begin` and `end`.
    final class Probe: Sendable {
        private struct State {
            var recording = false
            var latencies: [UInt64] = []
            /// Of `latencies`, the `SET`s' (the others are `GET`s).
            var writes: [UInt64] = []
            var stopped = false
            var failure: String?
        }
        private let state = Mutex(State())
        private let finished = DispatchSemaphore(value: 0)

        init(port: UInt16, keys: Int) throws {
            // Connected here, so a refused connection fails the section at once; handed to the probe's thread.
            nonisolated(unsafe) let client = try RESPClient(host: "127.0.0.1", port: port)
            let value = PersistenceBenchmarks.payload(seed: 17)
            let thread = Thread { [self] in
                defer {
                    client.close()
                    finished.signal()
                }
                var random = UInt64(0x9E37_79B9_7F4A_7C15)
                var sent = 0
                var next = Measure.seconds()
                while !state.withLock({ $0.stopped }) {
                    random ^= random << 13
                    random ^= random >> 7
                    random ^= random << 17
                    let key = Array("sess:\(Int(random % UInt64(keys)))".utf8)
                    let command = sent % 2 == 1 ? [Array("SET".utf8), key, value] : [Array("GET".utf8), key]
                    let start = Measure.nanos()
                    do {
                        try client.call(command)
                    } catch {
                        state.withLock { $0.failure = $0.failure ?? "\(error)" }
                        return
                    }
                    let latency = Measure.nanos() - start
                    sent += 1
                    let write = sent % 2 == 1
                    state.withLock {
                        guard $0.recording else { return }
                        $0.latencies.append(latency)
                        if write { $0.writes.append(latency) }
                    }
                    next += BigNodeBenchmarks.probeIntervalSeconds
                    let wait = next - Measure.seconds()
                    if wait > 0 { Measure.sleep(wait) } else { next = Measure.seconds() }
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }

        func begin() { state.withLock { $0.recording = true } }

        /// The latencies recorded since `begin`, in nanoseconds: every request's, and the writes' alone.
        func end() -> (all: [UInt64], writes: [UInt64]) {
            state.withLock { state in
                state.recording = false
                defer {
                    state.latencies = []
                    state.writes = []
                }
                return (state.latencies, state.writes)
            }
        }

        var failure: String? { state.withLock { $0.failure } }

        func stop() {
            let wasRunning = state.withLock { state in
                defer { state.stopped = true }
                return !state.stopped
            }
            if wasRunning { _ = finished.wait(timeout: .now() + 10) }
        }
    }
}

/// The node's loop-turn histogram bounds (µs), as `/cluster/stats` names its `loop_turn_le_<bound>us` fields.
enum LoopTurnBounds {
    static let micros = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000]
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

extension Report {
    /// Section 11's goals (issue 13): request p99 and loop turns while swept and joined, memory per copy.
    var bigNodeTargets: [Target] {
        guard let figure = bigNode else { return [] }
        let loaded = figure.phases.filter { $0.name.hasPrefix("sweep") || $0.name.hasPrefix("n2 joins") }
        let p99s = loaded.map { "\($0.name): \($0.latencies.map { fixed($0.p99, 3) } ?? "-") ms" }
        let worst = loaded.compactMap { $0.latencies?.p99 }.max()
        let over = loaded.reduce(0) { $0 + $1.turnsOver5ms }
        let turns = loaded.map { "\($0.turnsOver5ms) of \($0.turns)" }
        return [
            Target(
                goal: "a node holding \(figure.sessions) sessions of 1 KB: request p99 ≤ 2 ms while swept and joined",
                measured: p99s.joined(separator: "; "), met: worst.map { $0 <= 2 }),
            Target(
                goal: "… its longest loop turn ≤ 5 ms while swept and joined",
                measured: "turns over 5 ms: \(turns.joined(separator: ", "))", met: loaded.isEmpty ? nil : over == 0),
            Target(
                goal: "… ≤ 1.2 KB resident per 1 KB session (the whole process)",
                measured: "\(fixed(figure.bytesPerSession, 0)) B per session", met: figure.bytesPerSession <= 1_228.8),
        ]
    }
}
