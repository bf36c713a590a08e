/// The replicated form of one committed request: which session, which delta (`dot`), what the origin's copy
/// held before it (`base`), and the stamped changes (`patch`, a partial `SessionContent`).
///
/// A receiver applies it only when its copy covers `base` (causal order); a delta whose dot it already
/// covers is a duplicate; otherwise it holds the delta and pulls a full copy.
package struct SessionDelta: Hashable, Sendable {
    package var sessionID: SessionID
    package var dot: Dot
    package var base: VersionVector
    package var patch: SessionContent

    package init(sessionID: SessionID, dot: Dot, base: VersionVector, patch: SessionContent) {
        self.sessionID = sessionID
        self.dot = dot
        self.base = base
        self.patch = patch
    }

    /// The first delta of a session: nothing precedes it.
    /// (A named session's first dot may be above 1: see `ReplicationInstance.create(_:changes:now:firstCounter:)`.)
    package var createsSession: Bool { base.isEmpty && patch.createdAt != nil }
}

/// Backup mode: who holds a session. Decided by the primary; a higher `(epoch, primary)` wins, so two nodes
/// that took a session over at the same moment agree on one winner. `backups` are in ring order (the first
/// live one promotes itself when the primary is gone); `copies − 1` of them at most, none equal to the primary.
package struct Placement: Hashable, Sendable, CustomStringConvertible {
    package var epoch: UInt64
    package var primary: NodeID
    package var backups: [NodeID]

    /// Backups a placement may name at most (wire bound): `ReplicationSettings.maxCopies − 1`.
    package static let maxBackups: UInt8 = 7

    package init(epoch: UInt64, primary: NodeID, backups: [NodeID]) {
        self.epoch = epoch
        self.primary = primary
        self.backups = backups
    }

    /// A placement with at most one backup (two copies).
    package init(epoch: UInt64, primary: NodeID, backup: NodeID?) {
        self.init(epoch: epoch, primary: primary, backups: backup.map { [$0] } ?? [])
    }

    /// The first backup, if any.
    package var backup: NodeID? { backups.first }

    /// Whether this placement supersedes `other`.
    package func supersedes(_ other: Placement) -> Bool {
        (epoch, primary) > (other.epoch, other.primary)
    }

    /// The nodes that hold a copy under this placement.
    package var holders: [NodeID] { [primary] + backups }

    package var description: String {
        "e\(epoch) p=\(primary) b=\(backups.isEmpty ? "-" : backups.map { "\($0)" }.joined(separator: ","))"
    }
}

/// One session's version in an anti-entropy digest.
package struct DigestEntry: Hashable, Sendable {
    package var sessionID: SessionID
    package var version: VersionVector
    /// Backup mode: the sender's placement, so diverged placements are reconciled too.
    package var placement: Placement?

    package init(sessionID: SessionID, version: VersionVector, placement: Placement? = nil) {
        self.sessionID = sessionID
        self.version = version
        self.placement = placement
    }
}

/// Everything replication peers say to each other over their links.
package enum ReplicationMessage: Hashable, Sendable {
    /// A committed delta. `ack` is set when the origin waits (`sync`) for an `.ack` with that id.
    case delta(SessionDelta, ack: CommitID?)
    /// The receiver holds the delta of the origin's commit `CommitID`.
    case ack(CommitID)
    /// Asks for a full copy. `takeover`: the requester becomes the primary (backup mode).
    case fetch(RequestID, SessionID, takeover: Bool)
    /// Answers `.fetch`: the copy and its placement, or nil when the sender holds none.
    case fetchReply(RequestID, SessionID, Session?, Placement?)
    /// Pushes a full copy (joined by the receiver). In backup mode it carries the sender's placement.
    case snapshot(Session, Placement?)
    /// Backup mode: the placement changed; receivers not named in it hand their copy to the primary and drop it.
    case placement(SessionID, Placement)
    /// Delta mode: a joining node pulls one window of the state transfer: up to `chunks` chunks of the sessions
    /// (tombstones included) that sort after `after` (nil: from the first) in the receiver's order
    /// (`SessionOrder`, keyed per process), in that order.
    case transferRequest(RequestID, after: SessionID?, chunks: UInt8)
    /// One chunk answering `.transferRequest`, sessions in the sender's order; `last`: no session sorts after
    /// this chunk.
    /// A window that is not the last has exactly the chunks asked for.
    case transferChunk(RequestID, [Session], last: Bool)
    /// Anti-entropy: the sender's versions of sessions the receiver should also hold. `round` groups chunks;
    /// `last` ends a round.
    case digest(round: UInt64, [DigestEntry], last: Bool)
    /// Asks whether the receiver's copy of the session covers `Dot` (a write of the sender's): answered with
    /// `.ack(CommitID)` when it does, nothing otherwise (the sender asks again). Redis's `WAIT`.
    case confirm(SessionID, Dot, CommitID)
}
