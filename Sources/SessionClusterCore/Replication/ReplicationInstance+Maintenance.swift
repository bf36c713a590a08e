extension ReplicationInstance {
    /// Timer tick: time-outs (accesses, fetches, sync commits, state transfer), held deltas (pull after
    /// `gapHoldMillis`, drop after `maxHoldMillis`), the expiry and tombstone sweep, background anti-entropy.
    public mutating func onTick(now: Timestamp) -> [ReplicationDirective] {
        var directives = [ReplicationDirective]()
        for ticket in accesses.keys.sorted() where accesses[ticket]!.deadline <= now {
            accesses[ticket] = nil
            directives.append(.accessFailed(ticket, .unavailable))
        }
        for request in fetches.keys.sorted() where (fetches[request]?.deadline ?? .zero) <= now {
            if fetches[request] != nil { directives += advanceFetch(request, now: now, timedOut: true) }
        }
        for commitID in commits.keys.sorted() where commits[commitID]!.deadline <= now {
            commits[commitID] = nil
            counters.syncTimedOut += 1
            directives.append(.commitCompleted(commitID, acknowledged: false))
        }
        directives += tickHeld(now: now)
        if case .receiving(let progress) = transfer, progress.deadline <= now {
            directives += requestTransfer(now: now, after: progress.donor)
        }
        if now >= nextSweep {
            nextSweep = now.adding(millis: settings.sweepIntervalMillis)
            directives += sweep(now: now)
        }
        if now >= nextAntiEntropy {
            nextAntiEntropy = now.adding(millis: settings.antiEntropyIntervalMillis)
            let candidates = peerIDs
            if !candidates.isEmpty, isTransferComplete {
                antiEntropyCursor = (antiEntropyCursor + 1) % candidates.count
                directives += digest(for: candidates[antiEntropyCursor])
            }
        }
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
    func purgeTime(_ session: Session) -> Timestamp {
        let deadline = session.deadline(
            lastAccess: session.content.lastAccess, defaultMaxInactive: settings.defaultMaxInactiveSeconds)
        let ended = Timestamp(millis: session.content.invalidation?.stamp.time.wall ?? 0)
        return max(deadline, ended).adding(millis: settings.tombstoneRetentionMillis)
    }

    /// Expires sessions past their deadline and forgets old tombstones. The session's expiry owner (ring-first
    /// in delta mode, the primary in backup mode) expires first; other copies wait `expiryGraceMillis` more.
    mutating func sweep(now: Timestamp) -> [ReplicationDirective] {
        var expired = [SessionID]()
        var purged = [SessionID]()
        var strays = [SessionID]()
        for (id, replica) in replicas {
            if settings.mode == .backup, let placement = replica.placement, !placement.holders.contains(me),
                pins[id] == nil
            {
                // A copy no placement names (a missed drop notice): hand it on and forget it.
                strays.append(id)
                continue
            }
            if replica.session.isValid {
                let deadline = replica.session.deadline(
                    lastAccess: replica.localAccess, defaultMaxInactive: settings.defaultMaxInactiveSeconds)
                let owner: Bool
                switch settings.mode {
                case .delta: owner = ringFirst(id) == me
                case .backup: owner = (replica.placement?.primary ?? ringFirst(id)) == me
                }
                // Slack for access times not yet replicated (at most one refresh interval old).
                let slack = settings.accessRefreshMillis + (owner ? 0 : settings.expiryGraceMillis)
                if now >= deadline.adding(millis: slack) { expired.append(id) }
            } else if now >= purgeTime(replica.session) {
                purged.append(id)
            }
        }
        var directives = [ReplicationDirective]()
        for id in expired.sorted() {
            let stamp = Stamp(time: clock.tick(now: now), node: me)
            let ending = SessionContent(invalidation: Invalidation(stamp: stamp, reason: .expired))
            counters.sessionsExpired += 1
            directives += commitPatch(id, patch: ending, now: now, promote: false).directives
            directives.append(.event(.sessionExpired(id)))
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
        ended = ended.filter { now.millis(since: $0.value) < settings.tombstoneRetentionMillis }
        moved = moved.filter { $0.value.until > now || replicas[$0.key] != nil }
        return directives
    }
}
