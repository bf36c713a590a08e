import SessionClusterCore

/// What one run did and which invariants it broke.
public struct SimulationReport: Sendable, CustomStringConvertible {
    public var config: SimulationConfig
    /// Broken invariants, each with the simulated time and where. Empty for a correct run.
    public var violations: [String] = []
    public var requests = 0
    public var served = 0
    public var unavailable = 0
    public var writesAcknowledged = 0
    public var writesUncertain = 0
    /// Async mode only: acknowledged writes or sessions that died with their node before replicating.
    public var asyncWritesLost = 0
    public var asyncSessionsLost = 0
    /// Async mode: a logged-out cookie served by a copy the invalidation had not reached yet.
    public var replaysServedDuringLag = 0
    public var messagesSent = 0
    public var messagesDropped = 0
    public var conflicts = 0
    public var concurrentMerges = 0
    public var crashes = 0
    public var partitions = 0
    public var sessionsAtEnd = 0
    /// State transfer: donors asked (a transfer's first, and each resume), windows requested, transfers done.
    public var transferDonorsAsked = 0
    public var transferWindows = 0
    public var transfersCompleted = 0
    /// Simulated time added after the settle window because a state transfer was still under way (ms).
    public var settleExtendedMillis: Int64 = 0

    public var passed: Bool { violations.isEmpty }

    /// The one-line command that replays exactly this run.
    public var replayCommand: String {
        "SIM_REPLAY=\(config.replayKey) swift test --filter SimulationTests.replay"
    }

    public var description: String {
        var text =
            "\(config)\n  \(requests) requests (\(served) served, \(unavailable) unavailable/503), "
            + "\(writesAcknowledged) writes acknowledged, \(writesUncertain) uncertain, "
            + "\(messagesSent) messages (\(messagesDropped) dropped), \(concurrentMerges) concurrent merges, "
            + "\(conflicts) conflicts, \(crashes) crashes, \(partitions) partitions, \(sessionsAtEnd) sessions at end"
            + "\n  state transfer: \(transfersCompleted) completed, \(transferDonorsAsked) donors asked, "
            + "\(transferWindows) windows"
            + (settleExtendedMillis > 0 ? "; settle extended \(settleExtendedMillis) ms for a transfer" : "")
        if asyncWritesLost + asyncSessionsLost > 0 {
            text += "\n  async losses (allowed): \(asyncWritesLost) writes, \(asyncSessionsLost) sessions"
        }
        if !violations.isEmpty {
            text +=
                "\n  VIOLATIONS (\(violations.count)):\n"
                + violations.prefix(12).map { "    - \($0)" }.joined(separator: "\n")
            text += "\n  replay: \(replayCommand)"
        }
        return text
    }
}
