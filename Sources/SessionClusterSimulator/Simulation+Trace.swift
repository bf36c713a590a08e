import SessionClusterCore

extension ReplicationMessage {
    /// The sessions a message is about (for tracing one session through a run).
    var sessionIDs: [SessionID] {
        switch self {
        case .delta(let delta, _): [delta.sessionID]
        case .fetch(_, let id, _), .fetchReply(_, let id, _, _), .placement(let id, _): [id]
        case .snapshot(let session, _): [session.id]
        case .transferChunk(_, let sessions, _): sessions.map(\.id)
        case .digest(_, let entries, _): entries.map(\.sessionID)
        case .confirm(let id, _, _): [id]
        case .ack, .transferRequest: []
        }
    }
}

extension Simulation {
    /// Prints one line when `traced` (set by `SIM_TRACE=<session id>` in the replay test) is involved.
    func trace(_ text: @autoclosure () -> String, about ids: [SessionID]) {
        guard let traced, ids.contains(traced) else { return }
        print("t+\(now - start) \(text())")
    }

    func describe(_ message: ReplicationMessage) -> String {
        switch message {
        case .delta(let delta, let ack):
            "delta \(delta.dot) base \(delta.base) ack \(ack.map { "\($0)" } ?? "-") inv=\(delta.patch.invalidation != nil) "
                + delta.patch.attributes.sorted { $0.key < $1.key }.map {
                    "\($0.key)=\($0.value.value.map { String(decoding: $0, as: UTF8.self) } ?? "∅")@\($0.value.stamp)"
                }.joined(separator: ",")
        case .fetch(let request, _, let takeover): "fetch #\(request) takeover=\(takeover)"
        case .fetchReply(let request, _, let session, let placement):
            "fetchReply #\(request) \(session.map { "\($0.version)" } ?? "nil") \(placement.map { "\($0)" } ?? "-")"
        case .snapshot(let session, let placement): "snapshot \(session.version) \(placement.map { "\($0)" } ?? "-")"
        case .placement(_, let placement): "placement \(placement)"
        case .transferChunk(let request, let sessions, let last):
            "transferChunk #\(request) \(sessions.map { "\($0.id)" }.joined(separator: ",")) last=\(last)"
        case .digest(let round, let entries, _): "digest r\(round) \(entries.count) entries"
        case .ack(let commitID): "ack \(commitID)"
        case .confirm(_, let dot, let commitID): "confirm \(dot) #\(commitID)"
        case .transferRequest(let request, let cursor, let chunks):
            "transferRequest #\(request) after \(cursor.map { "\($0)" } ?? "-") ×\(chunks)"
        }
    }
}
