extension ReplicationInstance {
    /// The set of live peers changed (alive or suspect members other than this node, with their ring keys).
    ///
    /// Rebuilds the ring; stops waiting on peers that left (sync commits, fetches, a state transfer); in delta
    /// mode a joining node asks a peer for existing sessions; in backup mode backups are re-placed and
    /// orphaned sessions promoted; peers that (re)appeared get an anti-entropy digest.
    package mutating func onMembersChanged(_ members: [NodeID: String], now: Timestamp) -> [ReplicationDirective] {
        var current = members
        current[me] = nil
        let previous = peers
        guard current != previous else { return [] }
        beginTurn()
        peers = current
        if !current.isEmpty { heardFromPeers = true }
        ring = HashRing(
            members: [HashRing.Member(id: me, key: myKey)] + current.map { HashRing.Member(id: $0.key, key: $0.value) })
        let gone = Set(previous.keys).subtracting(current.keys)
        let joined = Set(current.keys).subtracting(previous.keys)
        for node in gone where !departed.contains(node) { unreachable[node] = now }
        for node in joined {
            unreachable[node] = nil
            unknownWriters[node] = nil
        }
        // A peer that left mid-round never sends its last digest chunk: forget the ids it had sent.
        for peer in gone { digestRounds[peer] = nil }

        var directives = [ReplicationDirective]()
        for commitID in commits.keys.sorted() {
            guard var pending = commits[commitID], !pending.awaiting.isDisjoint(with: gone) else { continue }
            pending.awaiting.subtract(gone)
            directives += settle(commitID, pending)
        }
        directives += confirmsLost(gone)
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
        directives += sendUnsentCommits(now: now)
        if isTransferComplete {
            for peer in joined.sorted() { directives += digest(for: peer) }
        }
        return directives
    }

    // MARK: Anti-entropy

    /// Digest rounds under way (a peer's chunks received, its last one not yet): diagnostics, bounds tests.
    package var digestRoundsInProgress: Int { digestRounds.count }

    /// A peer's digest: pull what it has newer, push what we have newer (the push-back rule of `onSnapshot`
    /// settles concurrent copies), and at the end push what it should hold but did not list.
    mutating func onDigest(round: UInt64, _ entries: [DigestEntry], last: Bool, from peer: NodeID, now: Timestamp)
        -> [ReplicationDirective]
    {
        // A joiner still receiving its transfer would pull every session twice; the transfer covers them.
        guard isTransferComplete else { return [] }
        // Taken out of the table while it grows: a copy left there would make every insert copy the whole set.
        var state: (round: UInt64, seen: Set<SessionID>)
        if let current = digestRounds.removeValue(forKey: peer), current.round == round {
            state = current
        } else {
            // Room for every id at once: growing the set by rehashing would stall one chunk's turn for O(ids).
            state = (round: round, seen: Set(minimumCapacity: replicas.count))
        }
        var directives = [ReplicationDirective]()
        for entry in entries {
            // Only ids held here matter at the end of the round: the set stays bounded by what we hold,
            // whatever ids the peer lists.
            if replicas[entry.sessionID] != nil { state.seen.insert(entry.sessionID) }
            if settings.mode == .backup, replicas[entry.sessionID] == nil,
                let tombstone = tombstone(of: entry.sessionID, for: entry.version)
            {
                // It holds a live copy of a session that ended while it was cut off: end it there too. (In delta
                // mode the ending delta waits here for the copy, and every holder keeps the tombstone.)
                counters.snapshotsSent += 1
                directives.append(
                    .send(.snapshot(tombstone, newestPlacement(entry.sessionID, entry.placement)), to: peer))
                continue
            }
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
            if digestRounds.count > max(16, 2 * peers.count) {
                // Rounds of nodes that are no longer peers will never end: forget them.
                digestRounds = digestRounds.filter { isPeer($0.key) || $0.key == peer }
            }
            return directives
        }
        digestRounds[peer] = nil
        directives += startPushBack(to: peer, seen: state.seen)
        return directives
    }
}
