import Foundation
import Synchronization

/// How long every peer took to drop a stopped node, per repetition.
struct DetectionFigure: Sendable {
    var kind: String
    var runs: [Double]
    var median: Double { Measure.median(runs) }
    var max: Double { runs.max() ?? 0 }
}

/// A new node joining a cluster that holds `sessions` sessions of ~1 KB.
struct JoinFigure: Sendable {
    var sessions: Int
    /// Whether the new node held every session within the bound (`seconds` is then the bound).
    var completed: Bool
    /// Sessions it held at the end.
    var held: Int
    /// "is suspect" log lines of every node during the join: membership flapping while the transfer ran.
    var suspectEvents: Int
    /// Seconds from launching the process until its `/cluster/stats` "sessions" reached the count.
    var seconds: Double
    /// Seconds until it first answered HTTP at all.
    var firstAnswerSeconds: Double
    /// Sampled sessions the new node served with their own cookies (token included), of `sampled`.
    var served: Int
    var sampled: Int
}

/// Resident memory per session copy.
struct MemoryFigure: Sendable {
    var label: String
    var sessions: Int
    var baselineKiB: Int
    var residentKiB: Int
    var bytesPerSession: Double { Double(residentKiB - baselineKiB) * 1024 / Double(sessions) }
    var mibPer100k: Double { bytesPerSession * 100_000 / 1_048_576 }
}

/// Sections 3 and 4: failure detection, state transfer to a new node, memory per session.
struct FaultBenchmarks {
    let profile: Profile
    let binary: String
    let directory: String

    /// kill -9 and graceful leave (SIGTERM) of n3 in a 3-node delta cluster: ms until n1 and n2 both no
    /// longer list that incarnation as alive or suspect (polling `/cluster/members`).
    func detection() throws -> [DetectionFigure] {
        let cluster = try LocalCluster(nodes: 3, mode: "delta", ack: "async", binary: binary, directory: directory)
        defer { cluster.stopAll() }
        let names = cluster.first(3)
        try cluster.start(names)
        var figures = [DetectionFigure]()
        for (kind, signal) in [("kill -9", SIGKILL), ("graceful leave (SIGTERM)", SIGTERM)] {
            var runs = [Double]()
            for run in 0..<profile.detectionRuns {
                try cluster.waitFormed(names)
                Measure.sleep(0.3)
                let victim = cluster.processes["n3"]!
                guard let victimID = try cluster.members("n3").first(where: { $0.name == "n3" })?.id else {
                    throw BenchError("n3 does not list itself")
                }
                let watchers = ["n1", "n2"].map { HTTPClient(address: cluster.address($0)) }
                defer { for client in watchers { client.close() } }
                var dropped = [Double?](repeating: nil, count: watchers.count)
                let began = Measure.nanos()
                kill(victim.pid, signal)
                let deadline = began + 10_000_000_000
                while dropped.contains(where: { $0 == nil }) && Measure.nanos() < deadline {
                    for (index, client) in watchers.enumerated() where dropped[index] == nil {
                        let members = try cluster.members(index == 0 ? "n1" : "n2", client: client)
                        let entry = members.first { $0.id == victimID }
                        if entry == nil || !(entry!.state == "alive" || entry!.state == "suspect") {
                            dropped[index] = Double(Measure.nanos() - began) / 1e6
                        }
                    }
                    Measure.sleep(0.0005)
                }
                guard dropped.allSatisfy({ $0 != nil }) else { throw BenchError("\(kind): n3 not dropped in 10 s") }
                let millis = dropped.compactMap { $0 }.max()!
                runs.append(millis)
                progress(
                    "\(kind) run \(run + 1)/\(profile.detectionRuns): every peer dropped n3 in \(fixed(millis, 1)) ms")
                victim.wait(seconds: 15)
                if victim.isRunning { victim.killHard() }
                try cluster.start("n3")
            }
            figures.append(DetectionFigure(kind: kind, runs: runs))
        }
        cluster.stopAll()
        cluster.removeFiles()
        return figures
    }

    /// Builds a 3-node delta cluster holding each count of `profile.joinCounts` sessions of ~1 KB (created through
    /// n1, 8 connections), measures resident memory per copy, and launches a new node for each count, timing how
    /// long until it holds every session (bounded by `joinBoundSeconds`). Figures are handed over as they are
    /// measured, so a later failure does not lose them.
    func joinAndMemory(
        joinBoundSeconds: Double = 60, onJoin: (JoinFigure) -> Void, onMemory: (MemoryFigure) -> Void
    ) throws {
        let counts = profile.joinCounts
        let cluster = try LocalCluster(
            nodes: 3, extra: counts.count, mode: "delta", ack: "async", binary: binary, directory: directory)
        defer { cluster.stopAll() }
        var members = cluster.first(3)
        try cluster.start(members)
        Measure.sleep(1.0)
        let baseline = members.compactMap { cluster.processes[$0]?.residentKiB }
        let emptyNode = Int(Measure.median(baseline.map(Double.init)))
        progress("empty-node resident memory: \(baseline.map { "\($0 / 1024) MiB" }.joined(separator: ", "))")
        var cookies = [(String, String)]()
        var joinedAt = [String: Int]()
        for (index, count) in counts.enumerated() {
            let began = Measure.seconds()
            cookies += try createSessions(
                count: count - cookies.count, firstUser: cookies.count, address: cluster.address("n1"))
            progress(
                "created \(count) sessions of 1 KB through n1 in \(fixed(Measure.seconds() - began, 1)) s "
                    + "(login + PUT each)")
            try waitHolding(count, nodes: members, cluster: cluster, timeout: 120)
            Measure.sleep(0.5)
            for name in members {
                guard let resident = cluster.processes[name]?.residentKiB else { continue }
                let role: String
                if name == "n1" {
                    role = "n1 (served the HTTP writes)"
                } else if let joined = joinedAt[name] {
                    role = "\(name) (\(joined) by transfer, the rest from deltas)"
                } else {
                    role = "\(name) (copy built from deltas)"
                }
                onMemory(MemoryFigure(label: role, sessions: count, baselineKiB: emptyNode, residentKiB: resident))
            }
            let joiner = "n\(4 + index)"
            let suspectsBefore = suspectLines(cluster)
            let launched = Measure.seconds()
            try cluster.start(joiner)
            let monitor = HTTPClient(address: cluster.address(joiner))
            defer { monitor.close() }
            var firstAnswer: Double?
            var held = 0
            let deadline = launched + joinBoundSeconds
            while Measure.seconds() < deadline {
                if let stats = try? cluster.stats(joiner, client: monitor) {
                    if firstAnswer == nil { firstAnswer = Measure.seconds() - launched }
                    held = stats["sessions"] ?? 0
                    if held >= count { break }
                } else {
                    monitor.close()
                }
                Measure.sleep(0.002)
            }
            let seconds = Measure.seconds() - launched
            let flaps = suspectLines(cluster) - suspectsBefore
            guard held >= count else {
                onJoin(
                    JoinFigure(
                        sessions: count, completed: false, held: held, suspectEvents: flaps, seconds: seconds,
                        firstAnswerSeconds: firstAnswer ?? seconds, served: 0, sampled: 0))
                progress(
                    "\(joiner) DID NOT hold \(count) sessions within \(fixed(joinBoundSeconds, 0)) s (held \(held); "
                        + "\(flaps) suspect events in the nodes' logs meanwhile)")
                cluster.processes[joiner]?.stop()
                continue
            }
            // It serves them: a sample read with each session's own cookies (id and version token).
            let reader = HTTPClient(address: cluster.address(joiner))
            defer { reader.close() }
            var served = 0
            var generator = SystemRandomNumberGenerator()
            let sampled = min(200, cookies.count)
            for _ in 0..<sampled {
                let (id, version) = cookies[Int.random(in: 0..<cookies.count, using: &generator)]
                reader.clearCookies()
                reader.setCookie("SESSIONID", id)
                reader.setCookie("SESSIONVERSION", version)
                if try reader.request("GET", "/session").status == 200 { served += 1 }
            }
            onJoin(
                JoinFigure(
                    sessions: count, completed: true, held: held, suspectEvents: flaps, seconds: seconds,
                    firstAnswerSeconds: firstAnswer ?? seconds, served: served, sampled: sampled))
            progress(
                "\(joiner) joined and held \(count) sessions \(fixed(seconds, 2)) s after launch "
                    + "(first answer after \(fixed(firstAnswer ?? 0, 2)) s); served \(served)/\(sampled) sampled")
            members.append(joiner)
            joinedAt[joiner] = count
            Measure.sleep(0.5)
            if let resident = cluster.processes[joiner]?.residentKiB {
                onMemory(
                    MemoryFigure(
                        label: "\(joiner) (copy built by state transfer)", sessions: count, baselineKiB: emptyNode,
                        residentKiB: resident))
            }
        }
        cluster.stopAll()
        cluster.removeFiles()
    }

    /// "is suspect" lines in every node log of `cluster` so far.
    private func suspectLines(_ cluster: LocalCluster) -> Int {
        cluster.names.reduce(0) { total, name in
            total + (readFile("\(cluster.configPath).\(name).log") ?? "").components(separatedBy: " is suspect").count
                - 1
        }
    }

    /// Waits until every node of `nodes` reports `count` sessions.
    private func waitHolding(_ count: Int, nodes: [String], cluster: LocalCluster, timeout: Double) throws {
        let deadline = Measure.seconds() + timeout
        while Measure.seconds() < deadline {
            if nodes.allSatisfy({ (try? cluster.stats($0)["sessions"]) == count }) { return }
            Measure.sleep(0.05)
        }
        let held = nodes.map { "\($0)=\((try? cluster.stats($0)["sessions"]).flatMap { $0 } ?? -1)" }
        throw BenchError("not every node holds \(count) sessions after \(Int(timeout)) s: \(held)")
    }

    /// Logs in `count` users through `address` from 8 threads and sets a 1 KB attribute on each; returns the
    /// cookies (id, version) of each session.
    private func createSessions(count: Int, firstUser: Int, address: String) throws -> [(String, String)] {
        let threads = 8
        final class Collected: Sendable {
            let cookies = Mutex<[(String, String)]>([])
            let errors = Mutex<[String]>([])
        }
        let collected = Collected()
        let group = DispatchGroup()
        let payload = [UInt8]((0..<1024).map { UInt8(0x41 + $0 % 26) })
        for thread in 0..<threads {
            group.enter()
            Thread {
                defer { group.leave() }
                let client = HTTPClient(address: address)
                defer { client.close() }
                var mine = [(String, String)]()
                do {
                    for user in stride(from: firstUser + thread, to: firstUser + count, by: threads) {
                        client.clearCookies()
                        let login = try client.postForm("/login", "user=u\(user)")
                        guard login.status == 200 else { throw BenchError("login answered \(login.status)") }
                        let put = try client.request("PUT", "/session/attributes/data", body: payload)
                        guard put.status == 204 else { throw BenchError("PUT data answered \(put.status)") }
                        mine.append((client.cookie("SESSIONID") ?? "", client.cookie("SESSIONVERSION") ?? ""))
                    }
                } catch {
                    collected.errors.withLock { $0.append("\(error)") }
                }
                collected.cookies.withLock { $0 += mine }
            }.start()
        }
        if group.wait(timeout: .now() + 600) == .timedOut { throw BenchError("session creation did not finish") }
        if let error = collected.errors.withLock({ $0.first }) { throw BenchError("creating sessions: \(error)") }
        return collected.cookies.withLock { $0 }
    }
}
