extension ReplicationInstance {
    /// Starts access `ticket` to session `id` for a request whose client presented version `token` (nil: none).
    ///
    /// Returns `accessReady` at once when the local copy covers the token; otherwise pulls a copy from the
    /// holders (backup mode: the requesting node takes the session over as primary) and reports later, from
    /// `onMessage` or `onTick`, within `accessWaitMillis`. Never serves a copy that does not cover the token,
    /// except `lostWrites` when every holder of the missing writes is gone.
    package mutating func access(_ id: SessionID, token: VersionVector?, ticket: AccessTicket, now: Timestamp)
        -> [ReplicationDirective]
    {
        let token = requirement(id, token: token ?? VersionVector())
        if ended[id] != nil { return [.accessFailed(ticket, .notFound)] }
        // Checked without keeping the session: noting the access writes the copy's buffer, which a `Session` read
        // from it and still alive would make a copy of.
        if let (valid, covered) = replicas[id].map({ ($0.isValid, $0.version.covers(token)) }) {
            guard valid else { return [.accessFailed(ticket, .notFound)] }
            if covered || settings.plantedFault == .serveStale, !needsRestoreConfirmation(id, now: now) {
                replicas.noteAccess(id, at: now)
                let session = replicas[id]?.session
                pin(id)
                return [.accessReady(ticket, session!, lostWrites: false)]
            }
        } else if settings.mode == .delta && token.isEmpty && isTransferComplete {
            // Every node holds every session in delta mode: an id nobody committed to here is unknown.
            return [.accessFailed(ticket, .notFound)]
        }
        accesses[ticket] = PendingAccess(
            ticket: ticket, sessionID: id, token: token, deadline: now.adding(millis: settings.accessWaitMillis))
        let takeover = settings.mode == .backup && replicas[id] == nil
        return ensureFetch(id, takeover: takeover, preferring: [], now: now)
    }

    /// The peers to ask for a session, best first: those that originated writes we lack, the known holders,
    /// then the ring order (ring-first always holds a copy in backup mode).
    func fetchCandidates(_ id: SessionID, preferring: [NodeID]) -> [NodeID] {
        var ordered = preferring
        let mine = replicas[id]?.version ?? VersionVector()
        for access in accesses.waiting(on: id) {
            for entry in access.token.entries where entry.counter > mine[entry.node] { ordered.append(entry.node) }
        }
        if let placement = replicas[id]?.placement { ordered += placement.holders }
        // Where this node saw it go (a hand-off, a takeover by another node): the likeliest holder after those.
        if let placement = moved[id]?.placement { ordered += placement.holders }
        ordered += ring.owners(of: id)
        var seen = Set<NodeID>()
        return ordered.filter { $0 != me && isPeer($0) && seen.insert($0).inserted }
    }

    /// Starts a fetch for `id` unless one is under way.
    /// `round` and `timedOut` carry a fetch over into its next pass (see `fetchRounds`).
    mutating func ensureFetch(
        _ id: SessionID, takeover: Bool, preferring: [NodeID], now: Timestamp, round: Int = 1, timedOut: Bool = false,
        liveCopySeen: Bool = false
    ) -> [ReplicationDirective] {
        if fetchBySession[id] != nil { return [] }
        let candidates = fetchCandidates(id, preferring: preferring)
        guard let first = candidates.first else {
            return resolveAccesses(id, now: now, exhausted: true, timedOut: timedOut, liveCopySeen: liveCopySeen)
        }
        let request = allocateRequestID()
        fetches[request] = PendingFetch(
            sessionID: id, takeover: takeover, candidates: Array(candidates.dropFirst()), asking: first,
            deadline: now.adding(millis: settings.fetchTimeoutMillis), timedOut: timedOut,
            liveCopySeen: liveCopySeen, round: round, asked: [first])
        fetchBySession[id] = request
        counters.fetchesSent += 1
        return [.send(.fetch(request, id, takeover: takeover), to: first)]
    }

    /// Moves a fetch to its next candidate, or ends it and settles the accesses waiting on it.
    mutating func advanceFetch(_ request: RequestID, now: Timestamp, timedOut: Bool) -> [ReplicationDirective] {
        guard var fetch = fetches[request] else { return [] }
        fetch.timedOut = fetch.timedOut || timedOut
        while let next = fetch.candidates.first {
            fetch.candidates.removeFirst()
            guard isPeer(next) else { continue }
            fetch.asking = next
            fetch.asked.insert(next)
            fetch.deadline = now.adding(millis: settings.fetchTimeoutMillis)
            fetches[request] = fetch
            counters.fetchesSent += 1
            return [.send(.fetch(request, fetch.sessionID, takeover: fetch.takeover), to: next)]
        }
        fetches[request] = nil
        fetchBySession[fetch.sessionID] = nil
        let id = fetch.sessionID
        if fetch.round < Self.fetchRounds, accesses.hasWaiting(on: id) {
            // Requests still wait: the session may have moved while it was asked for node by node (it was
            // handed off or taken over meanwhile). Ask again from what is known now before answering 503.
            let takeover = fetch.takeover || (settings.mode == .backup && replicas[id] == nil)
            return ensureFetch(
                id, takeover: takeover, preferring: [], now: now, round: fetch.round + 1, timedOut: fetch.timedOut,
                liveCopySeen: fetch.liveCopySeen)
        }
        // Like a time-out, a peer not asked in this pass leaves "nobody live has it" unproven.
        let unasked = peers.keys.contains { !fetch.asked.contains($0) }
        return resolveAccesses(
            id, now: now, exhausted: true, timedOut: fetch.timedOut || unasked, liveCopySeen: fetch.liveCopySeen)
    }

    /// A holder answered our fetch.
    mutating func onFetchReply(
        _ request: RequestID, _ id: SessionID, _ session: Session?, _ placement: Placement?, from peer: NodeID,
        now: Timestamp
    ) -> [ReplicationDirective] {
        var directives = [ReplicationDirective]()
        if session?.isValid == true, fetches[request]?.sessionID == id {
            // A live copy exists: however this fetch ends, "no live member holds it" cannot be concluded. (Two tabs
            // of one session on two nodes take it over from each other; a pass could meet only "not here" answers
            // while it moved, and a live session was answered lost, 401.) Unlike a time-out, this does not keep
            // writes the member answered without from being declared lost: after a restart of every node, a token
            // naming a write lost with them was answered 503 for ever.
            fetches[request]?.liveCopySeen = true
        }
        if var pending = fetches[request], pending.sessionID == id, !pending.takeover, settings.mode == .backup,
            replicas[id] == nil, accesses.hasWaiting(on: id)
        {
            // The copy this fetch was to bring up to date was handed off meanwhile (a newer placement left this
            // node out), yet a request still waits here: take the session over, as an access without a copy
            // does. Otherwise no reply would be kept — none names this node — and a healthy cluster answers 503.
            pending.takeover = true
            fetches[request] = pending
        }
        let fetch = fetches[request].flatMap { $0.sessionID == id ? $0 : nil }
        let creates = replicas[id] == nil
        // Backup mode keeps a new copy only as a named holder or to take a live session over.
        let takesOver = fetch?.takeover == true && session?.isValid == true
        let wanted =
            !creates || (fetch != nil && (settings.mode == .delta || takesOver || accepts(id, placement: placement)))
        if creates, fetch != nil, !wanted, settings.mode == .backup {
            // The holders do not name this node: deltas held here for the session go to its primary, with their
            // acknowledgements; pulling again for them would only repeat this answer.
            directives += passOnHeld(id, to: placement?.primary)
        }
        if let session, creates, fetch != nil, !wanted, !session.isValid {
            // The session ended: answer the waiting requests without keeping a stray tombstone.
            fetches[request] = nil
            fetchBySession[id] = nil
            return failAccesses(id, .notFound)
        }
        if let session, wanted {
            directives += mergeCopy(session, placementHint: placement, from: peer, now: now)
        }
        guard let fetch else { return directives }
        if fetch.takeover, settings.mode == .backup, session != nil, replicas[id]?.session.isValid == true,
            replicas[id]?.placement?.primary != me
        {
            var basis = replicas[id]?.placement
            if let placement, basis.map({ placement.supersedes($0) }) ?? true { basis = placement }
            replicas[id]?.placement = basis
            counters.takeovers += 1
            let next = Placement(
                epoch: (basis?.epoch ?? 0).saturatingSuccessor, primary: me, backups: chooseBackups(id, previous: basis)
            )
            directives += changePlacement(id, to: next, alsoTell: [peer])
        }
        // Only the answer of the member being asked moves the fetch on. A reply from one asked before — late after
        // its time-out, overtaken by the news of its sender's departure, or delivered twice — has given what it
        // can (its copy, above), but must not stand for the current member's answer: the pass then ended with
        // that member's reply still on its way, and a live session was answered lost, 401 (seed
        // `backup-sync-536262205515`: a duplicated "not here" skipped the member holding it).
        guard peer == fetch.asking else { return directives }
        let stillWaiting = accesses.hasWaiting(on: id)
        if stillWaiting || (session == nil && fetch.takeover) {
            directives += advanceFetch(request, now: now, timedOut: false)
        } else {
            fetches[request] = nil
            fetchBySession[id] = nil
        }
        return directives
    }

    /// Settles the accesses waiting on `id`: ready when the copy covers their token, not found when it ended;
    /// once every holder was asked (`exhausted`), lost / unavailable / lost-writes as DESIGN.md says.
    mutating func resolveAccesses(
        _ id: SessionID, now: Timestamp, exhausted: Bool, timedOut: Bool, liveCopySeen: Bool = false
    ) -> [ReplicationDirective] {
        let waiting = accesses.waiting(on: id)
        guard !waiting.isEmpty else { return [] }
        var directives = [ReplicationDirective]()
        for access in waiting {
            var outcome: ReplicationDirective?
            // Recomputed now: this node may have dropped and re-acquired the copy while the access waited.
            let required = requirement(id, token: access.token)
            if ended[id] != nil {
                outcome = .accessFailed(access.ticket, .notFound)
            } else if let session = replicas[id]?.session {
                if !session.isValid {
                    outcome = .accessFailed(access.ticket, .notFound)
                } else if awaitingRestoreConfirmation(id, now: now) {
                    outcome = .accessFailed(access.ticket, .unavailable)
                } else if session.version.covers(required) {
                    outcome = .accessReady(access.ticket, session, lostWrites: false)
                } else if exhausted {
                    let missingFrom = required.entries.filter { $0.counter > session.version[$0.node] }
                    // A live writer keeps its own writes unless a hand-off moved them to holders that died: that
                    // loses the session (below), never just some writes of a copy still held.
                    if !timedOut && writesCannotBeFound(missingFrom.map(\.node), askedLive: false, now: now) {
                        counters.writesLost += 1
                        directives.append(.event(.writesLost(id)))
                        outcome = .accessReady(access.ticket, session, lostWrites: true)
                    } else {
                        outcome = .accessFailed(access.ticket, .unavailable)
                    }
                }
                if case .accessReady = outcome {
                    replicas.noteAccess(id, at: now)
                    pin(id)
                }
            } else if exhausted {
                if access.token.isEmpty {
                    outcome = .accessFailed(access.ticket, timedOut || liveCopySeen ? .unavailable : .notFound)
                } else if timedOut || liveCopySeen
                    || !writesCannotBeFound(access.token.entries.map(\.node), askedLive: true, now: now)
                {
                    // A holder may still have it behind a partition (or did not answer): unavailable, not lost.
                    outcome = .accessFailed(access.ticket, .unavailable)
                } else {
                    if noteLost(id) {
                        counters.sessionsLost += 1
                        directives.append(.event(.sessionLost(id)))
                    }
                    outcome = .accessFailed(access.ticket, .lost)
                }
            }
            if let outcome {
                accesses[access.ticket] = nil
                directives.append(outcome)
            }
        }
        return directives
    }

    /// Records that `id` was answered lost; whether this is the first time (report it then).
    mutating func noteLost(_ id: SessionID) -> Bool {
        guard lostReported.insert(id).inserted else { return false }
        lostReportedOrder.append(id)
        if lostReportedOrder.count > Self.maxLostReported {
            let forgotten = lostReportedOrder.prefix(Self.maxLostReported / 2)
            lostReported.subtract(forgotten)
            lostReportedOrder.removeFirst(forgotten.count)
        }
        return true
    }

    /// Backup mode, a session this node does not hold: its held deltas go to `primary` with their
    /// acknowledgements (a primary applying one acknowledges the writer's `sync` commit) and are dropped here.
    mutating func passOnHeld(_ id: SessionID, to primary: NodeID?) -> [ReplicationDirective] {
        guard let waiting = held.removeValue(forKey: id), let primary, isReachable(primary) else { return [] }
        return waiting.filter { $0.delta.dot.origin != primary }.map {
            .send(.delta($0.delta, ack: $0.ack), to: primary)
        }
    }

    /// Fails every access waiting on `id` with `failure`.
    mutating func failAccesses(_ id: SessionID, _ failure: AccessFailure) -> [ReplicationDirective] {
        let tickets = accesses.waiting(on: id).map(\.ticket)
        for ticket in tickets { accesses[ticket] = nil }
        return tickets.map { .accessFailed($0, failure) }
    }

    /// Joins a full copy into the local one (creating it when absent), then applies held deltas it unblocks
    /// and settles waiting accesses.
    mutating func mergeCopy(_ session: Session, placementHint: Placement?, from peer: NodeID, now: Timestamp)
        -> [ReplicationDirective]
    {
        let id = session.id
        if let version = replicas[id]?.version {
            // Mutated in place: a local copy of the replica would make its storage be copied.
            if !version.covers(session.version) {
                if !session.version.covers(version) {
                    counters.concurrentMerges += 1
                    if settings.plantedFault == .noMerge { replicas[id]?.session = session }
                }
                replicas[id]?.session.merge(session)
                counters.snapshotsMerged += 1
            } else if let invalidation = session.content.invalidation, replicas[id]?.session.isValid == true {
                // A tombstone for an end this copy missed, from a node without the ending write
                // (`tombstone(of:for:)`): the end is joined without claiming the write's dot.
                replicas[id]?.session.content.join(SessionContent(invalidation: invalidation))
                counters.snapshotsMerged += 1
            }
            if settings.mode == .backup, replicas[id]?.placement == nil { replicas[id]?.placement = placementHint }
        } else {
            guard !session.version.isEmpty else { return [] }
            if !session.isValid && purgeTime(session) <= now { return [] }
            replicas[id] = Replica(
                session: session, localAccess: session.content.lastAccess,
                placement: settings.mode == .backup ? placementHint : nil)
            counters.snapshotsMerged += 1
        }
        observe(session.content)
        return drainHeld(id, now: now) + resolveAccesses(id, now: now, exhausted: false, timedOut: false)
    }
}
