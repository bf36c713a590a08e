/// The bound on how far ahead of this node's clock a peer's stamps may be (`maxClockDriftMillis`).
///
/// Every stamp a node observes raises its hybrid logical clock, and every later write of the node is stamped
/// after it: without a bound, one node whose clock runs an hour ahead drags every node's clock an hour ahead,
/// and its writes win last-writer-wins against every write made in that hour. So, as CockroachDB does, a
/// message whose stamps (attribute, max-inactive and invalidation stamps, or last access) run more than the
/// bound ahead of local time is refused rather than observed: it is not applied, not acknowledged, and counted
/// (`clockAheadRejected`), with an event naming the peer at most every `clockAheadReportMillis`.
///
/// Why refuse rather than apply and clamp the local clock: clamping keeps the far-future stamps in the
/// session, so they would still win against every later write for as long as the skew lasts (forever for a
/// clock set to a wrong year), and a write made after seeing them would lose — breaking the very order the
/// HLC exists for. Refusing isolates the node with the bad clock instead: its changes (logouts included) do
/// not reach the others until its clock is fixed, and the others say so loudly. Sessions in a state-transfer
/// chunk are judged one by one, so one bad copy does not stall a joiner's transfer.
extension ReplicationInstance {
    /// Least interval (ms) between two `clockAhead` events (the counter counts every refusal).
    package static let clockAheadReportMillis: Int64 = 10_000

    /// This node's hybrid logical clock reading (diagnostics: drift bound checks, `/cluster/stats`).
    package var clockReading: HLCTimestamp { clock.last }

    /// `message` from `peer` with everything too far ahead of `now` taken out: nil when nothing usable is left.
    mutating func withinClockBound(_ message: ReplicationMessage, from peer: NodeID, now: Timestamp)
        -> (message: ReplicationMessage?, directives: [ReplicationDirective])
    {
        let limit = now.millis.addingReportingOverflow(settings.maxClockDriftMillis)
        let bound = limit.overflow ? Int64.max : limit.partialValue
        var worst: Int64 = .min
        func tooFar(_ content: SessionContent) -> Bool {
            let latest = Self.latestMillis(content)
            guard latest > bound else { return false }
            worst = max(worst, latest)
            return true
        }
        var kept: ReplicationMessage? = message
        switch message {
        case .delta(let delta, _):
            if tooFar(delta.patch) { kept = nil }
        case .snapshot(let session, _):
            if tooFar(session.content) { kept = nil }
        case .fetchReply(_, _, let session?, _):
            // Dropped, not answered "none": the fetch asks the next holder when this one times out.
            if tooFar(session.content) { kept = nil }
        case .transferChunk(let request, let sessions, let last):
            let fit = sessions.filter { !tooFar($0.content) }
            if fit.count < sessions.count { kept = .transferChunk(request, fit, last: last) }
        case .ack, .fetch, .fetchReply, .placement, .transferRequest, .digest, .confirm:
            break
        }
        guard worst > .min else { return (kept, []) }
        counters.clockAheadRejected += 1
        let ahead = worst.subtractingReportingOverflow(now.millis)
        let aheadMillis = ahead.overflow ? Int64.max : ahead.partialValue
        guard lastClockAheadReport.map({ now.millis(since: $0) >= Self.clockAheadReportMillis }) ?? true else {
            return (kept, [])
        }
        lastClockAheadReport = now
        return (kept, [.event(.clockAhead(peer: peer, aheadMillis: aheadMillis))])
    }

    /// The latest time (ms) `content` carries: its stamps and its last access.
    static func latestMillis(_ content: SessionContent) -> Int64 {
        var latest = content.lastAccess.millis
        for stamp in content.attributes.stamps { latest = max(latest, stamp.time.wall) }
        if let stamp = content.maxInactiveStamp { latest = max(latest, stamp.time.wall) }
        if let invalidation = content.invalidation { latest = max(latest, invalidation.stamp.time.wall) }
        return latest
    }
}
