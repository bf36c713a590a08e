extension ReplicationInstance {
    /// Creates session `id` here with `changes` as its first delta. In backup mode this node is its primary.
    /// The id MUST be fresh (128 random bits), or named (a Redis key's) with `firstCounter` above every counter
    /// this node may have issued for it before: a named session deleted and purged everywhere may be created
    /// again, and a copy not yet purged elsewhere must not take the new first delta for one it already has. An id
    /// already held is refused with `.notFound`.
    package mutating func create(
        _ id: SessionID, changes: SessionChanges = SessionChanges(), now: Timestamp, firstCounter: UInt64 = 1
    ) -> CommitResult {
        guard replicas[id] == nil else { return refused(id) }
        let stamp = Stamp(time: clock.tick(now: now), node: me)
        var patch = SessionContent(createdAt: now, lastAccess: now)
        patch.maxInactive = settings.defaultMaxInactiveSeconds
        patch.maxInactiveStamp = stamp
        apply(changes, to: &patch, stamp: stamp)
        // The placeholder's last access is the patch's (`now`), as its first delta makes it: a copy keeps its local
        // access as an offset from the replicated one (`HeldCopyFields`), and from zero it would saturate.
        replicas[id] = Replica(
            session: Session(id: id, content: SessionContent(lastAccess: now), version: VersionVector()),
            localAccess: now, placement: nil)
        return commitPatch(id, patch: patch, now: now, counterFloor: firstCounter)
    }

    /// Commits the changes one request made to session `id` as one delta, applied here and sent to the peers
    /// of the mode. A request that changed nothing produces a delta only when the replicated access time is
    /// due for a refresh. The caller MUST have obtained the session through `access` in this request.
    package mutating func commit(_ id: SessionID, changes: SessionChanges, now: Timestamp) -> CommitResult {
        defer { unpin(id) }
        // Read without keeping the session: a copy holds its attributes and fixed fields in one buffer, and a
        // write to it while a `Session` read from it is alive here would copy the whole buffer.
        guard let refreshDue = replicas[id].flatMap({ $0.isValid ? accessRefreshDue($0.session, now: now) : nil })
        else { return refused(id) }
        replicas.noteAccess(id, at: now)
        if changes.isEmpty && !refreshDue {
            return CommitResult(
                outcome: .committed, version: replicas[id]?.version ?? VersionVector(), awaiting: nil, directives: [])
        }
        let stamp = Stamp(time: clock.tick(now: now), node: me)
        var patch = SessionContent(lastAccess: now)
        apply(changes, to: &patch, stamp: stamp)
        return commitPatch(id, patch: patch, now: now)
    }

    /// Changes a session's id (session-fixation protection on login): the state moves to `newID`, created
    /// here, and `id` is invalidated cluster-wide with reason `.renamed`. Returns the new session's commit.
    package mutating func changeID(of id: SessionID, to newID: SessionID, now: Timestamp) -> CommitResult {
        defer { unpin(id) }
        guard let old = replicas[id], old.session.isValid, replicas[newID] == nil else { return refused(id) }
        var patch = old.session.content
        patch.lastAccess = max(patch.lastAccess, now)
        patch.createdAt = patch.createdAt ?? now
        replicas[newID] = Replica(
            session: Session(id: newID, content: SessionContent(lastAccess: now), version: VersionVector()),
            localAccess: now, placement: nil)
        var result = commitPatch(newID, patch: patch, now: now)
        let stamp = Stamp(time: clock.tick(now: now), node: me)
        let ending = SessionContent(invalidation: Invalidation(stamp: stamp, reason: .renamed, renamedTo: newID))
        let end = commitPatch(id, patch: ending, now: now)
        result.directives += end.directives
        // In `sync` mode the answer also waits for the old id's end: a client told "moved" must find the old id
        // dead on every node it reaches next (it was served there moments after a rotation).
        if let second = end.awaiting {
            if let first = result.awaiting {
                commits[first]?.after = second
                commits[second]?.dependent = first
            } else {
                result.awaiting = second
            }
        }
        return result
    }

    /// Whether a read-only access should replicate the access time: at most every `accessRefreshMillis` and at
    /// least four times per max-inactive interval.
    func accessRefreshDue(_ session: Session, now: Timestamp) -> Bool {
        now.millis(since: session.content.lastAccess) >= accessRefreshInterval(session)
    }

    /// How often (ms) a read-only access replicates the access time of `session`: `accessRefreshMillis`, or a
    /// quarter of its max-inactive interval when that is shorter. Also the slack expiry allows for access times
    /// not yet replicated.
    func accessRefreshInterval(_ session: Session) -> Int64 {
        let maxInactive = session.maxInactiveSeconds(default: settings.defaultMaxInactiveSeconds)
        guard maxInactive > 0 else { return settings.accessRefreshMillis }
        return min(settings.accessRefreshMillis, maxInactive.saturatingMultiplied(by: 250))
    }

    /// Stamps a request's recorded changes into a patch. Later changes to one attribute win within a request.
    /// `patch` holds no attributes yet. Many changes are collected and sorted first (`AttributeMap(lastWins:)`):
    /// written one by one in the order recorded, each would move the bytes after it.
    func apply(_ changes: SessionChanges, to patch: inout SessionContent, stamp: Stamp) {
        let many = changes.changes.count > 8
        var written = [(name: String, slot: AttributeSlot)]()
        func write(_ name: String, _ value: [UInt8]?) {
            let slot = AttributeSlot(value: value, stamp: stamp)
            if many { written.append((name, slot)) } else { patch.attributes[name] = slot }
        }
        for change in changes.changes {
            switch change {
            case .set(let name, let value): write(name, value)
            case .remove(let name): write(name, nil)
            case .setMaxInactive(let seconds):
                patch.maxInactive = seconds
                patch.maxInactiveStamp = stamp
            case .invalidate:
                patch.invalidation = Invalidation(stamp: stamp, reason: .logout)
            }
        }
        if many { patch.attributes = AttributeMap(lastWins: written) }
    }

    /// Applies a locally made patch as the next delta of this node and replicates it.
    /// `promote: false` (expiry by a backup) replicates to the current holders without taking the session over.
    mutating func commitPatch(
        _ id: SessionID, patch: SessionContent, now: Timestamp, promote: Bool = true, counterFloor: UInt64 = 1
    ) -> CommitResult {
        guard let base = replicas[id]?.version else { return refused(id) }
        if let own = moved[id]?.ownCounter, base[me] < own {
            // The copy lacks a delta this node issued earlier; writing now would reuse its dot. Refuse: the
            // caller answers 503 and the client retries once the copy caught up. (Access prevents this.)
            counters.dotReuseRefused += 1
            return refused(id)
        }
        if base[me] == .max {
            // A peer's copy claimed this node already issued UInt64.max deltas: no fresh dot exists. Refused
            // rather than trapping on `+ 1` or reusing a dot (only a misbehaving peer gets a session here).
            counters.dotReuseRefused += 1
            return refused(id)
        }
        var directives = [ReplicationDirective]()
        // A re-placement pass under way may not have reached this session yet: place it on the current ring first,
        // so the delta goes to a live backup (`replace` is idempotent).
        if settings.mode == .backup, promote, replacement != nil { directives += replace(id) }
        counters.commits += 1
        let dot = Dot(origin: me, counter: max(base[me] + 1, counterFloor))
        // Mutated in place: a local copy of the replica would make its storage be copied.
        replicas[id]?.apply(patch, as: dot, accessedAt: now)
        let placement = replicas[id]?.placement

        var targets: [NodeID]
        switch settings.mode {
        case .delta:
            targets = peerIDs
        case .backup where !promote:
            targets = (placement?.holders ?? []).filter { isReachable($0) }
        case .backup:
            if placement?.primary != me {
                // Writing makes this node the primary: a takeover (non-holder) or promotion (backup).
                counters.promotions += 1
                dropWhenUnpinned.remove(id)
                let next = Placement(
                    epoch: (placement?.epoch ?? 0).saturatingSuccessor, primary: me,
                    backups: chooseBackups(id, previous: placement))
                directives += changePlacement(id, to: next)
            }
            targets = replicas[id]?.placement?.backups ?? []
        }
        if settings.mode == .backup && patch.invalidation != nil {
            // Ending a session is rare and security-relevant: every node hears it, so a stale copy anywhere
            // (a former holder whose drop notice is in flight) cannot serve a logged-out cookie.
            targets = Array(Set(targets + peerIDs)).sorted()
        }
        let delta = SessionDelta(sessionID: id, dot: dot, base: base, patch: patch)
        var awaiting: CommitID?
        // Delta mode, and an end in either mode, must reach every live peer. Moments after start, "no peer known"
        // may only mean none was heard from yet: such a commit waits for the peers to appear (or for membership
        // to settle with nobody). A backup-mode write needs its backup, which a node with no peer has none of.
        let mustReachPeers = settings.mode == .delta || patch.invalidation != nil
        if settings.ack == .sync && targets.isEmpty && (!mustReachPeers || mayBeAlone(now: now)) {
            // No live peer to wait for (a lone node, the last survivor): acknowledged by everyone alive, which is
            // nobody — answered at once, with no commit id, so no completion can race the caller's waiter.
            counters.syncAcknowledged += 1
        } else if settings.ack == .sync {
            let commitID = nextCommitID
            nextCommitID += 1
            var pending = PendingCommit(
                awaiting: Set(targets), deadline: now.adding(millis: settings.syncAckTimeoutMillis),
                anyPeer: settings.mode == .backup && patch.invalidation == nil, sessionID: id, dot: dot)
            if targets.isEmpty {
                pending.unsent = SessionDelta(sessionID: id, dot: dot, base: base, patch: patch)
                pending.deadline = startedAt.adding(millis: membershipTiming.settleMillis)
            }
            commits[commitID] = pending
            awaiting = commitID
        }
        for target in targets {
            directives.append(.send(.delta(delta, ack: awaiting), to: target))
            counters.deltasSent += 1
        }
        return CommitResult(
            outcome: .committed, version: replicas[id]?.version ?? VersionVector(), awaiting: awaiting,
            directives: directives)
    }

    /// Whether this node may be alone: it has had peers (they are gone: the last survivor), membership has settled
    /// (every live member was heard from by now), or the roster names no one else.
    func mayBeAlone(now: Timestamp) -> Bool {
        heardFromPeers || rosterIsOnlyMe || now.millis(since: startedAt) >= membershipTiming.settleMillis
    }

    /// Sends the deltas of sync commits made before any peer was known (`PendingCommit.unsent`) to the peers that
    /// appeared, and waits for their acknowledgements from now on.
    mutating func sendUnsentCommits(now: Timestamp) -> [ReplicationDirective] {
        guard !peers.isEmpty, !commits.isEmpty else { return [] }
        var directives = [ReplicationDirective]()
        for commitID in commits.keys.sorted() {
            guard var pending = commits[commitID], let delta = pending.unsent else { continue }
            let targets = peerIDs
            pending.unsent = nil
            pending.awaiting = Set(targets)
            pending.deadline = now.adding(millis: settings.syncAckTimeoutMillis)
            commits[commitID] = pending
            for target in targets {
                directives.append(.send(.delta(delta, ack: commitID), to: target))
                counters.deltasSent += 1
            }
        }
        return directives
    }

    /// A peer acknowledged the delta of our sync commit `commitID`.
    mutating func onAck(_ commitID: CommitID, from peer: NodeID) -> [ReplicationDirective] {
        guard var pending = commits[commitID] else { return [] }
        if pending.anyPeer {
            // One awaited copy is made: the peer's own slot, or (a node the delta was passed on to) any other one.
            guard pending.acknowledgedBy.insert(peer).inserted else { return [] }
            if pending.awaiting.remove(peer) == nil, let stand = pending.awaiting.min() {
                pending.awaiting.remove(stand)
            }
        } else {
            pending.awaiting.remove(peer)
        }
        return settle(commitID, pending)
    }

    /// A full copy of `session` that `peer` keeps arrived: the peer holds every delta the copy covers, as good as
    /// an acknowledgement of those our `sync` commits wait for. In backup mode the delta may reach its holder by
    /// another way than the one awaited (a takeover carried it off in a fetch reply, or a hand-off snapshot):
    /// without this the writer would wait out its timeout for a write that is safely held.
    mutating func acknowledgedByCopy(_ session: Session, from peer: NodeID) -> [ReplicationDirective] {
        guard !commits.isEmpty else { return [] }
        var directives = [ReplicationDirective]()
        for commitID in commits.keys.sorted() {
            guard let pending = commits[commitID], pending.sessionID == session.id,
                pending.anyPeer ? !pending.acknowledgedBy.contains(peer) : pending.awaiting.contains(peer),
                session.version.covers(pending.dot)
            else { continue }
            directives += onAck(commitID, from: peer)
        }
        return directives
    }

    /// Stores or completes a pending commit after its awaited set shrank (or the commit it waits `after` ended).
    mutating func settle(_ commitID: CommitID, _ pending: PendingCommit) -> [ReplicationDirective] {
        guard pending.awaiting.isEmpty, pending.after.map({ commits[$0] == nil }) ?? true else {
            commits[commitID] = pending
            return []
        }
        commits[commitID] = nil
        let acknowledged = !pending.afterFailed
        if acknowledged { counters.syncAcknowledged += 1 } else { counters.syncTimedOut += 1 }
        return [.commitCompleted(commitID, acknowledged: acknowledged)] + ended(pending, acknowledged: acknowledged)
    }

    /// A commit ended: the commit waiting for it (`dependent`) may complete now.
    mutating func ended(_ pending: PendingCommit, acknowledged: Bool) -> [ReplicationDirective] {
        guard let dependent = pending.dependent, var waiting = commits[dependent] else { return [] }
        waiting.after = nil
        if !acknowledged { waiting.afterFailed = true }
        return settle(dependent, waiting)
    }

    private func refused(_ id: SessionID) -> CommitResult {
        CommitResult(
            outcome: .notFound, version: replicas[id]?.version ?? VersionVector(), awaiting: nil,
            directives: [])
    }
}
