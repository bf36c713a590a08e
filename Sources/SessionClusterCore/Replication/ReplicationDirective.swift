/// Caller-chosen id of one session access (one HTTP request), echoed in `accessReady` / `accessFailed`.
package typealias AccessTicket = UInt64

/// Why an access could not be served.
package enum AccessFailure: Hashable, Sendable {
    /// No such session (never existed, logged out, expired or renamed): HTTP 401 / a new login.
    case notFound
    /// No reachable copy covers the client's version token in time: HTTP 503 with Retry-After, never stale.
    case unavailable
    /// Every node that held the session is gone (both holders failed in backup mode): counted and logged.
    case lost
}

/// What the shell must do after feeding an event to `ReplicationInstance`.
package enum ReplicationDirective: Hashable, Sendable {
    /// Send `message` to the peer `to` over its link.
    case send(ReplicationMessage, to: NodeID)
    /// The access `ticket` may proceed with this copy. `lostWrites`: the client's token named writes whose
    /// every holder died before replicating them (async mode); served loudly, never silently.
    case accessReady(AccessTicket, Session, lostWrites: Bool)
    case accessFailed(AccessTicket, AccessFailure)
    /// A `sync` commit finished: acknowledged by every target, or not within the timeout.
    case commitCompleted(CommitID, acknowledged: Bool)
    /// A `confirm` (Redis's `WAIT`) finished: `count` other holders hold the write.
    case confirmCompleted(CommitID, count: Int)
    /// Something worth a log line and a metric.
    case event(ReplicationEvent)
}

/// Notable replication happenings, for logs and the embedder's event stream.
public enum ReplicationEvent: Hashable, Sendable, CustomStringConvertible {
    case sessionExpired(SessionID)
    /// Concurrent deltas wrote the same attribute; last-writer-wins decided.
    case conflict(SessionID)
    /// A client's token named writes no live holder has (see `accessReady`).
    case writesLost(SessionID)
    /// A session's every holder is gone.
    case sessionLost(SessionID)
    case transferStarted(from: NodeID)
    case transferCompleted(from: NodeID, sessions: Int, millis: Int64)
    /// `peer` sent stamps more than `maxClockDriftMillis` ahead of this node's clock: refused (rate-limited).
    case clockAhead(peer: NodeID, aheadMillis: Int64)

    public var description: String {
        switch self {
        case .sessionExpired(let id): "session \(id) expired"
        case .conflict(let id): "concurrent writes to session \(id) merged (last writer wins)"
        case .writesLost(let id): "session \(id): writes named by the client's token were lost with their node"
        case .sessionLost(let id): "session \(id) lost: every holder failed"
        case .transferStarted(let from): "state transfer started from \(from)"
        case .transferCompleted(let from, let sessions, let millis):
            "state transfer from \(from) done: \(sessions) sessions in \(millis) ms"
        case .clockAhead(let peer, let ahead):
            "refused changes from \(peer): stamped \(ahead) ms ahead of this node's clock (more than "
                + "maxClockDriftMillis); is its clock wrong?"
        }
    }
}

/// What a commit did.
package struct CommitResult: Hashable, Sendable {
    package enum Outcome: Hashable, Sendable {
        /// Applied locally (and, if a delta was produced, sent).
        case committed
        /// The session is not held here or is no longer valid; nothing changed.
        case notFound
    }

    package var outcome: Outcome
    /// The session's version after the commit: the client's new version token.
    package var version: VersionVector
    /// Set for `sync` commits that wait for acknowledgements (a later `commitCompleted` names it).
    package var awaiting: CommitID?
    package var directives: [ReplicationDirective]
}

/// Running totals, for metrics.
public struct ReplicationCounters: Hashable, Sendable {
    /// Requests committed here (each one delta, or an access-time refresh).
    public var commits = 0
    /// Deltas sent to peers (one per peer per commit).
    public var deltasSent = 0
    /// Peers' deltas applied to a copy here.
    public var deltasApplied = 0
    /// Deltas received again (already applied): ignored.
    public var duplicates = 0
    /// Deltas held back because an earlier one of the same writer had not arrived yet.
    public var gapsHeld = 0
    /// Held deltas dropped (too many held, or the session ended): the copy is repaired by a fetch.
    public var heldDropped = 0
    /// Requests for a whole session sent to a peer (a gap, a token this copy does not cover).
    public var fetchesSent = 0
    /// Whole sessions sent to peers (fetch answers, hand-offs, transfers).
    public var snapshotsSent = 0
    /// Whole sessions received and merged into the copy here.
    public var snapshotsMerged = 0
    /// Deltas concurrent with the copy here (neither version covered the other).
    public var conflicts = 0
    /// Concurrent writes merged attribute by attribute (the later stamp wins each attribute).
    public var concurrentMerges = 0
    /// Sessions ended here by inactivity.
    public var sessionsExpired = 0
    /// Ended sessions forgotten after `tombstoneRetentionMillis`.
    public var tombstonesPurged = 0
    /// Valid sessions that never expire by inactivity (Redis keys) forgotten because they held nothing for
    /// `tombstoneRetentionMillis` (a deleted or expired key's last trace).
    public var emptyPurged = 0
    /// Creations refused because a copy of that id existed already.
    public var staleCreatesRefused = 0
    /// Writes a client's token named whose every holder was gone (served loudly, `lostWrites`).
    public var writesLost = 0
    /// Sessions answered lost (401): each counted once, however often a client replays its cookie.
    public var sessionsLost = 0
    /// `sync` commits every holder acknowledged in time.
    public var syncAcknowledged = 0
    /// `sync` commits not acknowledged within `ackTimeoutMillis` (answered `.notAcknowledged`).
    public var syncTimedOut = 0
    /// Backup mode: sessions this node became primary of because their primary died.
    public var takeovers = 0
    /// Commits refused because the copy lacked this node's own earlier delta (must stay 0), or because a peer
    /// claimed this node's counter for the session is already at UInt64.max.
    public var dotReuseRefused = 0
    /// Backup mode: backups promoted to primary on a membership change.
    public var promotions = 0
    /// Backup mode: copies sent to a newly chosen backup after a membership change.
    public var backupsMoved = 0
    /// Anti-entropy digests (lists of held versions) sent to peers.
    public var digestsSent = 0
    /// State transfers to a joining or returning node finished.
    public var transfersCompleted = 0
    /// Messages (or sessions of a transfer chunk) refused because their stamps ran more than
    /// `maxClockDriftMillis` ahead of this node's clock.
    public var clockAheadRejected = 0

    /// All zero.
    public init() {}
}
