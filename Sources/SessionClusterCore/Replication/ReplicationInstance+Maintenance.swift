extension ReplicationInstance {
    /// Timer tick: time-outs (accesses, fetches, sync commits, state transfer), held deltas (pull after
    /// `gapHoldMillis`, drop after `maxHoldMillis`), the expiry and tombstone sweep, background anti-entropy.
    package mutating func onTick(now: Timestamp) -> [ReplicationDirective] {
        var directives = [ReplicationDirective]()
        for ticket in accesses.keys.sorted() where accesses[ticket]!.deadline <= now {
            accesses[ticket] = nil
            directives.append(.accessFailed(ticket, .unavailable))
        }
        for request in fetches.keys.sorted() where (fetches[request]?.deadline ?? .zero) <= now {
            if fetches[request] != nil { directives += advanceFetch(request, now: now, timedOut: true) }
        }
        for commitID in commits.keys.sorted() where (commits[commitID]?.deadline ?? Timestamp(millis: .max)) <= now {
            guard let pending = commits[commitID] else { continue }
            let alone = pending.unsent != nil
            commits[commitID] = nil
            if alone {
                // Membership settled and no peer appeared: acknowledged by every live peer, which is nobody.
                counters.syncAcknowledged += 1
            } else {
                counters.syncTimedOut += 1
            }
            directives.append(.commitCompleted(commitID, acknowledged: alone))
            directives += ended(pending, acknowledged: alone)
        }
        directives += tickConfirms(now: now)
        directives += tickHeld(now: now)
        if case .receiving(let progress) = transfer, progress.deadline <= now {
            directives += requestTransfer(now: now, after: progress.donor)
        }
        beginTurn()
        // One budget of visits per tick: the sweep takes at most half of it while a walk is under way, the walks
        // share what is left (`continueMaintenance`).
        let batch = settings.maintenanceBatch
        let walking = !outgoingDigests.isEmpty || !pushBacks.isEmpty || replacement != nil
        if now >= nextSweep || sweepBacklog {
            if now >= nextSweep { nextSweep = now.adding(millis: settings.sweepIntervalMillis) }
            directives += sweep(now: now, limit: walking ? max(1, batch / 2) : batch)
        }
        if now >= nextAntiEntropy {
            nextAntiEntropy = now.adding(millis: settings.antiEntropyIntervalMillis)
            let candidates = peerIDs
            if !candidates.isEmpty, isTransferComplete {
                antiEntropyCursor = (antiEntropyCursor + 1) % candidates.count
                // A digest still being sent (a million ids take longer than the interval) is left to finish.
                let peer = candidates[antiEntropyCursor]
                if outgoingDigests[peer] == nil { directives += digest(for: peer, stepping: false) }
            }
        }
        directives += continueMaintenance(now: now, budget: batch - maintenance.visitedLastTurn)
        return directives
    }

    private mutating func tickHeld(now: Timestamp) -> [ReplicationDirective] {
        guard !held.isEmpty else { return [] }
        var directives = [ReplicationDirective]()
        let receiving = !isTransferComplete
        for id in held.keys.sorted() {
            guard var waiting = held[id] else { continue }
            let before = waiting.count
            waiting.removeAll { now.millis(since: $0.since) >= settings.maxHoldMillis }
            counters.heldDropped += before - waiting.count
            held[id] = waiting.isEmpty ? nil : waiting
            guard let oldest = waiting.first, !receiving, fetchBySession[id] == nil,
                now.millis(since: oldest.since) >= settings.gapHoldMillis
            else { continue }
            let sources = waiting.flatMap { [$0.delta.dot.origin, $0.from] }
            directives += ensureFetch(id, takeover: false, preferring: sources, now: now)
        }
        return directives
    }

    /// When a tombstone may be forgotten: after the session's deadline or its invalidation, whichever is
    /// later, plus `tombstoneRetentionMillis`.
    func purgeTime(_ session: Session) -> Timestamp { replicas.rule.purgeTime(session) }

    /// Expires sessions past their deadline and forgets old tombstones. The session's expiry owner (ring-first
    /// in delta mode, the primary in backup mode) expires first; other copies wait `expiryGraceMillis` more.
    ///
    /// Incremental: only the copies whose scheduled check is due are looked at (with the rare copy whose position
    /// shares a due one's prefix: `ReplicaTable.takeDue`), about `limit` of them per call (the rest on the next
    /// tick: `sweepBacklog`); a copy not yet due is scheduled again for its time.
    mutating func sweep(now: Timestamp, limit batch: Int) -> [ReplicationDirective] {
        let due = replicas.takeDue(now: now, limit: batch)
        maintenance.visitedLastTurn += due.visits
        var expired = [SessionID]()
        var purged = [SessionID]()
        var strays = [SessionID]()
        var emptied = [SessionID]()
        let recheck = now.adding(millis: replicas.rule.granularityMillis)
        for id in due.ids {
            guard let replica = replicas[id] else { continue }
            // One read of the session (each assembles it from the copy's buffer).
            let session = replica.session
            if settings.mode == .backup, let placement = replica.placement, !placement.holders.contains(me),
                session.isValid
            {
                // A copy no placement names (a missed drop notice): hand it on and forget it, once unpinned. A
                // tombstone stays until purged (see `adoptPlacement`).
                if pins[id] == nil { strays.append(id) } else { replicas.schedule(id, at: recheck) }
                continue
            }
            // A named session that holds nothing (a deleted or expired Redis key) is forgotten once its last
            // write is older than the tombstone retention; until then it is checked again at that time.
            let emptyPurge = session.isValid ? replicas.rule.emptyPurgeTime(session) : nil
            if let emptyPurge, now >= emptyPurge {
                if pins[id] == nil { emptied.append(id) } else { replicas.schedule(id, at: recheck) }
                continue
            }
            if let emptyPurge { replicas.schedule(id, at: max(emptyPurge, recheck)) }
            if session.isValid {
                let deadline = session.deadline(
                    lastAccess: replica.localAccess, defaultMaxInactive: settings.defaultMaxInactiveSeconds)
                let owner: Bool
                switch settings.mode {
                case .delta: owner = ringFirst(id) == me
                case .backup: owner = (replica.placement?.primary ?? ringFirst(id)) == me
                }
                // Slack for access times not yet replicated (at most one refresh interval old: a quarter of a short
                // max-inactive interval, so a 1 s session does not live for the default 60 s refresh).
                let slack = accessRefreshInterval(session) + (owner ? 0 : settings.expiryGraceMillis)
                let expiry = deadline.adding(millis: slack)
                if now >= expiry { expired.append(id) } else { replicas.schedule(id, at: max(expiry, recheck)) }
            } else {
                let purge = purgeTime(session)
                if now >= purge { purged.append(id) } else { replicas.schedule(id, at: max(purge, recheck)) }
            }
        }
        var backlog = due.more
        var directives = [ReplicationDirective]()
        for id in expired.sorted() {
            let stamp = Stamp(time: clock.tick(now: now), node: me)
            let ending = SessionContent(invalidation: Invalidation(stamp: stamp, reason: .expired))
            counters.sessionsExpired += 1
            directives += commitPatch(id, patch: ending, now: now, promote: false).directives
            directives.append(.event(.sessionExpired(id)))
            // Its entry was taken, and a purge time is later than the deadline: schedule the tombstone's purge.
            if let session = replicas[id]?.session { replicas.schedule(id, at: purgeTime(session)) }
        }
        for id in strays.sorted() {
            guard let placement = replicas[id]?.placement else { continue }
            for holder in placement.holders where isReachable(holder) {
                if let handoff = snapshot(id, to: holder) { directives.append(handoff) }
            }
            drop(id, movedTo: placement, now: now)
        }
        for id in purged {
            replicas[id] = nil
            held[id] = nil
        }
        counters.tombstonesPurged += purged.count
        for id in emptied {
            replicas[id] = nil
            held[id] = nil
        }
        counters.emptyPurged += emptied.count
        // The records of ended and handed-off sessions share what is left of the batch.
        var left = max(0, batch - due.visits)
        let endedTaken = forgetEnded(now: now, limit: left)
        backlog = backlog || endedTaken >= left
        left -= endedTaken
        backlog = forgetMoved(now: now, limit: left) >= left || backlog
        sweepBacklog = backlog
        return directives
    }

    /// Records that `id` ended (an invalidation delta arrived), to be forgotten after `tombstoneRetentionMillis`.
    mutating func noteEnded(_ id: SessionID, by dot: Dot, _ invalidation: Invalidation, now: Timestamp) {
        guard ended[id] == nil else { return }
        ended[id] = Ended(since: now, dot: dot, invalidation: invalidation)
        endedExpiry.schedule(id, at: now.adding(millis: settings.tombstoneRetentionMillis))
    }

    /// Backup mode: a tombstone of an ended session for a peer whose copy (version `theirs`) lacks the ending
    /// write, from a node that holds no copy. It carries the invalidation under the peer's own version: claiming
    /// the ending write's dot would also claim writes before it that the peer never received, so the copy ends
    /// content-only (`mergeCopy`), and the write itself, should it still arrive, changes nothing more. Nil when
    /// the end is not known or `theirs` has it.
    func tombstone(of id: SessionID, for theirs: VersionVector) -> Session? {
        guard let record = ended[id], !theirs.covers(record.dot) else { return nil }
        return Session(id: id, content: SessionContent(invalidation: record.invalidation), version: theirs)
    }

    /// Forgets ended sessions past their retention, looking at `limit` records at most; returns how many it did.
    private mutating func forgetEnded(now: Timestamp, limit: Int) -> Int {
        let due = endedExpiry.takeDue(now: now, limit: limit)
        maintenance.visitedLastTurn += due.count
        for id in due {
            guard let since = ended[id]?.since else { continue }
            if now.millis(since: since) >= settings.tombstoneRetentionMillis {
                ended[id] = nil
            } else {
                endedExpiry.schedule(id, at: since.adding(millis: settings.tombstoneRetentionMillis))
            }
        }
        return due.count
    }

    /// Forgets hand-off records past their time whose session is not held again.
    private mutating func forgetMoved(now: Timestamp, limit: Int) -> Int {
        let due = movedExpiry.takeDue(now: now, limit: limit)
        maintenance.visitedLastTurn += due.count
        for id in due {
            guard let record = moved[id] else { continue }
            if record.until > now {
                movedExpiry.schedule(id, at: record.until)
            } else if replicas[id] != nil {
                // Kept while the session is held again (its own counter guards the next write); checked again later.
                movedExpiry.schedule(id, at: now.adding(millis: settings.movedRetentionMillis))
            } else {
                moved[id] = nil
            }
        }
        return due.count
    }
}
