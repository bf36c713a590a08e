extension ReplicationInstance {
    /// Requests waiting for a copy, by ticket and by session.
    ///
    /// Every delta applied, copy merged or fetch answered settles the accesses waiting on its session: looked up
    /// by session, that is the accesses of that session only, not a scan of every pending one.
    struct AccessTable: Sendable {
        private var byTicket: [AccessTicket: PendingAccess] = [:]
        /// Tickets waiting on each session, in the order they arrived (tickets ascend).
        private var bySession: [SessionID: [AccessTicket]] = [:]

        subscript(ticket: AccessTicket) -> PendingAccess? {
            get { byTicket[ticket] }
            set {
                if let old = byTicket[ticket] {
                    bySession[old.sessionID]?.removeAll { $0 == ticket }
                    if bySession[old.sessionID]?.isEmpty == true { bySession[old.sessionID] = nil }
                }
                byTicket[ticket] = newValue
                if let newValue {
                    bySession[newValue.sessionID, default: []].append(ticket)
                    bySession[newValue.sessionID]?.sort()
                }
            }
        }

        var keys: Dictionary<AccessTicket, PendingAccess>.Keys { byTicket.keys }
        var isEmpty: Bool { byTicket.isEmpty }
        var count: Int { byTicket.count }

        /// The accesses waiting on `id`, by ticket.
        func waiting(on id: SessionID) -> [PendingAccess] {
            (bySession[id] ?? []).compactMap { byTicket[$0] }
        }

        /// Whether any access waits on `id`.
        func hasWaiting(on id: SessionID) -> Bool { bySession[id] != nil }
    }
}
