@preconcurrency import Foundation
import SessionCluster

/// `session-node up FILE`: starts every node of a cluster file as a child process, prints where they answer,
/// prefixes their log lines with the node name, and stops them all gracefully on Ctrl-C / SIGTERM.
enum Launcher {
    /// Keeps the signal sources alive for the life of the process (only `up` touches it, on the main thread).
    nonisolated(unsafe) private static var signalSources: [any DispatchSourceSignal] = []

    static func up(configPath: String, configuration: ClusterConfiguration) -> Int32 {
        let executable = CommandLine.arguments[0]
        let executableURL =
            executable.contains("/")
            ? URL(fileURLWithPath: executable)
            : URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        say(
            "cluster \(configuration.cluster): \(configuration.nodes.count) nodes, replication "
                + "\(configuration.replication.mode.rawValue)/\(configuration.replication.ack.rawValue)")
        say("  node   http                          replication")
        for node in configuration.nodes {
            say(
                "  \(node.name.padding(toLength: 6, withPad: " ", startingAt: 0)) "
                    + "http://\(node.http)".padding(toLength: 30, withPad: " ", startingAt: 0)
                    + node.replication.description)
        }
        say("Stop with Ctrl-C.")

        var started = [(name: String, process: Process)]()
        for node in configuration.nodes {
            let process = Process()
            process.executableURL = executableURL
            process.arguments = ["run", "--config", configPath, "--node", node.name]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            let prefix = "[\(node.name)] "
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                guard !data.isEmpty else { return }
                let text = String(decoding: data, as: UTF8.self)
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                let joined = lines.enumerated().compactMap { index, line -> String? in
                    index == lines.count - 1 && line.isEmpty ? nil : prefix + line
                }.joined(separator: "\n")
                FileHandle.standardOutput.write(Data((joined + "\n").utf8))
            }
            do {
                try process.run()
            } catch {
                FileHandle.standardError.write(Data("session-node: cannot start \(node.name): \(error)\n".utf8))
                stop(started)
                return 1
            }
            started.append((node.name, process))
        }
        let children = started

        // Forward Ctrl-C / SIGTERM to the children (graceful leave), then wait for them.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        signalSources = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
            source.setEventHandler {
                say("stopping \(children.count) nodes…")
                stop(children)
            }
            source.resume()
            return source
        }
        DispatchQueue.global().async {
            var failed = false
            for child in children {
                child.process.waitUntilExit()
                if child.process.terminationStatus != 0 {
                    failed = true
                    say("node \(child.name) exited with status \(child.process.terminationStatus)")
                }
            }
            exit(failed ? 1 : 0)
        }
        dispatchMain()
    }

    /// Writes a line at once (stdout is block-buffered when piped, and the children write in between).
    private static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    private static func stop(_ children: [(name: String, process: Process)]) {
        for child in children where child.process.isRunning { kill(child.process.processIdentifier, SIGTERM) }
    }
}
