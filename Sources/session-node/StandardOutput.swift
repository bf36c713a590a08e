@preconcurrency import Foundation
import SessionCluster
import Synchronization

/// `session-node run`'s standard output: the node's log records and the process's own lines, one line per write,
/// in order, written on a serial queue of its own. A stdout pipe nobody reads stalls that queue only: never the
/// node's event loop (its records come from the node's log thread, see `ClusterNodeSettings.logHandler`), nor the
/// task that reloads keys or stops the node (its own lines are queued, and dropped past `capacity`).
enum StandardOutput {
    /// Most of the process's own lines waiting for stdout; more are dropped (the node's records have their own
    /// bound, `ClusterNodeSettings.logQueueCapacity`).
    static let capacity = 1_000

    private static let queue = DispatchQueue(label: "session-node.stdout")
    private static let waiting = Atomic<Int>(0)

    /// Queues `line` (a line break is added) and returns at once.
    static func write(_ line: String) {
        guard waiting.add(1, ordering: .relaxed).newValue <= capacity else {
            waiting.subtract(1, ordering: .relaxed)
            return
        }
        queue.async {
            writeNow(line)
            waiting.subtract(1, ordering: .relaxed)
        }
    }

    /// Writes `line` after everything queued, on the caller's thread, which waits for it: for the node's log
    /// handler, whose thread may block (the node then queues, drops and counts its records).
    static func writeInOrder(_ line: String) {
        queue.sync { writeNow(line) }
    }

    /// Waits until what is queued now has been written, or `millis` passed (stdout may never drain).
    static func flush(waitingAtMostMillis millis: Int) {
        let written = DispatchSemaphore(value: 0)
        queue.async { written.signal() }
        _ = written.wait(timeout: .now() + .milliseconds(millis))
    }

    private static func writeNow(_ line: String) {
        // A closed stdout (the launcher died) must not stop the node before it has left the cluster.
        try? FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8))
    }
}

/// The lines `session-node run` writes about itself, in the form of the node's log records.
struct ProcessLog: Sendable {
    /// The node's name, on every line.
    let node: String
    /// Lines below it are not written.
    let level: LogLevel

    /// Writes `message` at `level` (when at or above `self.level`, or `always`: the lines the launcher and
    /// scripts wait for — up, stopping, stopped — are written at any level).
    func callAsFunction(_ level: LogLevel, _ message: String, always: Bool = false) {
        guard always || level >= self.level else { return }
        let record = LogRecord(level: level, message: message, node: node, timestampMillis: EventLoop.wallMillis())
        StandardOutput.write(record.formatted)
    }
}
