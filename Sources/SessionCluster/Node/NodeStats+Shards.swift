import SessionClusterCore

/// The figures of a node served by several loops: each shard's runtime keeps its own, summed here.
extension NodeStats {
    /// The node's figures from its shards' (shard 0's first: it holds the node-wide ones — the clock, the log
    /// queue — which the others leave at their defaults; each shard's persistence figures are its own files').
    init(merging parts: [NodeStats]) {
        guard var total = parts.first else {
            self = .empty
            return
        }
        for part in parts.dropFirst() {
            total.sessions += part.sessions
            total.emptied += part.emptied
            total.primaries += part.primaries
            total.copies += part.copies
            for path in Self.replicationCounters { total.replication[keyPath: path] += part.replication[keyPath: path] }
            total.framesReceived += part.framesReceived
            total.framesSent += part.framesSent
            total.bytesSent += part.bytesSent
            total.malformedDropped += part.malformedDropped
            total.linksRefused += part.linksRefused
            total.linksOverflowed += part.linksOverflowed
            total.dropped.merge(part.dropped, uniquingKeysWith: +)
            total.tokensRejected += part.tokensRejected
            total.replicationLag.add(part.replicationLag)
            total.loopTurns.add(part.loopTurns)
            total.inboundLinks += part.inboundLinks
            total.linksTimedOut += part.linksTimedOut
            total.linksRejected += part.linksRejected
            total.acceptErrors += part.acceptErrors
            total.hlcMillis = max(total.hlcMillis, part.hlcMillis)
            total.persistence.add(part.persistence)
        }
        self = total
    }

    /// Every counter of `ReplicationCounters` (each is summed over the shards).
    static var replicationCounters: [WritableKeyPath<ReplicationCounters, Int>] {
        [
            \.commits,
            \.deltasSent,
            \.deltasApplied,
            \.duplicates,
            \.gapsHeld,
            \.heldDropped,
            \.fetchesSent,
            \.snapshotsSent,
            \.snapshotsMerged,
            \.conflicts,
            \.concurrentMerges,
            \.sessionsExpired,
            \.tombstonesPurged,
            \.emptyPurged,
            \.staleCreatesRefused,
            \.writesLost,
            \.sessionsLost,
            \.syncAcknowledged,
            \.syncTimedOut,
            \.takeovers,
            \.dotReuseRefused,
            \.promotions,
            \.backupsMoved,
            \.digestsSent,
            \.transfersCompleted,
            \.clockAheadRejected,
        ]
    }
}
