extension ReplicationInstance {
    /// A `confirm` under way (Redis's `WAIT`): which holders of the session were asked whether they hold this
    /// node's writes to it up to `dot`, and which said yes.
    struct PendingConfirm: Sendable {
        var sessionID: SessionID
        var dot: Dot
        /// Asked, not answered yet.
        var asking: Set<NodeID>
        var confirmed: Set<NodeID> = []
        /// Completes early once this many confirmed.
        var needed: Int
        var deadline: Timestamp
        /// When the holders still asking are asked again (a copy may reach them later: a held delta, a pull).
        var nextAsk: Timestamp
    }

    /// How often a holder that has not confirmed yet is asked again.
    package static let confirmRetryMillis: Int64 = 200

    /// Redis's `WAIT`: counts the other holders of session `id` whose copy covers this node's writes to it up to
    /// `version` (a version this node answered a write with). Completes (`confirmCompleted` with the count) once
    /// `needed` confirmed, every holder asked answered or left, or after `timeoutMillis`; at once, with no commit
    /// id, when nothing is to be asked (`needed` ≤ 0, no other holder, no write of this node's in `version`).
    /// Costs nothing until called: peers acknowledge async deltas only when asked.
    package mutating func confirm(
        _ id: SessionID, upTo version: VersionVector, needed: Int, timeoutMillis: Int64, now: Timestamp
    ) -> (awaiting: CommitID?, count: Int, directives: [ReplicationDirective]) {
        let holders: [NodeID]
        if settings.mode == .backup, let placement = replicas[id]?.placement {
            holders = placement.holders.filter { $0 != me && isReachable($0) }
        } else {
            holders = peerIDs
        }
        let counter = version[me]
        guard needed > 0, !holders.isEmpty, counter > 0 else {
            // Nothing of ours to look for: every holder trivially has it.
            return (nil, counter == 0 ? holders.count : 0, [])
        }
        let commitID = nextCommitID
        nextCommitID += 1
        let dot = Dot(origin: me, counter: counter)
        confirms[commitID] = PendingConfirm(
            sessionID: id, dot: dot, asking: Set(holders), needed: needed,
            deadline: now.adding(millis: max(1, timeoutMillis)), nextAsk: now.adding(millis: Self.confirmRetryMillis))
        return (commitID, 0, holders.map { .send(.confirm(id, dot, commitID), to: $0) })
    }

    /// A peer asks whether its write `dot` of session `id` is in our copy: yes is an `.ack`, no is silence.
    func onConfirm(_ id: SessionID, _ dot: Dot, _ commitID: CommitID, from peer: NodeID) -> [ReplicationDirective] {
        guard dot.origin == peer, replicas[id]?.version.covers(dot) == true else { return [] }
        return [.send(.ack(commitID), to: peer)]
    }

    /// `peer` confirmed; nil when `commitID` names no confirm under way (a sync commit's acknowledgement).
    mutating func onConfirmed(_ commitID: CommitID, from peer: NodeID) -> [ReplicationDirective]? {
        guard var pending = confirms[commitID] else { return nil }
        guard pending.asking.remove(peer) != nil else { return [] }
        pending.confirmed.insert(peer)
        return settleConfirm(commitID, pending)
    }

    /// Completes a confirm that has what it waits for (or nothing more to wait for), stores it otherwise.
    mutating func settleConfirm(_ commitID: CommitID, _ pending: PendingConfirm, timedOut: Bool = false)
        -> [ReplicationDirective]
    {
        guard timedOut || pending.confirmed.count >= pending.needed || pending.asking.isEmpty else {
            confirms[commitID] = pending
            return []
        }
        confirms[commitID] = nil
        return [.confirmCompleted(commitID, count: pending.confirmed.count)]
    }

    /// Timer tick: confirms past their deadline complete with what they have; holders not answering are asked
    /// again every `confirmRetryMillis`.
    mutating func tickConfirms(now: Timestamp) -> [ReplicationDirective] {
        guard !confirms.isEmpty else { return [] }
        var directives = [ReplicationDirective]()
        for commitID in confirms.keys.sorted() {
            guard var pending = confirms[commitID] else { continue }
            if pending.deadline <= now {
                directives += settleConfirm(commitID, pending, timedOut: true)
            } else if pending.nextAsk <= now {
                pending.nextAsk = now.adding(millis: Self.confirmRetryMillis)
                confirms[commitID] = pending
                for holder in pending.asking.sorted() {
                    directives.append(.send(.confirm(pending.sessionID, pending.dot, commitID), to: holder))
                }
            }
        }
        return directives
    }

    /// Peers left: confirms stop waiting for them.
    mutating func confirmsLost(_ gone: Set<NodeID>) -> [ReplicationDirective] {
        guard !confirms.isEmpty, !gone.isEmpty else { return [] }
        var directives = [ReplicationDirective]()
        for commitID in confirms.keys.sorted() {
            guard var pending = confirms[commitID], !pending.asking.isDisjoint(with: gone) else { continue }
            pending.asking.subtract(gone)
            directives += settleConfirm(commitID, pending)
        }
        return directives
    }
}
