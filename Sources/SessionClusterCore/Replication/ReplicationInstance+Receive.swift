extension ReplicationInstance {
    /// A message from peer `from` arrived. Messages from nodes not (yet) in the member list are processed too:
    /// links are authenticated, and membership may lag the first frames of a joining node.
    package mutating func onMessage(_ message: ReplicationMessage, from peer: NodeID, now: Timestamp)
        -> [ReplicationDirective]
    {
        guard peer != me else { return [] }
        beginTurn()
        let (bounded, refusals) = withinClockBound(message, from: peer, now: now)
        guard let message = bounded else { return refusals }
        return refusals + receive(message, from: peer, now: now)
    }

    private mutating func receive(_ message: ReplicationMessage, from peer: NodeID, now: Timestamp)
        -> [ReplicationDirective]
    {
        switch message {
        case .delta(let delta, let ack):
            return onDelta(delta, ack: ack, from: peer, now: now)
        case .ack(let commitID):
            return onConfirmed(commitID, from: peer) ?? onAck(commitID, from: peer)
        case .confirm(let id, let dot, let commitID):
            return onConfirm(id, dot, commitID, from: peer)
        case .fetch(let request, let id, _):
            let replica = replicas[id]
            return [.send(.fetchReply(request, id, replica?.session, replica?.placement), to: peer)]
        case .fetchReply(let request, let id, let session, let placement):
            return onFetchReply(request, id, session, placement, from: peer, now: now)
        case .snapshot(let session, let placement):
            return onSnapshot(session, placement: placement, from: peer, now: now)
        case .placement(let id, let placement):
            return adoptPlacement(id, placement, from: peer, now: now)
        case .transferRequest(let request, let cursor, let chunks):
            return onTransferRequest(request, after: cursor, chunks: chunks, from: peer)
        case .transferChunk(let request, let sessions, let last):
            return onTransferChunk(request, sessions, last: last, from: peer, now: now)
        case .digest(let round, let entries, let last):
            return onDigest(round: round, entries, last: last, from: peer, now: now)
        }
    }

    /// A committed delta arrived: duplicate, in order (apply), or gap (hold, then pull).
    mutating func onDelta(_ delta: SessionDelta, ack: CommitID?, from peer: NodeID, now: Timestamp)
        -> [ReplicationDirective]
    {
        let id = delta.sessionID
        let ends = delta.patch.invalidation != nil
        if let invalidation = delta.patch.invalidation { noteEnded(id, by: delta.dot, invalidation, now: now) }
        if replicas[id] == nil {
            if let moved = moved[id], isReachable(moved.placement.primary) {
                // Backup mode: we handed this session off; its primary gets the stray delta. An invalidation
                // is acknowledged here too: this node will not serve the session again.
                guard !ends, peer == delta.dot.origin, moved.placement.primary != peer else {
                    return [.send(.delta(delta, ack: ends ? nil : ack), to: moved.placement.primary)]
                        + (ends ? acknowledge(delta, ack) : [])
                }
                // Straight from its writer, which sends its deltas to its backup only: either a newer placement
                // names this node again and the copy that goes with it is on its way (links reorder), or the
                // writer has not yet heard that the session moved on. Cover both: pass the delta on to the
                // primary we know (its acknowledgement completes the writer's `sync` commit, see `onAck`) and
                // hold it until the copy arrives here (or is pulled after `gapHoldMillis`).
                return [.send(.delta(delta, ack: ack), to: moved.placement.primary)]
                    + hold(delta, ack: ack, from: peer, now: now)
            }
            if ends && !delta.createsSession {
                // Acknowledged at once: this node will not serve the session. In delta mode the copy is still
                // coming (every node holds every session), so the delta waits for it; a backup-mode non-holder
                // only needs to remember the end.
                let waits = settings.mode == .delta ? hold(delta, ack: nil, from: peer, now: now) : []
                return acknowledge(delta, ack) + waits
            }
            if delta.createsSession {
                // Judged by when the creating delta was committed (its access time), not `createdAt`, which a
                // changed id carries over from the old session.
                if now.millis(since: delta.patch.lastAccess) > settings.tombstoneRetentionMillis {
                    // Older than any tombstone we keep: it may be a session that was invalidated and purged.
                    counters.staleCreatesRefused += 1
                    return []
                }
                // Backup mode: a creating delta comes from the new session's primary to the backup it chose,
                // with placement epoch 1 (`commitPatch`). Known now, the copy is never left without a placement
                // — and so without a primary — should the snapshot carrying it be lost and the creator fail.
                // With more than two copies: the ring's backups for the creator, as it chose them, when they name us.
                let ringBackups = ring.backups(of: id, primary: delta.dot.origin, count: settings.copies - 1)
                let placement =
                    settings.mode == .backup
                    ? Placement(
                        epoch: 1, primary: delta.dot.origin, backups: ringBackups.contains(me) ? ringBackups : [me])
                    : nil
                replicas[id] = Replica(
                    session: Session(id: id, content: SessionContent(), version: VersionVector()),
                    localAccess: delta.patch.lastAccess, placement: placement)
            }
        }
        guard let version = replicas[id]?.version else { return hold(delta, ack: ack, from: peer, now: now) }
        if version.covers(delta.dot) {
            counters.duplicates += 1
            return acknowledge(delta, ack)
        }
        guard version.covers(delta.base) else {
            // An invalidation is acknowledged at once (it wins whatever it waits for); it is applied later.
            guard ends else { return hold(delta, ack: ack, from: peer, now: now) }
            return acknowledge(delta, ack) + hold(delta, ack: nil, from: peer, now: now)
        }
        return apply(delta, ack: ack, from: peer, now: now)
            + drainHeld(id, now: now) + resolveAccesses(id, now: now, exhausted: false, timedOut: false)
    }

    /// Applies a causally ready delta (its base covered, its dot not).
    private mutating func apply(_ delta: SessionDelta, ack: CommitID?, from peer: NodeID, now: Timestamp)
        -> [ReplicationDirective]
    {
        let id = delta.sessionID
        guard let version = replicas[id]?.version else { return [] }
        var directives = [ReplicationDirective]()
        let concurrent = !delta.base.covers(version)
        if concurrent {
            // The copy holds deltas the origin had not seen: concurrent writes, merged by the join.
            counters.concurrentMerges += 1
            if let session = replicas[id]?.session, writesConflict(delta, with: session) {
                counters.conflicts += 1
                directives.append(.event(.conflict(id)))
            }
        }
        // Mutated in place: a local copy of the replica would make its storage be copied.
        replicas[id]?.apply(delta.patch, as: delta.dot, joining: !(concurrent && settings.plantedFault == .noMerge))
        observe(delta.patch)
        counters.deltasApplied += 1
        directives += acknowledge(delta, ack)
        if settings.mode == .backup, let placement = replicas[id]?.placement, peer != placement.primary {
            // A delta from a node that is no longer a holder (an old primary) reaches the current holders. (One from
            // the primary reached every backup from it.)
            for holder in placement.holders where holder != me && holder != peer && holder != delta.dot.origin {
                if isReachable(holder) { directives.append(.send(.delta(delta, ack: nil), to: holder)) }
            }
        }
        return directives
    }

    /// Whether a concurrent delta overwrote an attribute that a write it had not seen also set.
    private func writesConflict(_ delta: SessionDelta, with session: Session) -> Bool {
        session.content.attributes.anySharedName(with: delta.patch.attributes) { local, incoming in
            local != incoming && (local > incoming || delta.base[local.node] < session.version[local.node])
        }
    }

    private func acknowledge(_ delta: SessionDelta, _ ack: CommitID?) -> [ReplicationDirective] {
        guard let ack, delta.dot.origin != me else { return [] }
        return [.send(.ack(ack), to: delta.dot.origin)]
    }

    /// Keeps an out-of-order delta until its predecessors arrive or a pulled copy covers it.
    private mutating func hold(_ delta: SessionDelta, ack: CommitID?, from peer: NodeID, now: Timestamp)
        -> [ReplicationDirective]
    {
        counters.gapsHeld += 1
        held[delta.sessionID, default: []].append(HeldDelta(delta: delta, ack: ack, from: peer, since: now))
        return []
    }

    /// Applies every held delta of `id` that became ready; drops (and acknowledges) those now covered.
    mutating func drainHeld(_ id: SessionID, now: Timestamp) -> [ReplicationDirective] {
        guard var waiting = held[id] else { return [] }
        var directives = [ReplicationDirective]()
        var progressed = true
        while progressed, replicas[id] != nil {
            progressed = false
            for (index, entry) in waiting.enumerated() {
                let version = replicas[id]!.session.version
                if version.covers(entry.delta.dot) {
                    counters.duplicates += 1
                    directives += acknowledge(entry.delta, entry.ack)
                } else if version.covers(entry.delta.base) {
                    directives += apply(entry.delta, ack: entry.ack, from: entry.from, now: now)
                } else {
                    continue
                }
                waiting.remove(at: index)
                progressed = true
                break
            }
        }
        held[id] = waiting.isEmpty ? nil : waiting
        return directives
    }

    /// A full copy was pushed to us: join it; in backup mode follow its placement; if we know more than the
    /// sender, push our joined copy back so both converge.
    mutating func onSnapshot(_ session: Session, placement: Placement?, from peer: NodeID, now: Timestamp)
        -> [ReplicationDirective]
    {
        // A copy its sender keeps (delta mode: always; backup mode: its placement names the sender) holds
        // every delta it covers; a hand-off from a node dropping its copy proves nothing.
        let keeps = settings.mode == .delta || placement?.holders.contains(peer) == true
        let acknowledged = keeps ? acknowledgedByCopy(session, from: peer) : []
        if settings.mode == .backup, replicas[session.id] == nil, session.isValid,
            let tombstone = tombstone(of: session.id, for: session.version)
        {
            // The peer missed the end (cut off when it went round), and a non-holder keeps no copy to answer with.
            // Only a live copy is answered: a tombstone passed on to us must not bounce between two non-holders.
            // With the newest placement known: a peer holding a stale one learns where the session went, and its
            // tombstone then meets the holders' (or it kept, on its own, a version they never reconcile).
            counters.snapshotsSent += 1
            return acknowledged + [.send(.snapshot(tombstone, newestPlacement(session.id, placement)), to: peer)]
        }
        if settings.mode == .backup, replicas[session.id] == nil, !accepts(session.id, placement: placement) {
            // Not (or no longer) a holder: pass the content on to the primary we know of, never keep it.
            guard let known = newestPlacement(session.id, placement), known.primary != peer, isReachable(known.primary)
            else { return acknowledged }
            counters.snapshotsSent += 1
            return acknowledged + [.send(.snapshot(session, known), to: known.primary)]
        }
        var directives = acknowledged + mergeCopy(session, placementHint: nil, from: peer, now: now)
        if settings.mode == .backup, let placement {
            directives += adoptPlacement(session.id, placement, from: peer, now: now)
        }
        if let replica = replicas[session.id], !session.version.covers(replica.session.version),
            let push = snapshot(session.id, to: peer)
        {
            directives.append(push)
        }
        return directives
    }
}
