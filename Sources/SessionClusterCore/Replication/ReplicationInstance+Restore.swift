// Restoring copies from a node's own snapshot file (persistence, `snapshot` mode).
//
// The shell reads the file; the core only sees sessions. A restored copy is joined like a copy from a peer
// (`mergeCopy`): it never overrides a newer one, and an invalidated copy (a tombstone) stays ended. What expired
// while the node was down is dropped: a valid copy past its deadline, a tombstone past its purge time.
//
// Until a peer confirmed it, a restored copy is not served while peers are known: the first access asks them
// (`needsRestoreConfirmation`), as for a token the copy does not cover. In delta mode the state transfer confirms
// every copy at once. Before any peer is known it is not served either until membership has settled (a node
// restarted alone answers 503 for the moments before its peers' beacons arrive, not a logged-out session).
//
// Why a purged tombstone cannot let a logged-out session back: a tombstone is kept until the session's deadline
// (or its end, whichever is later) plus `tombstoneRetentionMillis`, and a restored copy that missed the end has an
// older (or equal) last access. So by the time a peer may have forgotten the end, the stale copy is past its own
// deadline and is dropped here. The exception is a session that never expires by inactivity (`maxInactive` ≤ 0, a
// Redis key without TTL): deleted while this node was cut off, then purged by peers after the retention, it could
// come back from a snapshot written before the delete. README documents it.

/// What `ReplicationInstance.restore(_:now:)` did with a snapshot's sessions.
package struct RestoreOutcome: Sendable, Equatable {
    /// Copies installed or joined into a held copy (valid sessions and tombstones).
    package var restored = 0
    /// Valid sessions dropped because their deadline passed while the node was down.
    package var expired = 0
    /// Tombstones dropped because their purge time passed.
    package var purged = 0
    /// Directives the merges produced (none when restoring before any peer is known).
    package var directives: [ReplicationDirective] = []

    package init() {}
}

extension ReplicationInstance {
    /// Installs copies read from this node's snapshot, as if merged from a peer. Call before joining (no peer
    /// known): in backup mode each restored session is placed with this node as primary and no backup, and the
    /// re-placement after membership changes moves it where the ring says.
    package mutating func restore(_ sessions: [Session], now: Timestamp) -> RestoreOutcome {
        var outcome = RestoreOutcome()
        replicas.reserveCapacity(replicas.count + sessions.count)
        unconfirmedRestores.reserveCapacity(unconfirmedRestores.count + sessions.count)
        for session in sessions {
            if session.isValid {
                let deadline = session.deadline(
                    lastAccess: session.content.lastAccess, defaultMaxInactive: settings.defaultMaxInactiveSeconds)
                if deadline <= now {
                    outcome.expired += 1
                    continue
                }
            } else if purgeTime(session) <= now {
                outcome.purged += 1
                continue
            }
            guard !session.version.isEmpty else { continue }
            let hint = settings.mode == .backup ? Placement(epoch: 1, primary: me, backup: nil) : nil
            outcome.directives += mergeCopy(session, placementHint: hint, from: me, now: now)
            guard let held = replicas[session.id].map({ ($0.localAccess, $0.session.isValid) }) else { continue }
            outcome.restored += 1
            if held.1 { unconfirmedRestores.insert(session.id) }
            if session.content.lastAccess > held.0 { replicas[session.id]?.localAccess = session.content.lastAccess }
        }
        return outcome
    }

    /// Whether an access to `id` must ask the peers first: its copy came from the snapshot, no peer confirmed it
    /// yet, and there are peers to ask (alone — the whole cluster restarting — the copy is the best there is). Asked
    /// once per session: the fetch joins the peers' copy (newer writes, a logout) before the access is answered.
    ///
    /// Before any peer is known, a node that may not be alone yet (membership not settled: its peers' first beacons
    /// may still be on their way) does not serve the copy either: the access is answered `.unavailable` (503,
    /// retry) by `awaitingRestoreConfirmation`, never with a copy a peer may have ended or rewritten since.
    mutating func needsRestoreConfirmation(_ id: SessionID, now: Timestamp) -> Bool {
        guard !unconfirmedRestores.isEmpty else { return false }
        if settings.mode == .delta, isTransferComplete {
            // Every copy a peer held was joined into ours by the transfer.
            unconfirmedRestores = []
            return false
        }
        guard unconfirmedRestores.contains(id) else { return false }
        if peers.isEmpty {
            guard mayBeAlone(now: now) else { return true }
            // Alone for good (the whole cluster restarting, or the roster names only this node): the copy is the
            // best there is.
            unconfirmedRestores.remove(id)
            return false
        }
        unconfirmedRestores.remove(id)
        return true
    }

    /// Whether an access to `id` must fail `.unavailable` for now: its restored copy is unconfirmed, no peer is
    /// known to ask, and one may yet appear (membership has not settled).
    func awaitingRestoreConfirmation(_ id: SessionID, now: Timestamp) -> Bool {
        !unconfirmedRestores.isEmpty && peers.isEmpty && unconfirmedRestores.contains(id) && !mayBeAlone(now: now)
    }

    /// Starts recording which copies change version, for the append log (persistence `log` mode): every local
    /// commit, every delta or copy merged from a peer, every session created. An access that only moves the local
    /// access time is not recorded (the periodic access refresh is a delta, and is).
    package mutating func trackChanges() {
        replicas.trackChanges(true)
    }

    /// The copies (valid sessions and tombstones, each with the latest access seen here) whose version changed since
    /// the last call, for the append log. Copies no longer held (purged, moved away) are left out: a replay drops
    /// them again by the same rules as a snapshot's.
    package mutating func takeChangedCopies() -> [Session] {
        let ids = replicas.takeChanged()
        guard !ids.isEmpty else { return [] }
        var copies = [Session]()
        copies.reserveCapacity(ids.count)
        for id in ids {
            guard let replica = replicas[id] else { continue }
            copies.append(replica.sessionAsAccessed)
        }
        return copies
    }

    /// The copies held now, to be turned into sessions on another thread (`HeldCopies.sessions()`): the append
    /// log's compaction writes them while the loop goes on.
    package var heldCopiesNow: HeldCopies { HeldCopies(copies: replicas.all) }

    /// Every copy held here — valid sessions and tombstones — for writing a snapshot. Each carries the latest
    /// access this node saw (`lastAccess` is joined by maximum, so raising it changes no version).
    package func heldCopies() -> [Session] {
        var copies = [Session]()
        copies.reserveCapacity(replicas.count)
        for (_, replica) in replicas { copies.append(replica.sessionAsAccessed) }
        return copies
    }
}

/// The copies a node held at one moment (`ReplicationInstance.heldCopiesNow`), an immutable value any thread may
/// read.
package struct HeldCopies: Sendable {
    let copies: ReplicationInstance.ReplicaSlots

    /// How many copies (valid sessions and tombstones).
    package var count: Int { copies.count }

    /// Each copy as a session carrying the latest access seen here.
    package func sessions() -> [Session] {
        var sessions = [Session]()
        sessions.reserveCapacity(copies.count)
        for (_, replica) in copies { sessions.append(replica.sessionAsAccessed) }
        return sessions
    }
}
