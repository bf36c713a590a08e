extension ReplicationInstance {
    /// The set of live peers changed (alive or suspect members other than this node, with their ring keys).
    ///
    /// Rebuilds the ring; stops waiting on peers that left (sync commits, fetches, a state transfer); in delta
    /// mode a joining node asks a peer for existing sessions; in backup mode backups are re-placed and
    /// orphaned sessions promoted; peers that (re)appeared get an anti-entropy digest.
    public mutating func onMembersChanged(_ members: [NodeID: String], now: Timestamp) -> [ReplicationDirective] {
        var current = members
        current[me] = nil
        let previous = peers
        guard current != previous else { return [] }
        peers = current
        ring = HashRing(
            members: [HashRing.Member(id: me, key: myKey)] + current.map { HashRing.Member(id: $0.key, key: $0.value) })
        let gone = Set(previous.keys).subtracting(current.keys)
        let joined = Set(current.keys).subtracting(previous.keys)
        for node in gone where !departed.contains(node) { unreachable[node] = now }
        for node in joined {
            unreachable[node] = nil
            unknownWriters[node] = nil
        }

        var directives = [ReplicationDirective]()
        for commitID in commits.keys.sorted() {
            guard var pending = commits[commitID], !pending.awaiting.isDisjoint(with: gone) else { continue }
            pending.awaiting.subtract(gone)
            directives += settle(commitID, pending)
        }
        for request in fetches.keys.sorted() where gone.contains(fetches[request]?.asking ?? me) {
            directives += advanceFetch(request, now: now, timedOut: false)
        }
        switch transfer {
        case .waitingForPeers where !current.isEmpty:
            directives += requestTransfer(now: now, after: nil)
        case .receiving(let progress) where gone.contains(progress.donor):
            directives += requestTransfer(now: now, after: progress.donor)
        default:
            break
        }
        directives += replaceAfterMembershipChange(now: now)
        if isTransferComplete {
            for peer in joined.sorted() { directives += digest(for: peer) }
        }
        return directives
    }

    // MARK: Anti-entropy

    /// The digest of the sessions `peer` should hold: all of them in delta mode; in backup mode those this
    /// node is primary for with `peer` as backup. Always at least one (possibly empty) final chunk.
    mutating func digest(for peer: NodeID) -> [ReplicationDirective] {
        let ids = replicas.keys.filter { id in
            guard settings.mode == .backup else { return true }
            guard let placement = replicas[id]?.placement else { return false }
            return (placement.primary == me && placement.backup == peer)
                || (placement.primary == peer && placement.backup == me)
        }.sorted()
        let round = nextDigestRound
        nextDigestRound += 1
        counters.digestsSent += 1
        var directives = [ReplicationDirective]()
        var start = 0
        repeat {
            let end = min(ids.count, start + settings.digestChunkEntries)
            let entries = ids[start..<end].compactMap { id in
                replicas[id].map { DigestEntry(sessionID: id, version: $0.session.version, placement: $0.placement) }
            }
            directives.append(.send(.digest(round: round, entries, last: end == ids.count), to: peer))
            start = end
        } while start < ids.count
        return directives
    }

    /// A peer's digest: pull what it has newer, push what we have newer (the push-back rule of `onSnapshot`
    /// settles concurrent copies), and at the end push what it should hold but did not list.
    mutating func onDigest(round: UInt64, _ entries: [DigestEntry], last: Bool, from peer: NodeID, now: Timestamp)
        -> [ReplicationDirective]
    {
        // A joiner still receiving its transfer would pull every session twice; the transfer covers them.
        guard isTransferComplete else { return [] }
        var state = digestRounds[peer].flatMap { $0.round == round ? $0 : nil } ?? (round: round, seen: [])
        var directives = [ReplicationDirective]()
        for entry in entries {
            state.seen.insert(entry.sessionID)
            if settings.mode == .backup {
                // The sender believes we two hold this session. Where we know better, tell it; it adopts the
                // newer placement or answers with its own (see `adoptPlacement`).
                let known = replicas[entry.sessionID]?.placement ?? moved[entry.sessionID]?.placement
                if let known, let theirs = entry.placement, known != theirs {
                    if theirs.supersedes(known) {
                        directives += adoptPlacement(entry.sessionID, theirs, from: peer, now: now)
                    } else {
                        directives.append(.send(.placement(entry.sessionID, known), to: peer))
                        continue
                    }
                }
            }
            if let replica = replicas[entry.sessionID] {
                if !entry.version.covers(replica.session.version) {
                    if let push = snapshot(entry.sessionID, to: peer) { directives.append(push) }
                } else if !replica.session.version.covers(entry.version) {
                    directives += ensureFetch(entry.sessionID, takeover: false, preferring: [peer], now: now)
                }
            } else {
                directives += ensureFetch(entry.sessionID, takeover: false, preferring: [peer], now: now)
            }
        }
        guard last else {
            digestRounds[peer] = state
            return directives
        }
        digestRounds[peer] = nil
        for id in replicas.keys.sorted() where !state.seen.contains(id) {
            let shouldHold: Bool
            switch settings.mode {
            case .delta: shouldHold = true
            case .backup:
                let placement = replicas[id]?.placement
                shouldHold = placement.map { $0.holders.contains(peer) && $0.holders.contains(me) } ?? false
            }
            if shouldHold, let push = snapshot(id, to: peer) { directives.append(push) }
        }
        return directives
    }
}
