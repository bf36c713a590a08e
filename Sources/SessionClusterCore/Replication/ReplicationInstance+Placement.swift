extension ReplicationInstance {
    /// Backup mode, as primary: switches a held session to placement `next` (which names this node primary).
    /// A new backup gets a full copy (every backup does when this node was not primary before: a promoted backup
    /// cannot know what the others missed); a backup kept from the previous placement hears the new placement;
    /// holders of the previous placement (and `alsoTell`) that are not in the new one are told, so they hand their
    /// copy to the primary and drop it.
    mutating func changePlacement(_ id: SessionID, to next: Placement, alsoTell: [NodeID] = [])
        -> [ReplicationDirective]
    {
        guard replicas[id] != nil else { return [] }
        let previous = replicas[id]?.placement
        replicas[id]?.placement = next
        var directives = [ReplicationDirective]()
        let kept = previous?.primary == me ? Set(previous?.backups ?? []) : []
        for backup in next.backups {
            if !kept.contains(backup) {
                if let push = snapshot(id, to: backup) { directives.append(push) }
            } else if isReachable(backup) {
                directives.append(.send(.placement(id, next), to: backup))
            }
        }
        let obsolete = Set((previous?.holders ?? []) + alsoTell).subtracting(next.holders).subtracting([me])
        for node in obsolete.sorted() where isReachable(node) {
            directives.append(.send(.placement(id, next), to: node))
        }
        return directives
    }

    /// Backup mode: a peer announced placement `incoming` for `id`. The higher `(epoch, primary)` wins. A node
    /// the winning placement does not name hands its copy to the primary and drops it; one that it names but
    /// that holds nothing pulls a copy from the primary.
    mutating func adoptPlacement(_ id: SessionID, _ incoming: Placement, from peer: NodeID, now: Timestamp)
        -> [ReplicationDirective]
    {
        guard settings.mode == .backup else { return [] }
        guard replicas[id] != nil else {
            if incoming.holders.contains(me) {
                return ensureFetch(id, takeover: false, preferring: [incoming.primary], now: now)
            }
            remember(id, movedTo: incoming, now: now)
            return []
        }
        let local = replicas[id]?.placement
        if let local {
            if local == incoming { return [] }
            if local.supersedes(incoming) {
                // The sender is behind: tell it what we know.
                return isReachable(peer) ? [.send(.placement(id, local), to: peer)] : []
            }
        }
        replicas[id]?.placement = incoming
        var directives = [ReplicationDirective]()
        let obsolete = Set(local?.holders ?? []).subtracting(incoming.holders).subtracting([me, peer])
        for node in obsolete.sorted() where isReachable(node) {
            directives.append(.send(.placement(id, incoming), to: node))
        }
        if !incoming.holders.contains(me) {
            // Hand the copy to both new holders before dropping it: should the new primary fail right after
            // taking over, its backup still holds everything this node had.
            for holder in incoming.holders where isReachable(holder) {
                if let handoff = snapshot(id, to: holder) { directives.append(handoff) }
            }
            if replicas[id]?.session.isValid == false {
                // An end is kept until purged (a stray tombstone): the hand-off may be lost (the holders were cut
                // off when it went round), and no one else may know. Digests list it to the holders
                // (`stepDigest`), who pull it while they still show the session live.
                return directives
            }
            if pins[id] != nil {
                dropWhenUnpinned.insert(id)
                remember(id, movedTo: incoming, now: now)
            } else {
                drop(id, movedTo: incoming, now: now)
            }
        }
        return directives
    }

    /// The newer of `placement` (a peer's) and the one this node remembers for `id` (`moved`).
    func newestPlacement(_ id: SessionID, _ placement: Placement?) -> Placement? {
        [moved[id]?.placement, placement].compactMap { $0 }.max { $1.supersedes($0) }
    }

    mutating func remember(_ id: SessionID, movedTo placement: Placement, now: Timestamp) {
        let until = now.adding(millis: settings.movedRetentionMillis)
        if var known = moved[id] {
            if !known.placement.supersedes(placement) { known.placement = placement }
            known.until = until
            moved[id] = known
        } else {
            moved[id] = Moved(placement: placement, until: until, ownCounter: 0)
        }
        movedExpiry.schedule(id, at: until)
    }

    /// Backup mode: whether a node without a copy of `id` should create one from a copy that arrived with
    /// `placement`: only when that placement names it and is not older than where it knows the session went.
    func accepts(_ id: SessionID, placement: Placement?) -> Bool {
        guard let placement, placement.holders.contains(me) else { return false }
        if let known = moved[id]?.placement, !placement.supersedes(known), known != placement { return false }
        return true
    }
}
