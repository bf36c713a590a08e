extension ReplicationInstance {
    /// The held copies by session id, counting the valid ones (and those this node is primary for) as they change,
    /// and every copy scheduled for its next maintenance check.
    ///
    /// The shell checks its session limit on every create and reads the counts on every stats scrape: a scan of
    /// every copy per call would make filling a node quadratic and stall its loop (each copy is a pointer away, so
    /// a scan misses the cache once per session). Likewise the sweep takes only the copies due (`due`) and the
    /// windowed walks (state transfer, digests, re-placement) take the next ids in the table's order
    /// (`ids(after:limit:)`).
    struct ReplicaTable: Sendable, Sequence {
        private var replicas: ReplicaSlots
        /// How many held copies are valid sessions.
        private(set) var liveCount = 0
        /// How many of those are emptied: they have attribute entries and every one is a tombstone (a deleted Redis
        /// key; an HTTP session whose attributes were all removed). The session limit leaves them out (they hold
        /// nothing), and bounds them separately (`ReplicationInstance.admitsCreate(limit:)`).
        private(set) var emptiedCount = 0
        /// How many held copies are valid sessions whose placement names this node primary (backup mode).
        private(set) var primaryCount = 0
        /// When the sweep should look at the held copies next (a lower bound: see `MaintenanceRule.nextCheck`), by
        /// the 32-bit prefix of their position (`SessionOrder.prefix(of:)`): 4 bytes an entry instead of a 16-byte
        /// id. A due prefix stands for every copy that has it (`takeDue`), one copy but for one in a few thousand
        /// at 1,000,000 held.
        private var due: DeadlineQueue<UInt32>
        let rule: MaintenanceRule
        /// Ids whose copy got a new version (or was installed) since the last `takeChanged`; nil while not tracked
        /// (only the append log of persistence `log` mode tracks them).
        private(set) var changed: Set<SessionID>?

        init(rule: MaintenanceRule, order: SessionOrder) {
            self.rule = rule
            self.replicas = ReplicaSlots(order: order)
            self.due = DeadlineQueue(granularity: rule.granularityMillis)
        }

        /// The order the copies are kept and walked in.
        var order: SessionOrder { replicas.order }

        subscript(id: SessionID) -> Replica? {
            get { replicas[id] }
            // Assignments and in-place mutations both come through here, so every change is seen: validity and
            // primacy counted, and the copy scheduled again when its next check moved earlier (a copy's entry MUST
            // never be later than its check).
            _modify {
                // One lookup: the copy is moved out of its slot while the caller mutates it (so it stays uniquely
                // referenced and is changed in place), then put back, dropped or inserted.
                let index = replicas.index(of: id)
                var replica = index.flatMap { replicas.take(at: $0) }
                let tracking = changed != nil
                let before = replica.map {
                    (
                        rule.isLive($0), rule.isPrimary($0), rule.nextCheck($0), tracking ? $0.version : nil,
                        $0.isEmptied
                    )
                }
                defer {
                    // The table finds a copy by the id inside it: the copy stored under `id` carries `id`.
                    if let held = replica, held.id != id { replica?.session.id = id }
                    switch (index, replica) {
                    case (let index?, let held?): replicas.put(held, at: index)
                    case (let index?, nil): replicas.remove(at: index)
                    case (nil, let held?): replicas.insert(held)
                    case (nil, nil): break
                    }
                    let after = replica.map {
                        (
                            rule.isLive($0), rule.isPrimary($0), rule.nextCheck($0), tracking ? $0.version : nil,
                            $0.isEmptied
                        )
                    }
                    if tracking, let version = after?.3, version != before?.3, !version.isEmpty {
                        changed?.insert(id)
                    }
                    if before?.0 != after?.0 { liveCount += after?.0 == true ? 1 : before?.0 == true ? -1 : 0 }
                    if before?.1 != after?.1 { primaryCount += after?.1 == true ? 1 : before?.1 == true ? -1 : 0 }
                    if before?.4 != after?.4 { emptiedCount += after?.4 == true ? 1 : before?.4 == true ? -1 : 0 }
                    if let next = after?.2, before.map({ next < $0.2 }) ?? true { schedule(id, at: next) }
                }
                yield &replica
            }
        }

        /// Records an access served here at `now` on the copy of `id` (`Replica.noteAccess`), past the subscript's
        /// before/after comparison: an access moves only the copy's local access, which changes no count and no
        /// version, and moves the copy's next check only later (a valid copy's deadline runs from it; nothing else
        /// reads it) — and a check that moves later needs no new entry. Every access and every commit notes one: the
        /// comparison (a session assembled and the counted states read, before and after) would double its cost.
        mutating func noteAccess(_ id: SessionID, at now: Timestamp) {
            guard let index = replicas.index(of: id), var replica = replicas.take(at: index) else { return }
            replica.noteAccess(at: now)
            replicas.put(replica, at: index)
        }

        /// Schedules the sweep's next look at the copy of `id` (and any other whose position shares its prefix).
        mutating func schedule(_ id: SessionID, at time: Timestamp) {
            due.schedule(replicas.order.prefix(of: id), at: time)
        }

        /// When the earliest scheduled look falls due, if any.
        var nextDue: Timestamp? { due.nextDue }

        /// The held ids whose check may be due by `now`, for about `limit` visits: every copy whose position has a
        /// prefix due, earliest entries first, then by prefix and position. `visits` counts the copies, and an
        /// entry that found none as one; a prefix whose copies would take the visits past `limit` is left due for
        /// the next call (unless it is the first). `more`: the call stopped at its limit.
        mutating func takeDue(now: Timestamp, limit: Int) -> (ids: [SessionID], visits: Int, more: Bool) {
            let prefixes = due.takeDue(now: now, limit: limit)
            var ids = [SessionID]()
            ids.reserveCapacity(prefixes.count)
            var visits = 0
            for (index, prefix) in prefixes.enumerated() {
                let sharing = replicas.ids(withPrefix: prefix)
                let cost = Swift.max(1, sharing.count)
                if visits > 0 && visits + cost > limit {
                    due.scheduleDue(prefixes[index...], now: now)
                    return (ids, visits, true)
                }
                ids += sharing
                visits += cost
            }
            return (ids, visits, prefixes.count >= limit)
        }

        /// Up to `limit` held ids after `cursor` in the table's order (`SessionOrder`; from the first when nil).
        func ids(after cursor: SessionID?, limit: Int) -> [SessionID] {
            replicas.ids(after: cursor, limit: limit)
        }

        /// Makes room for `count` copies in all (a restore of a million: the table does not grow by doubling).
        mutating func reserveCapacity(_ count: Int) {
            replicas.reserveCapacity(count)
        }

        /// Starts (or stops) recording the ids of copies that change version.
        mutating func trackChanges(_ on: Bool) {
            changed = on ? (changed ?? []) : nil
        }

        /// The ids recorded since the last call (and forgets them).
        mutating func takeChanged() -> Set<SessionID> {
            guard let ids = changed, !ids.isEmpty else { return [] }
            changed = []
            return ids
        }

        /// The copies themselves (copy-on-write: holding this costs nothing until the table next changes, then one
        /// copy of the slots).
        var all: ReplicaSlots { replicas }

        var keys: LazyMapSequence<ReplicaSlots, SessionID> { replicas.lazy.map(\.key) }
        var values: LazyMapSequence<ReplicaSlots, Replica> { replicas.lazy.map(\.value) }
        var count: Int { replicas.count }

        func makeIterator() -> ReplicaSlots.Iterator { replicas.makeIterator() }
    }

    /// When a held copy needs the sweep, from the settings and this node's id alone (the table cannot see the ring).
    struct MaintenanceRule: Sendable {
        var me: NodeID
        var mode: ReplicationMode
        var defaultMaxInactiveSeconds: Int64
        var accessRefreshMillis: Int64
        var tombstoneRetentionMillis: Int64
        var granularityMillis: Int64

        init(settings: ReplicationSettings, me: NodeID) {
            self.me = me
            mode = settings.mode
            defaultMaxInactiveSeconds = settings.defaultMaxInactiveSeconds
            accessRefreshMillis = settings.accessRefreshMillis
            tombstoneRetentionMillis = settings.tombstoneRetentionMillis
            granularityMillis = settings.sweepIntervalMillis
        }

        func isLive(_ replica: Replica) -> Bool { replica.isValid }

        func isPrimary(_ replica: Replica) -> Bool { replica.isValid && replica.placement?.primary == me }

        /// The earliest time the sweep may act on the copy: at once for a backup-mode copy no placement names
        /// (a stray), the purge time for a tombstone, and the session's deadline plus the expiry owner's slack
        /// for a valid one (a copy that is not the owner waits longer; the sweep re-schedules it).
        func nextCheck(_ replica: Replica) -> Timestamp {
            if mode == .backup, let placement = replica.placement, !placement.holders.contains(me) {
                return .zero
            }
            // One read of the session (each assembles it from the copy's buffer).
            let session = replica.session
            guard session.isValid else { return purgeTime(session) }
            let maxInactive = session.maxInactiveSeconds(default: defaultMaxInactiveSeconds)
            let slack =
                maxInactive > 0
                ? min(accessRefreshMillis, maxInactive.saturatingMultiplied(by: 250)) : accessRefreshMillis
            let deadline = session.deadline(
                lastAccess: replica.localAccess, defaultMaxInactive: defaultMaxInactiveSeconds
            )
            .adding(millis: slack)
            return emptyPurgeTime(session).map { min($0, deadline) } ?? deadline
        }

        /// When a valid session that never expires by inactivity (`maxInactive` ≤ 0: a Redis key's) and holds no
        /// live attribute may be forgotten: `tombstoneRetentionMillis` after its newest write, like a tombstone.
        /// Nil for any other session. (A key deleted or expired leaves such a session; without this every key
        /// ever written would stay.)
        func emptyPurgeTime(_ session: Session) -> Timestamp? {
            guard let maxInactive = session.content.maxInactive, maxInactive <= 0 else { return nil }
            guard !session.content.attributes.hasLiveValue else { return nil }
            var newest = session.content.maxInactiveStamp?.time.wall ?? 0
            for stamp in session.content.attributes.stamps { newest = max(newest, stamp.time.wall) }
            return Timestamp(millis: max(newest, session.content.lastAccess.millis))
                .adding(millis: tombstoneRetentionMillis)
        }

        /// When a tombstone may be forgotten: after the session's deadline or its invalidation, whichever is
        /// later, plus `tombstoneRetentionMillis`.
        func purgeTime(_ session: Session) -> Timestamp {
            let deadline = session.deadline(
                lastAccess: session.content.lastAccess, defaultMaxInactive: defaultMaxInactiveSeconds)
            let ended = Timestamp(millis: session.content.invalidation?.stamp.time.wall ?? 0)
            return max(deadline, ended).adding(millis: tombstoneRetentionMillis)
        }
    }
}
