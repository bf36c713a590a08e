import Testing

@testable import SessionClusterCore

/// Maintenance does a bounded amount of work per loop turn whatever the number of sessions held (issue 10,
/// finding 7), and still does all of it: every session expires on time, every backup is re-placed, every id is
/// listed in a digest. Counted, not timed: `maintenance.visitedLastTurn` is what one event looked at.
@Suite struct IncrementalMaintenanceTests {
    let me = NodeID(rawValue: 1)
    let peer = NodeID(rawValue: 2)
    let joiner = NodeID(rawValue: 3)
    let start = Timestamp(millis: 1_700_000_000_000)

    func settings(_ mode: ReplicationMode, batch: Int) -> ReplicationSettings {
        var settings = ReplicationSettings(mode: mode, ack: .async)
        settings.maintenanceBatch = batch
        settings.sweepIntervalMillis = 1_000
        settings.accessRefreshMillis = 1_000
        settings.expiryGraceMillis = 5_000
        settings.antiEntropyIntervalMillis = 3_600_000
        return settings
    }

    /// An instance whose (empty) state transfer from `peer` is complete, holding `count` sessions made here.
    func instance(_ mode: ReplicationMode, batch: Int, sessions count: Int, maxInactive: (Int) -> Int64)
        -> (ReplicationInstance, [SessionID])
    {
        var node = ReplicationInstance(settings: settings(mode, batch: batch), me: me, key: "n1", now: start)
        for directive in node.onMembersChanged([peer: "n2"], now: start) {
            if case .send(.transferRequest(let request, _, _), let donor) = directive {
                _ = node.onMessage(.transferChunk(request, [], last: true), from: donor, now: start)
            }
        }
        var random = SplitMix64(seed: 42)
        var ids = [SessionID]()
        for index in 0..<count {
            var changes = SessionChanges()
            changes.setMaxInactive(seconds: maxInactive(index))
            let id = SessionID(using: &random)
            _ = node.create(id, changes: changes, now: start)
            ids.append(id)
        }
        return (node, ids)
    }

    @Test func sweepLooksAtABatchPerTickAndExpiresEverySessionOfAHundredThousand() {
        let count = 100_000
        // All due in the same second: the worst case for a per-tick bound.
        let made = instance(.delta, batch: 512, sessions: count, maxInactive: { _ in 10 })
        var node = made.0
        let ids = made.1
        var now = start.adding(millis: 5_000)
        #expect(node.onTick(now: now) == [])
        #expect(node.maintenance.visitedLastTurn == 0)  // nothing due: nothing looked at (a full scan before)

        #expect(!node.hasMaintenanceBacklog)
        now = start.adding(millis: 10_000 + 1_000 + 5_000)  // past every copy's deadline, grace included
        var ticks = 0
        while node.liveSessionCount > 0 && ticks < 1_000 {
            _ = node.onTick(now: now)
            #expect(node.maintenance.visitedLastTurn <= 512)
            // More due than a batch: the shell ticks again sooner (`NodeRuntime.backlogTickMillis`).
            if node.liveSessionCount > 512 { #expect(node.hasMaintenanceBacklog) }
            now = now.adding(millis: 50)
            ticks += 1
        }
        #expect(node.liveSessionCount == 0)
        #expect(node.counters.sessionsExpired == count)
        // Some copies are looked at twice (not the expiry owner: checked once more after the grace).
        #expect(ticks >= count / 512 && ticks <= 2 * count / 512 + 2)
        #expect(ids.allSatisfy { node.session($0)?.content.invalidation?.reason == .expired })

        // The tombstones are forgotten after their retention, a batch per tick too.
        now = now.adding(millis: node.settings.tombstoneRetentionMillis + 1_000)
        ticks = 0
        while node.copyCount > 0 && ticks < 1_000 {
            _ = node.onTick(now: now)
            #expect(node.maintenance.visitedLastTurn <= 512)
            now = now.adding(millis: 50)
            ticks += 1
        }
        #expect(node.copyCount == 0)
        #expect(node.counters.tombstonesPurged == count)
    }

    @Test func expiryComesAtEachSessionsOwnDeadlineAndAnAccessPostponesIt() throws {
        // The ring decides the expiry owner; with one peer, a session's copy here is owner or not.
        let made = instance(.delta, batch: 64, sessions: 40, maxInactive: { 2 + Int64($0 % 4) })
        var node = made.0
        let ids = made.1
        let ring = HashRing(members: [HashRing.Member(id: me, key: "n1"), HashRing.Member(id: peer, key: "n2")])
        let accessed = try #require(
            ids.first { ring.first(of: $0) == me && node.session($0)!.maxInactiveSeconds(default: 0) == 2 })
        // Accessed 1.5 s in: its deadline moves from 2 s to 3.5 s after the start.
        let later = start.adding(millis: 1_500)
        #expect(node.access(accessed, token: nil, ticket: 1, now: later).count == 1)
        _ = node.commit(accessed, changes: SessionChanges(), now: later)

        func expiry(of id: SessionID) -> Int64 {
            let seconds = node.session(id)!.maxInactiveSeconds(default: 0)
            let owner = ring.first(of: id) == me
            let base = id == accessed ? 1_500 + seconds * 1_000 : seconds * 1_000
            // + access refresh slack: the refresh interval, a quarter of a short max-inactive interval (+ grace)
            return base + min(1_000, seconds * 250) + (owner ? 0 : 5_000)
        }
        let expiredAt = expiryTimes(on: &node, through: 12_000)
        #expect(expiredAt.count == ids.count)
        for id in ids {
            let due = expiry(of: id)
            let at = try #require(expiredAt[id])
            // Never early, and at most one sweep interval (the bucket width) late.
            #expect(at >= due && at <= due + 1_000, "\(id): due \(due), expired at \(at)")
        }
    }

    /// A session of a short max-inactive interval expires a quarter interval after its deadline at the owner, not
    /// the default 60 s access refresh later (a fresh-eyes finding: a 1 s key lived 62 s).
    @Test func aShortSessionExpiresWithinAQuarterOfItsIntervalNotTheDefaultRefresh() {
        var settings = settings(.delta, batch: 64)
        settings.accessRefreshMillis = 60_000
        settings.sweepIntervalMillis = 200
        var node = ReplicationInstance(settings: settings, me: me, key: "n1", now: start)
        var changes = SessionChanges()
        changes.setMaxInactive(seconds: 1)
        let id = SessionID(high: 1, low: 2)
        _ = node.create(id, changes: changes, now: start)
        var expiredAt: Int64?
        var millis: Int64 = 0
        while millis <= 70_000 && expiredAt == nil {
            for directive in node.onTick(now: start.adding(millis: millis)) {
                if case .event(.sessionExpired(id)) = directive { expiredAt = millis }
            }
            millis += 50
        }
        #expect(expiredAt.map { $0 >= 1_250 && $0 <= 1_250 + 200 + 50 } == true, "expired at \(expiredAt ?? -1) ms")
    }

    @Test func backupsAreReplacedOverTicksInBoundedStepsAndAllOfThemEventually() throws {
        let count = 5_000
        let made = instance(.backup, batch: 256, sessions: count, maxInactive: { _ in 1_800 })
        var node = made.0
        let ids = made.1
        #expect(node.primaryCount == count)
        let now = start.adding(millis: 10)
        _ = node.onMembersChanged([peer: "n2", joiner: "n3"], now: now)
        #expect(node.maintenance.visitedLastTurn <= 256)
        #expect(node.maintenance.replacing)
        var ticks = 0
        while node.maintenance.replacing && ticks < 1_000 {
            _ = node.onTick(now: now.adding(millis: Int64(ticks) * 50))
            #expect(node.maintenance.visitedLastTurn <= 256)
            ticks += 1
        }
        #expect(!node.maintenance.replacing)
        #expect(ticks >= count / 256 - 1)
        let ring = HashRing(members: [
            HashRing.Member(id: me, key: "n1"), HashRing.Member(id: peer, key: "n2"),
            HashRing.Member(id: joiner, key: "n3"),
        ])
        var moved = 0
        for id in ids {
            let placement = try #require(node.placement(of: id))
            #expect(placement.primary == me && placement.backup == ring.backup(of: id, primary: me))
            if placement.epoch > 1 { moved += 1 }
        }
        #expect(moved == node.counters.backupsMoved && moved > count / 5)
        #expect(node.primaryCount == count)
    }

    @Test func aCommitBeforeThePassReachesItsSessionGoesToTheNewBackup() throws {
        let made = instance(.backup, batch: 16, sessions: 2_000, maxInactive: { _ in 1_800 })
        var node = made.0
        let ids = made.1
        let now = start.adding(millis: 10)
        _ = node.onMembersChanged([joiner: "n3"], now: now)  // the old backup `peer` is gone
        #expect(node.maintenance.replacing)
        let late = try #require(ids.sorted(by: node.sessionOrder.precedes).last)  // the pass reaches it last
        #expect(node.placement(of: late)?.backup == peer)
        #expect(node.access(late, token: nil, ticket: 1, now: now).count == 1)
        let result = node.commit(late, changes: setting(["a": "b"]), now: now)
        #expect(node.placement(of: late)?.backup == joiner)
        #expect(result.directives.contains { if case .send(.delta, joiner) = $0 { true } else { false } })
        #expect(!result.directives.contains { if case .send(.delta, peer) = $0 { true } else { false } })
    }

    /// Ticks `node` every 50 ms from `start` through `limit` ms after it: when each session expired (ms after start).
    func expiryTimes(on node: inout ReplicationInstance, through limit: Int64) -> [SessionID: Int64] {
        var expiredAt = [SessionID: Int64]()
        var millis: Int64 = 0
        while millis <= limit {
            for directive in node.onTick(now: start.adding(millis: millis)) {
                if case .event(.sessionExpired(let id)) = directive { expiredAt[id] = millis }
            }
            millis += 50
        }
        return expiredAt
    }

    /// Creates `id` on `node` at `start`, expiring after `seconds` of inactivity.
    func create(_ id: SessionID, seconds: Int64, on node: inout ReplicationInstance) {
        var changes = SessionChanges()
        changes.setMaxInactive(seconds: seconds)
        _ = node.create(id, changes: changes, now: start)
    }

    /// The schedule keeps a 32-bit prefix of each copy's position, not its id: copies sharing one share an entry,
    /// and each still expires at its own deadline (never early, at most a sweep interval late), the later one
    /// rescheduled when the earlier one's entry falls due.
    @Test func sessionsSharingAScheduleEntryEachExpireAtTheirOwnDeadline() throws {
        var node = instance(.delta, batch: 64, sessions: 0, maxInactive: { _ in 0 }).0
        let order = node.sessionOrder
        let prefix: UInt64 = 0x5EED_C0DE_0000_0000
        let early = SessionID(high: order.high(scrambledTo: prefix | 0xFF00), low: 1)
        let late = SessionID(high: order.high(scrambledTo: prefix | 0x00FF), low: 2)  // sorts first
        let latest = SessionID(high: late.high, low: 3)
        #expect(order.prefix(of: early) == order.prefix(of: late) && early.high != late.high)
        let seconds: [SessionID: Int64] = [early: 2, late: 5, latest: 9]
        for (id, seconds) in seconds { create(id, seconds: seconds, on: &node) }
        var random = SplitMix64(seed: 3)
        for _ in 0..<20 { create(SessionID(using: &random), seconds: 3_600, on: &node) }
        let ring = HashRing(members: [HashRing.Member(id: me, key: "n1"), HashRing.Member(id: peer, key: "n2")])
        let expiredAt = expiryTimes(on: &node, through: 20_000)
        #expect(expiredAt.count == 3)
        for (id, seconds) in seconds {
            let due = seconds * 1_000 + min(1_000, seconds * 250) + (ring.first(of: id) == me ? 0 : 5_000)
            let at = try #require(expiredAt[id], "\(id) never expired")
            #expect(at >= due && at <= due + 1_000, "\(id): due \(due), expired at \(at)")
        }
    }

    /// A due entry whose copies would take the sweep past its batch is left due for the next tick, not dropped
    /// nor pushed a bucket later: a tick visits at most a batch even where positions share prefixes.
    @Test func aDueEntryThatWouldOverrunTheBatchIsSweptAtTheNextTick() throws {
        var node = instance(.delta, batch: 4, sessions: 0, maxInactive: { _ in 0 }).0
        let order = node.sessionOrder
        func ids(_ prefix: UInt64, _ count: Int) -> [SessionID] {
            (0..<count).map { SessionID(high: order.high(scrambledTo: prefix | UInt64($0)), low: 0) }
        }
        let first = ids(0x1000_0000_0000_0000, 2)  // the smaller prefix: taken first
        let second = ids(0x2000_0000_0000_0000, 3)
        for id in first + second { create(id, seconds: 2, on: &node) }
        // Past every deadline and the non-owner's grace: all five expire at their first look.
        let now = start.adding(millis: 2_000 + 500 + 5_000)
        let expired = { (directives: [ReplicationDirective]) -> Set<SessionID> in
            Set(directives.compactMap { if case .event(.sessionExpired(let id)) = $0 { id } else { nil } })
        }
        #expect(expired(node.onTick(now: now)) == Set(first))
        #expect(node.maintenance.visitedLastTurn == 2)
        #expect(node.hasMaintenanceBacklog)
        // Left due at once: the next ticks take it (after the first prefix's leftover entry), not a bucket later.
        var later = Set<SessionID>()
        for tick in 1...3 {
            later.formUnion(expired(node.onTick(now: now.adding(millis: 50 * Int64(tick)))))
            #expect(node.maintenance.visitedLastTurn <= 4)
        }
        #expect(later == Set(second))
        #expect(node.liveSessionCount == 0)
    }

    @Test func aDigestListsEveryIDAcrossTicksInBoundedSteps() {
        let count = 10_000
        let made = instance(.delta, batch: 256, sessions: count, maxInactive: { _ in 1_800 })
        var node = made.0
        let ids = made.1
        var listed = [SessionID]()
        var finished = false
        func collect(_ directives: [ReplicationDirective]) {
            for case .send(.digest(_, let entries, let last), joiner) in directives {
                listed += entries.map(\.sessionID)
                finished = finished || last
            }
        }
        collect(node.onMembersChanged([peer: "n2", joiner: "n3"], now: start))
        #expect(node.maintenance.visitedLastTurn <= 256)
        var ticks = 0
        while !finished && ticks < 1_000 {
            collect(node.onTick(now: start.adding(millis: Int64(ticks) * 50)))
            #expect(node.maintenance.visitedLastTurn <= 256)
            ticks += 1
        }
        #expect(finished && ticks >= count / 256 - 1)
        #expect(listed == ids.sorted(by: node.sessionOrder.precedes))
    }

    @Test func endedRecordsAreForgottenAfterTheirRetentionABatchPerTick() {
        let made = instance(.delta, batch: 64, sessions: 1_000, maxInactive: { _ in 1_800 })
        var node = made.0
        let ids = made.1
        // The peer logs every session out: each invalidation is remembered in `ended`.
        for id in ids {
            let base = node.session(id)!.version
            let logout = SessionDelta(
                sessionID: id, dot: Dot(origin: peer, counter: 1), base: base,
                patch: SessionContent(
                    invalidation: Invalidation(
                        stamp: Stamp(time: HLCTimestamp(wall: start.millis, logical: 1), node: peer), reason: .logout)))
            _ = node.onMessage(.delta(logout, ack: nil), from: peer, now: start)
        }
        #expect(node.ended.count == ids.count && node.liveSessionCount == 0)
        var now = start.adding(millis: node.settings.tombstoneRetentionMillis - 1_000)
        _ = node.onTick(now: now)
        #expect(node.ended.count == ids.count)  // not yet
        now = now.adding(millis: 2_000)
        var ticks = 0
        while !node.ended.isEmpty && ticks < 1_000 {
            _ = node.onTick(now: now)
            #expect(node.maintenance.visitedLastTurn <= 64)
            now = now.adding(millis: 50)
            ticks += 1
        }
        #expect(node.ended.isEmpty && ticks >= ids.count / 64)
    }

    @Test func primaryCountFollowsPlacementAndValidity() {
        let made = instance(.backup, batch: 64, sessions: 10, maxInactive: { _ in 1_800 })
        var node = made.0
        let ids = made.1
        #expect(node.primaryCount == 10)
        // Another node took one session over (newer epoch): this one keeps a copy as its backup.
        _ = node.onMessage(.placement(ids[0], Placement(epoch: 5, primary: peer, backup: me)), from: peer, now: start)
        #expect(node.primaryCount == 9)
        #expect(node.access(ids[1], token: nil, ticket: 1, now: start).count == 1)
        var logout = SessionChanges()
        logout.invalidate()
        _ = node.commit(ids[1], changes: logout, now: start)
        #expect(node.primaryCount == 8)
        #expect(node.liveSessionCount == 9)
    }
}
