// Walks over every held session, a bounded step per loop turn.
//
// A digest to a peer, the push-back at the end of a peer's digest and the re-placement after a membership change
// each visit every held id. Done in one event, each was a stall of 10–100 ms at a million sessions. Each is now a
// walk in the replica table's order (`SessionOrder`, keyed per process) with a cursor, a session id: the event that
// starts it takes the first step, every tick takes the next (the ids after the cursor, whatever was created, removed
// or moved by a resize meanwhile), within one budget of `maintenanceBatch` visits per tick. With few sessions the
// first step is the whole walk, so small clusters (and the simulator) see what they saw before.
//
// Ids created behind a cursor are not visited by that walk: a digest does not list them (the peer gets them by
// delta, or from the next digest), a push-back does not push them (the peer lists them in its next digest), a
// re-placement pass does not need them (a session created after the change is placed on the current ring).

/// How much incremental maintenance did, for tests and diagnostics (`ReplicationInstance.maintenance`).
package struct MaintenanceProgress: Sendable, Equatable {
    /// Entries visited by the sweep and the walks during the last event (sessions due, ended and moved records,
    /// ids walked by digests, push-backs and re-placement). At most a few `maintenanceBatch`es whatever is held.
    package internal(set) var visitedLastTurn = 0
    /// Walks under way: digests being sent, push-backs, a re-placement pass.
    package internal(set) var walksInProgress = 0
    /// Backup mode: whether a re-placement pass after a membership change is under way.
    package internal(set) var replacing = false
}

extension ReplicationInstance {
    struct OutgoingDigest: Sendable {
        var round: UInt64
        /// Ids up to here were visited.
        var cursor: SessionID?
    }

    struct PushBack: Sendable {
        /// The ids the peer listed in its digest.
        var seen: Set<SessionID>
        var cursor: SessionID?
    }

    struct ReplacementPass: Sendable {
        var cursor: SessionID?
    }

    /// Starts counting the visits of one event (`maintenance.visitedLastTurn`).
    mutating func beginTurn() {
        maintenance.visitedLastTurn = 0
    }

    /// The next step of every walk under way (each tick), within `budget` visits: a re-placement pass first (it
    /// restores a second copy of sessions whose backup left), then push-backs and digests share what is left.
    mutating func continueMaintenance(now: Timestamp, budget: Int) -> [ReplicationDirective] {
        var directives = [ReplicationDirective]()
        let start = maintenance.visitedLastTurn
        func remaining() -> Int { max(0, budget - (maintenance.visitedLastTurn - start)) }
        if replacement != nil, remaining() > 0 { directives += stepReplacement(now: now, limit: remaining()) }
        for peer in pushBacks.keys where !isPeer(peer) { pushBacks[peer] = nil }
        for peer in outgoingDigests.keys where !isPeer(peer) { outgoingDigests[peer] = nil }
        let walks =
            pushBacks.keys.sorted().map { (peer: $0, pushBack: true) }
            + outgoingDigests.keys.sorted().map { (peer: $0, pushBack: false) }
        for (index, walk) in walks.enumerated() {
            let share = remaining() / (walks.count - index)
            guard share > 0 else { break }
            directives +=
                walk.pushBack ? stepPushBack(to: walk.peer, limit: share) : stepDigest(to: walk.peer, limit: share)
        }
        maintenance.walksInProgress = outgoingDigests.count + pushBacks.count + (replacement == nil ? 0 : 1)
        maintenance.replacing = replacement != nil
        return directives
    }

    /// The first step of a walk an event starts: half a batch, so that two walks started by one event stay
    /// within one batch.
    private var firstStep: Int { max(1, settings.maintenanceBatch / 2) }

    /// The next held ids after `cursor`, at most `limit`, and whether they are the last.
    private mutating func nextIDs(after cursor: SessionID?, limit: Int) -> (ids: [SessionID], finished: Bool) {
        let ids = replicas.ids(after: cursor, limit: limit)
        maintenance.visitedLastTurn += ids.count
        return (ids, ids.count < limit)
    }

    // MARK: Digests

    /// Starts a digest round to `peer` of the sessions it should hold: all of them in delta mode; in backup mode
    /// those this node is primary for with `peer` as backup, or backup for with `peer` as primary, and the ended
    /// copies this node keeps without holding them to their holders and to their owners on the ring. Sent in chunks
    /// of `digestChunkEntries`, a step per tick, ending with one (possibly empty) final chunk. A round under way
    /// to the same peer is abandoned (the peer keeps the newest round).
    /// `stepping` false leaves the first step to the next tick's budget.
    mutating func digest(for peer: NodeID, stepping: Bool = true) -> [ReplicationDirective] {
        outgoingDigests[peer] = OutgoingDigest(round: nextDigestRound, cursor: nil)
        nextDigestRound += 1
        counters.digestsSent += 1
        return stepping ? stepDigest(to: peer, limit: firstStep) : []
    }

    private mutating func stepDigest(to peer: NodeID, limit: Int) -> [ReplicationDirective] {
        guard var state = outgoingDigests[peer] else { return [] }
        let (ids, finished) = nextIDs(after: state.cursor, limit: limit)
        var chunks = [[DigestEntry]]()
        var entries = [DigestEntry]()
        for id in ids {
            guard let replica = replicas[id] else { continue }
            if settings.mode == .backup {
                // The sessions both hold, whatever their roles (with more than two copies, two backups list theirs
                // to each other too: the receiver's push-back sends what both should hold and was not listed).
                // Also a stray tombstone to its holders: they pull the end if they missed it. And to the session's
                // owners on the ring (its ring-first member holds a copy): the holders this copy names may all be
                // gone, crashed and restarted since, while the copies that serve the session are elsewhere (seed
                // `backup-async-795957145834`: a rotation heard only by a non-holder left the old id valid).
                guard let placement = replica.placement,
                    placement.holders.contains(me) && placement.holders.contains(peer)
                        || (!replica.session.isValid && !placement.holders.contains(me)
                            && (placement.holders.contains(peer)
                                || ring.owners(of: id, limit: settings.copies).contains(peer)))
                else { continue }
            }
            entries.append(DigestEntry(sessionID: id, version: replica.session.version, placement: replica.placement))
            if entries.count >= settings.digestChunkEntries {
                chunks.append(entries)
                entries = []
            }
        }
        if !entries.isEmpty || (finished && chunks.isEmpty) { chunks.append(entries) }
        var directives = [ReplicationDirective]()
        for (index, chunk) in chunks.enumerated() {
            let last = finished && index == chunks.count - 1
            directives.append(.send(.digest(round: state.round, chunk, last: last), to: peer))
        }
        if finished {
            outgoingDigests[peer] = nil
        } else {
            state.cursor = ids.last
            outgoingDigests[peer] = state
        }
        return directives
    }

    /// At the end of `peer`'s digest: pushes what it should hold but did not list, a step per tick.
    mutating func startPushBack(to peer: NodeID, seen: Set<SessionID>) -> [ReplicationDirective] {
        pushBacks[peer] = PushBack(seen: seen, cursor: nil)
        return stepPushBack(to: peer, limit: firstStep)
    }

    private mutating func stepPushBack(to peer: NodeID, limit: Int) -> [ReplicationDirective] {
        guard var state = pushBacks[peer] else { return [] }
        let (ids, finished) = nextIDs(after: state.cursor, limit: limit)
        var directives = [ReplicationDirective]()
        for id in ids where !state.seen.contains(id) {
            let shouldHold: Bool
            switch settings.mode {
            case .delta: shouldHold = true
            case .backup:
                let placement = replicas[id]?.placement
                shouldHold = placement.map { $0.holders.contains(peer) && $0.holders.contains(me) } ?? false
            }
            if shouldHold, let push = snapshot(id, to: peer) { directives.append(push) }
        }
        if finished {
            pushBacks[peer] = nil
        } else {
            state.cursor = ids.last
            pushBacks[peer] = state
        }
        return directives
    }

    // MARK: Re-placement

    /// Backup mode, after membership changed: starts a pass over every held session (`replace(_:)`), replacing a
    /// pass under way (the ring it followed is gone).
    mutating func replaceAfterMembershipChange(now: Timestamp) -> [ReplicationDirective] {
        guard settings.mode == .backup else { return [] }
        replacement = ReplacementPass(cursor: nil)
        let directives = stepReplacement(now: now, limit: firstStep)
        maintenance.replacing = replacement != nil
        return directives
    }

    /// Visits ids until `limit` is spent, a copy sent costing more than a visit (`copyCost`): at 5,000,000
    /// sessions a move (a snapshot encoded, placements told) costs ~10 times a visit that moves nothing, so a budget
    /// of visits alone let a tick that moved many run past 8 ms. Counted, not timed: the core stays deterministic.
    private mutating func stepReplacement(now: Timestamp, limit: Int) -> [ReplicationDirective] {
        guard let pass = replacement else { return [] }
        let ids = replicas.ids(after: pass.cursor, limit: limit)
        var directives = [ReplicationDirective]()
        var spent = 0
        var cursor = pass.cursor
        var visited = 0
        for id in ids {
            // Stop before a session whose copies could overrun the budget (the first always goes: progress).
            guard spent == 0 || spent + 1 + worstCopyCost(of: id) <= limit else { break }
            let sent = replace(id)
            spent += 1 + copyCost(of: id, sent)
            directives += sent
            cursor = id
            visited += 1
        }
        maintenance.visitedLastTurn += spent
        let finished = ids.count < limit && visited == ids.count
        replacement = finished ? nil : ReplacementPass(cursor: cursor)
        return directives
    }

    /// What the copies of `id` among `directives` cost beyond the visit, in visits: one per `copyCostBytes` of the
    /// session per snapshot sent (a placement notice alone costs nothing extra).
    private func copyCost(of id: SessionID, _ directives: [ReplicationDirective]) -> Int {
        guard !directives.isEmpty, let replica = replicas[id] else { return 0 }
        var copies = 0
        for directive in directives {
            if case .send(.snapshot, _) = directive { copies += 1 }
        }
        guard copies > 0 else { return 0 }
        return copies * (Self.copyCostVisits + replica.session.estimatedBytes / Self.copyCostBytes)
    }

    /// What moving every copy of `id` would cost beyond the visit (`copies - 1` snapshots).
    private func worstCopyCost(of id: SessionID) -> Int {
        guard let replica = replicas[id] else { return 0 }
        return (settings.copies - 1) * (Self.copyCostVisits + replica.session.estimatedBytes / Self.copyCostBytes)
    }

    /// A snapshot sent costs this many visits, plus one per `copyCostBytes` of its session (calibrated on the
    /// 5,000,000-session bench: a 1 KB move costs ~10 visits that move nothing).
    static let copyCostVisits = 4
    static let copyCostBytes = 256

    /// Backup mode, after membership changed: as primary, moves backups the ring now places elsewhere; as the
    /// first live backup of a primary that is gone, promotes this node to primary and picks new backups (with
    /// `copies` above 2, a later backup promotes itself only once every backup before it is gone too).
    /// Idempotent: a session already placed on the current ring is left alone, so a commit may call it before the
    /// pass reaches its id.
    mutating func replace(_ id: SessionID) -> [ReplicationDirective] {
        guard let placement = replicas[id]?.placement else { return [] }
        if placement.primary == me {
            let backups = ring.backups(of: id, primary: me, count: settings.copies - 1)
            if backups != placement.backups {
                counters.backupsMoved += 1
                return changePlacement(
                    id, to: Placement(epoch: placement.epoch.saturatingSuccessor, primary: me, backups: backups))
            }
        } else if !isPeer(placement.primary), placement.backups.first(where: { $0 == me || isPeer($0) }) == me {
            counters.promotions += 1
            return changePlacement(
                id,
                to: Placement(
                    epoch: placement.epoch.saturatingSuccessor, primary: me,
                    backups: ring.backups(of: id, primary: me, count: settings.copies - 1)))
        }
        return []
    }
}
