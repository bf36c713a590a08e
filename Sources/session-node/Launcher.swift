@preconcurrency import Foundation
import SessionCluster
import Synchronization

/// `session-node up FILE`: starts every node of a cluster file as a child process, prints where they answer,
/// prefixes their log lines with the node name, and supervises them:
///
/// - a node that fails to start (exits before it reports "up", or does not report it within
///   `startDeadlineSeconds`) stops the others: no partial cluster is left running, and the exit status is 1;
/// - Ctrl-C / SIGTERM stops every node gracefully; SIGHUP is forwarded to every node (key reload);
/// - each node dies with the launcher, even when the launcher is killed with SIGKILL (`runNode` asks the kernel
///   for SIGTERM on its parent's death through `parentVariable`);
/// - a node that exits later is reported; the others keep serving (that is what a cluster is for).
enum Launcher {
    /// Set in each child's environment to the launcher's pid: `run` then dies with the launcher.
    static let parentVariable = "SESSIONCLUSTER_LAUNCHER_PID"
    /// How long a node may take to report that it is up before the launch counts as failed.
    static let startDeadlineSeconds = 30

    /// Keeps the signal sources alive for the life of the process.
    nonisolated(unsafe) private static var signalSources: [any DispatchSourceSignal] = []

    static func up(configPath: String, configuration: ClusterConfiguration) -> Int32 {
        // Before the first line is written: a reader that went away (`up FILE | head -1`) must not kill the
        // launcher, and with it every node (it did, when the table below was printed before this).
        signal(SIGPIPE, SIG_IGN)
        let executable = CommandLine.arguments[0]
        let executableURL =
            executable.contains("/")
            ? URL(fileURLWithPath: executable)
            : URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        say(
            "cluster \(configuration.cluster): \(configuration.nodes.count) nodes, replication "
                + "\(configuration.replication.mode.rawValue)/\(configuration.replication.ack.rawValue)")
        let redis = configuration.nodes.contains { $0.redis != nil }
        say("  node   http                          replication          " + (redis ? "redis" : ""))
        for node in configuration.nodes {
            say(
                "  \(node.name.padding(toLength: 6, withPad: " ", startingAt: 0)) "
                    + "http://\(node.http)".padding(toLength: 30, withPad: " ", startingAt: 0)
                    + node.replication.description.padding(toLength: 21, withPad: " ", startingAt: 0)
                    + (node.redis.map { "redis://\($0)" } ?? ""))
        }
        say("Stop with Ctrl-C.")

        let supervisor = Supervisor()
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        signal(SIGHUP, SIG_IGN)
        signalSources = [SIGINT, SIGTERM, SIGHUP].map { number -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if number == SIGHUP {
                    supervisor.forwardHangUp(saying: "forwarding SIGHUP (key reload) to every node")
                } else {
                    supervisor.stopAll(saying: "stopping every node…")
                }
            }
            source.resume()
            return source
        }

        var environment = ProcessInfo.processInfo.environment
        environment[parentVariable] = String(getpid())
        for node in configuration.nodes where !supervisor.isStopping {
            let process = Process()
            process.executableURL = executableURL
            process.arguments = ["run", "--config", configPath, "--node", node.name]
            process.environment = environment
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            let lines = LineSplitter(prefix: "[\(node.name)] ")
            let name = node.name
            supervisor.outputOpened()
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil }  // end of output: stop polling it
                for line in lines.take(data) {
                    if line.contains("node \(name) (") && line.contains(") up: ") { supervisor.started(name) }
                    say(line)
                }
                if data.isEmpty { supervisor.outputClosed() }
            }
            process.terminationHandler = { process in
                supervisor.exited(
                    name, status: process.terminationStatus, bySignal: process.terminationReason == .uncaughtSignal)
            }
            do {
                // Spawned from this (main) thread, which stays alive until the end: the children's death signal is
                // tied to the thread that started them.
                try process.run()
            } catch {
                pipe.fileHandleForReading.readabilityHandler = nil
                supervisor.outputClosed()  // no child writes to it
                supervisor.failedToLaunch(name, error)
                break
            }
            supervisor.launched(name, process)
        }
        supervisor.launchesDone()
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(startDeadlineSeconds)) {
            supervisor.checkStarted(within: startDeadlineSeconds)
        }
        return supervisor.waitUntilAllExited()
    }

    /// Writes a line at once (stdout is block-buffered when piped, and the children write in between). A closed
    /// stdout (the terminal went away) must not kill the launcher before it has stopped its nodes.
    static func say(_ line: String) {
        try? FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8))
    }
}

/// The launcher's view of its children, shared by the signal handlers, the pipes and the termination handlers.
final class Supervisor: Sendable {
    private struct State {
        var running: [(name: String, process: Process)] = []
        var started: Set<String> = []
        /// Nodes sent a SIGHUP before they were up: they get it once they say they are (see `forward`).
        var hangUpPending: Set<String> = []
        var launching = true
        var stopping = false
        var failed = false
        /// Node output pipes not yet read to their end.
        var outputsOpen = 0
    }

    private let state = Mutex(State())
    private let allExited = DispatchSemaphore(value: 0)
    private let outputEnded = DispatchSemaphore(value: 0)

    func launched(_ name: String, _ process: Process) {
        let stopping = state.withLock { state -> Bool in
            state.running.append((name, process))
            return state.stopping
        }
        // Launched after a sibling had already failed: it joins the stop at once.
        if stopping { kill(process.processIdentifier, SIGTERM) }
        // It may have exited before it was recorded: `exited` then found nothing to remove.
        if !process.isRunning { exited(name, status: process.terminationStatus, bySignal: false) }
    }

    func failedToLaunch(_ name: String, _ error: any Error) {
        Launcher.say("session-node: cannot start node \(name): \(error); stopping the other nodes")
        state.withLock { $0.failed = true }
        stopAll(saying: nil)
    }

    func launchesDone() {
        let done = state.withLock { state -> Bool in
            state.launching = false
            return state.running.isEmpty
        }
        if done { allExited.signal() }
    }

    /// Whether a stop is under way (no more nodes are launched).
    var isStopping: Bool { state.withLock { $0.stopping } }

    /// The node reported that it serves.
    func started(_ name: String) {
        let process = state.withLock { state -> Process? in
            state.started.insert(name)
            guard state.hangUpPending.remove(name) != nil else { return nil }
            return state.running.first { $0.name == name }?.process
        }
        if let process, process.isRunning { kill(process.processIdentifier, SIGHUP) }
    }

    func exited(_ name: String, status: Int32, bySignal: Bool) {
        let (message, stopOthers, done) = state.withLock { state -> (String?, Bool, Bool) in
            guard let index = state.running.firstIndex(where: { $0.name == name }) else { return (nil, false, false) }
            state.running.remove(at: index)
            let how = bySignal ? "was killed by signal \(status)" : "exited with status \(status)"
            let clean = !bySignal && status == 0
            var message: String?
            var stopOthers = false
            if !state.stopping && !state.started.contains(name) {
                message = "node \(name) failed to start (it \(how); see its lines above): stopping the other nodes"
                state.failed = true
                stopOthers = true
            } else if !state.stopping {
                // Stopped from outside (its own SIGINT / SIGTERM) is no failure; a crash is.
                message = "node \(name) \(clean ? "stopped" : how); the other nodes keep serving (Ctrl-C stops them)"
                if !clean { state.failed = true }
            } else if !clean && !(bySignal && status == SIGTERM) {
                // Killed by our own SIGTERM before it could catch it (still starting) is the stop we asked for.
                message = "node \(name) \(how) while stopping"
                state.failed = true
            }
            return (message, stopOthers, state.running.isEmpty && !state.launching)
        }
        if let message { Launcher.say(message) }
        if stopOthers { stopAll(saying: nil) }
        if done { allExited.signal() }
    }

    /// Fails the launch when a node has not reported "up" in time.
    func checkStarted(within seconds: Int) {
        let late = state.withLock { state -> [String] in
            guard !state.stopping else { return [] }
            return state.running.map(\.name).filter { !state.started.contains($0) }
        }
        guard !late.isEmpty else { return }
        Launcher.say("node \(late.joined(separator: ", ")) did not report up within \(seconds) s: stopping every node")
        state.withLock { $0.failed = true }
        stopAll(saying: nil)
    }

    /// SIGTERM to every running node: each leaves the cluster gracefully. Sent again every second while any is
    /// still running: a node that is just starting may lose a signal (in the instant between ignoring SIGTERM and
    /// catching it), and a stop must not depend on that instant. Each SIGTERM goes with a SIGCONT (a node stopped
    /// with SIGSTOP cannot act on it, and `up` waited for it for ever); a node still running `killAfterSeconds`
    /// later is killed (SIGKILL) and named.
    func stopAll(saying message: String?) {
        let (children, first) = state.withLock { state -> ([(name: String, process: Process)], Bool) in
            defer { state.stopping = true }
            return (state.running, !state.stopping)
        }
        if let message, !children.isEmpty { Launcher.say(message) }
        for child in children where child.process.isRunning { Self.terminate(child.process.processIdentifier) }
        if first { repeatStop(secondsLeft: Self.killAfterSeconds) }
    }

    /// How long a stop waits for the nodes to leave gracefully before it kills those still running.
    static let killAfterSeconds = 15

    private static func terminate(_ pid: Int32) {
        kill(pid, SIGCONT)
        kill(pid, SIGTERM)
    }

    private func repeatStop(secondsLeft: Int) {
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(1)) { [self] in
            let children = state.withLock { $0.running }.filter { $0.process.isRunning }
            guard !children.isEmpty else { return }
            if secondsLeft <= 1 {
                let names = children.map(\.name).joined(separator: ", ")
                Launcher.say("node \(names) did not stop within \(Self.killAfterSeconds) s: killed (SIGKILL)")
                for child in children { kill(child.process.processIdentifier, SIGKILL) }
                return
            }
            for child in children { Self.terminate(child.process.processIdentifier) }
            repeatStop(secondsLeft: secondsLeft - 1)
        }
    }

    /// Sends SIGHUP to every node that is up. One still starting could die of it (its handler is not installed
    /// before its code runs): it gets the signal once it says it is up, when its handler exists.
    func forwardHangUp(saying message: String) {
        let children = state.withLock { state -> [(name: String, process: Process)] in
            let starting = state.running.filter { !state.started.contains($0.name) }.map(\.name)
            state.hangUpPending.formUnion(starting)
            return state.running.filter { state.started.contains($0.name) }
        }
        Launcher.say(message)
        for child in children where child.process.isRunning { kill(child.process.processIdentifier, SIGHUP) }
    }

    /// A node's output pipe is being read (`outputClosed` at its end).
    func outputOpened() { state.withLock { $0.outputsOpen += 1 } }

    /// A node's output reached its end: every line it wrote was passed on.
    func outputClosed() {
        state.withLock { $0.outputsOpen -= 1 }
        outputEnded.signal()
    }

    /// Blocks the calling (main) thread until every launched node has exited and its last lines were passed on
    /// (its "stopped" line comes just before it exits, and may still be in the pipe); the launcher's exit status.
    func waitUntilAllExited() -> Int32 {
        allExited.wait()
        // Bounded: a pipe held open by something else must not keep the launcher from exiting.
        let deadline = DispatchTime.now() + .seconds(2)
        while state.withLock({ $0.outputsOpen > 0 }), outputEnded.wait(timeout: deadline) == .success {}
        return state.withLock { $0.failed } ? 1 : 0
    }
}

/// Splits a child's output into whole lines, each with the node's prefix (a read may end mid-line).
final class LineSplitter: Sendable {
    private let prefix: String
    private let pending = Mutex<[UInt8]>([])

    init(prefix: String) { self.prefix = prefix }

    /// The complete lines in what has arrived so far; at end of output (`data` empty), the unfinished rest too.
    func take(_ data: Data) -> [String] {
        pending.withLock { pending -> [String] in
            if data.isEmpty {
                defer { pending = [] }
                return pending.isEmpty ? [] : [prefix + String(decoding: pending, as: UTF8.self)]
            }
            pending += data
            var lines = [String]()
            var start = 0
            while let end = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(prefix + String(decoding: pending[start..<end], as: UTF8.self))
                start = end + 1
            }
            pending.removeFirst(start)
            return lines
        }
    }
}
