// State transfer (delta mode): a joining node pulls every session a peer holds, a window at a time.
//
// The joiner asks for `transferWindowChunks` chunks of the sessions that sort after its cursor in the donor's order
// (its replica table's, `SessionOrder`: keyed by a secret of the donor's process); the donor answers with that many
// chunks in that order (fewer, the final one marked `last`, when it runs out). When the whole window has arrived,
// the cursor moves to the last id of the chunk that arrived last — the window's last id, as a window's chunks leave
// in order over one link — and the next window is asked for. Every chunk extends the deadline. The donor keeps no
// state between requests and does bounded work per request.
//
// The cursor can only be judged by the donor: the joiner cannot compare ids in the donor's order. Chunks that
// arrive out of order (the simulator reorders) leave it at an earlier chunk's last id; the next window then starts
// earlier and sends some sessions again (merged as any copy), never leaving a gap behind the cursor. The window in
// progress is asked for again whole (the cursor moves only when a whole window arrived), so a chunk that was lost
// or arrives late leaves no gap either.
//
// Resume, not restart: when the donor leaves or stalls, the next peer is asked for the window after the same
// cursor. Orders are keyed per process, so in the new donor's the cursor falls at an unrelated point: it sends what
// it orders after the cursor, and what it orders before it that the first donor had not sent comes by the closing
// digest (below). Starting again from the first would send again all that arrived, and a transfer that keeps losing
// donors (the simulator drops chunks) might never end.
//
// Sessions that sort below the cursor yet reach the donor after the cursor passed them are new ones. A node
// sends its deltas to the joiner once its membership lists the joiner; a session created before that, and
// passed over by the cursor, comes neither by delta nor in a chunk. The digest the joiner sends its last donor
// at the end makes the donor push whatever the joiner did not list: those, and what a change of donor passed over.
//
// Order is free: copies are joined (`mergeCopy`), so a transferred copy older than what deltas brought meanwhile
// changes nothing, and a late chunk of an abandoned request is merged like any copy.

extension ReplicationInstance {
    /// A delta-mode joiner's progress through its state transfer.
    struct TransferProgress: Sendable, Equatable {
        var donor: NodeID
        /// The request of the window in flight; chunks answering an older one are merged but move nothing.
        var request: RequestID
        /// Every session up to this id in the donor's order arrived (nil: none yet); the next window starts after
        /// it (in the order of whichever peer is asked).
        var cursor: SessionID?
        /// The last id of the window's chunk that arrived last: the cursor once the whole window arrived.
        var windowLast: SessionID?
        /// Chunks of the window in flight not yet received.
        var awaiting: Int
        var started: Timestamp
        /// When the donor counts as stalled: `transferTimeoutMillis` after the request or the latest chunk.
        var deadline: Timestamp
        /// Sessions received so far, from every donor.
        var sessions: Int
    }

    /// Asks the next peer (by id, after `after`, wrapping round) for the window after the transfer's cursor. A
    /// transfer under way keeps its progress: the new donor continues after the cursor in its own order (see the
    /// top of this file for what that passes over).
    mutating func requestTransfer(now: Timestamp, after: NodeID?) -> [ReplicationDirective] {
        let progress: TransferProgress?
        switch transfer {
        case .waitingForPeers(let resume): progress = resume
        case .receiving(let current): progress = current
        case .done: return []
        }
        let candidates = peerIDs
        guard
            let donor = after.flatMap({ previous in candidates.first { $0 > previous } }) ?? candidates.first
        else {
            transfer = .waitingForPeers(progress)
            return []
        }
        var next =
            progress
            ?? TransferProgress(
                donor: donor, request: 0, cursor: nil, windowLast: nil, awaiting: 0, started: now, deadline: now,
                sessions: 0)
        next.donor = donor
        let request = requestWindow(&next, now: now)
        transfer = .receiving(next)
        return [request, .event(.transferStarted(from: donor))]
    }

    /// Asks `progress.donor` for the window after the cursor, under a new request id.
    private mutating func requestWindow(_ progress: inout TransferProgress, now: Timestamp) -> ReplicationDirective {
        let chunks = UInt8(clamping: max(1, settings.transferWindowChunks))
        progress.request = allocateRequestID()
        progress.windowLast = nil
        progress.awaiting = Int(chunks)
        progress.deadline = now.adding(millis: settings.transferTimeoutMillis)
        return .send(.transferRequest(progress.request, after: progress.cursor, chunks: chunks), to: progress.donor)
    }

    /// A joining peer pulls a window: up to `chunks` chunks of the sessions that sort after `cursor` in this
    /// node's order (`SessionOrder`), in that order, tombstones included (they keep invalidated sessions from
    /// coming back). Only the window's ids are looked at (`ReplicaTable.ids(after:limit:)`).
    mutating func onTransferRequest(_ request: RequestID, after cursor: SessionID?, chunks: UInt8, from peer: NodeID)
        -> [ReplicationDirective]
    {
        let size = settings.transferChunkSessions
        let window = max(1, Int(chunks)) * size
        // One id more than the window says whether the window is the last. Taken from the ordered table: O(window).
        let ids = replicas.ids(after: cursor, limit: window + 1)
        var directives = [ReplicationDirective]()
        var start = 0
        // Exactly `chunks` chunks unless the ids run out (the receiver counts them). A chunk ends at `size`
        // sessions or `transferChunkBytes`, whichever comes first; the receiver's cursor moves to the last id it
        // got, so a window cut short by bytes simply makes the next one start earlier.
        var produced = 0
        repeat {
            var chunk = [Session]()
            var bytes = 0
            var end = start
            while end < ids.count, chunk.count < size, chunk.isEmpty || bytes < settings.transferChunkBytes {
                if let session = replicas[ids[end]]?.session {
                    chunk.append(session)
                    bytes += session.estimatedBytes
                }
                end += 1
            }
            directives.append(.send(.transferChunk(request, chunk, last: end == ids.count), to: peer))
            counters.snapshotsSent += chunk.count
            start = end
            produced += 1
        } while produced < max(1, Int(chunks)) && start < ids.count
        return directives
    }

    /// One chunk of our state transfer arrived: merge it; when its window is complete, ask for the next.
    mutating func onTransferChunk(
        _ request: RequestID, _ sessions: [Session], last: Bool, from peer: NodeID, now: Timestamp
    ) -> [ReplicationDirective] {
        var directives = [ReplicationDirective]()
        for session in sessions { directives += mergeCopy(session, placementHint: nil, from: peer, now: now) }
        guard case .receiving(var progress) = transfer, progress.donor == peer, progress.request == request else {
            return directives
        }
        progress.sessions += sessions.count
        progress.deadline = now.adding(millis: settings.transferTimeoutMillis)
        progress.awaiting -= 1
        // The donor's order is not known here: a chunk's sessions come in it, and the window's chunks leave in it.
        if let lastID = sessions.last?.id { progress.windowLast = lastID }
        if last {
            transfer = .done
            counters.transfersCompleted += 1
            directives.append(
                .event(
                    .transferCompleted(
                        from: peer, sessions: progress.sessions, millis: now.millis(since: progress.started))))
            // What the cursor passed over before every node sent us its deltas (see the top of this file).
            return directives + digest(for: peer)
        }
        if progress.awaiting <= 0 {
            if let lastID = progress.windowLast { progress.cursor = lastID }
            directives.append(requestWindow(&progress, now: now))
        }
        transfer = .receiving(progress)
        return directives
    }
}
