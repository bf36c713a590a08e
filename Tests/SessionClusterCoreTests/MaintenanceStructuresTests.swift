import Testing

@testable import SessionClusterCore

/// The ordered replica table and the deadline queue behind incremental maintenance.
@Suite struct MaintenanceStructuresTests {
    typealias Slots = ReplicationInstance.ReplicaSlots

    static func replica(_ id: SessionID, access: Int64 = 0) -> ReplicationInstance.Replica {
        ReplicationInstance.Replica(
            session: Session(id: id, content: SessionContent(), version: VersionVector()),
            localAccess: Timestamp(millis: access), placement: nil)
    }

    /// Random ids, and ids that share a high half (one position prefix, one home) or sit at the ends of the order.
    static func ids(_ count: Int, order: SessionOrder, random: inout SplitMix64) -> [SessionID] {
        var ids = (0..<count).map { _ in SessionID(using: &random) }
        let shared = ids[0].high
        ids += (0..<40).map { SessionID(high: shared, low: UInt64($0)) }
        // Ids whose positions share the top 32 bits but not the high half, and the first and last positions.
        let prefix = order.scrambled(ids[1].high) & 0xFFFF_FFFF_0000_0000
        ids += (0..<40).map { SessionID(high: order.high(scrambledTo: prefix | UInt64($0) << 8), low: 7) }
        ids += [
            SessionID(high: order.high(scrambledTo: 0), low: 0), SessionID(high: order.high(scrambledTo: 0), low: 1),
            SessionID(high: order.high(scrambledTo: .max), low: .max),
        ]
        var unique = Set<SessionID>()
        return ids.filter { unique.insert($0).inserted }
    }

    /// The table against a model (a dictionary of access times) through thousands of inserts, removals, in-place
    /// changes and lookups, growing past several sizes and shrinking back: after each step it is sorted with no
    /// broken run, finds exactly what the model holds, and iterates in order.
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func orderedTableMatchesAModelThroughInsertsRemovalsChangesAndResizes(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let order = SessionOrder(key: seed == 1 ? 0 : random.next())
        let pool = Self.ids(3_000, order: order, random: &random)
        var slots = Slots(order: order)
        var model = [SessionID: Int64]()
        for step in 0..<12_000 {
            let id = pool[Int(random.next() % UInt64(pool.count))]
            // Mostly inserts while filling, mostly removals while emptying (shrinks), mixed in between.
            let phase = step / 3_000
            let roll = random.next() % 10
            let inserting = phase == 0 ? roll < 8 : phase == 3 ? roll < 1 : roll < 5
            if let index = slots.index(of: id) {
                #expect(model[id] != nil, "found \(id), never inserted")
                if inserting {
                    // An in-place change through take/put, as `ReplicaTable`'s `_modify` does it.
                    let slot = slots.take(at: index)
                    var taken = try #require(slot)
                    taken.noteAccess(at: Timestamp(millis: Int64(step) + 1))
                    slots.put(taken, at: index)
                    model[id] = Int64(step) + 1
                } else {
                    _ = slots.take(at: index)
                    slots.remove(at: index)
                    model[id] = nil
                }
            } else {
                #expect(model[id] == nil, "lost \(id)")
                if inserting {
                    slots.insert(Self.replica(id, access: Int64(step)))
                    model[id] = Int64(step)
                }
            }
            if step % 997 == 0 { slots.reserveCapacity(slots.count + Int(random.next() % 2_000)) }
            if let violation = slots.layoutViolation {
                Issue.record("step \(step): \(violation)")
                return
            }
            if step % 250 == 0 {
                #expect(slots.count == model.count)
                for (held, access) in model { #expect(slots[held]?.localAccess == Timestamp(millis: access)) }
                #expect(slots.map(\.key) == model.keys.sorted(by: order.precedes))
            }
        }
        for id in pool { #expect((slots[id]?.id) == (model[id] == nil ? nil : id)) }
    }

    /// A walk in windows sees every id held for its whole length exactly once, in order, whatever is inserted and
    /// removed between windows (the cursor itself included) and however often the table resizes meanwhile.
    @Test(arguments: [11, 12, 13] as [UInt64])
    func windowsAfterACursorVisitEveryIDHeldThroughoutOnceWhileTheTableChanges(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let order = SessionOrder(key: random.next())
        let pool = Self.ids(4_000, order: order, random: &random)
        var slots = Slots(order: order)
        var held = Set<SessionID>()
        for id in pool.prefix(1_500) {
            slots.insert(Self.replica(id))
            held.insert(id)
        }
        // A still table first: the windows concatenate to the whole order, and a cursor need not be held.
        let whole = held.sorted(by: order.precedes)
        #expect(slots.ids(after: nil, limit: .max) == whole)
        for limit in [0, 1, 7, 1_000] {
            for cursor in [whole[0], whole[777], whole[whole.count - 1], pool[3_999], SessionID(high: 0, low: 0)] {
                #expect(
                    slots.ids(after: cursor, limit: limit)
                        == Array(whole.filter { order.precedes(cursor, $0) }.prefix(limit)),
                    "limit \(limit) after \(cursor)")
            }
        }
        var presentThroughout = held
        var visited = [SessionID]()
        var cursor: SessionID?
        var steps = 0
        repeat {
            let window = slots.ids(after: cursor, limit: 1 + Int(random.next() % 60))
            for id in window { #expect(held.contains(id), "\(id) listed but not held") }
            visited += window
            cursor = window.last ?? cursor
            if window.isEmpty { break }
            // Between windows: a burst of inserts (growing the table) or of removals (shrinking it), the cursor's
            // own copy now and then.
            let burst = Int(random.next() % 200)
            let removing = steps % 3 == 2
            for _ in 0..<burst {
                let id = removing && random.next() % 20 == 0 ? cursor! : pool[Int(random.next() % UInt64(pool.count))]
                if removing, let index = slots.index(of: id) {
                    slots.remove(at: index)
                    held.remove(id)
                    presentThroughout.remove(id)
                } else if !removing, !held.contains(id) {
                    slots.insert(Self.replica(id))
                    held.insert(id)
                }
            }
            #expect(slots.layoutViolation == nil)
            steps += 1
        } while steps < 10_000
        #expect(steps > 20)
        for (earlier, later) in zip(visited, visited.dropFirst()) {
            #expect(order.precedes(earlier, later), "\(later) after \(earlier): out of order or twice")
        }
        #expect(presentThroughout.isSubset(of: Set(visited)))
    }

    /// The copies whose positions share a 32-bit prefix are found together, and no other.
    @Test func idsWithAPrefixAreEveryCopySharingItsTopBits() {
        var random = SplitMix64(seed: 21)
        let order = SessionOrder(key: random.next())
        let pool = Self.ids(5_000, order: order, random: &random)
        var slots = Slots(order: order)
        for id in pool { slots.insert(Self.replica(id)) }
        let prefixes = Set(pool.map(order.prefix(of:))).sorted()
        #expect(prefixes.count < pool.count)  // some shared (built so)
        var found = 0
        for prefix in prefixes {
            let ids = slots.ids(withPrefix: prefix)
            #expect(ids == pool.filter { order.prefix(of: $0) == prefix }.sorted(by: order.precedes))
            found += ids.count
        }
        #expect(found == pool.count)
        #expect(slots.ids(withPrefix: order.prefix(of: SessionID(high: 12_345, low: 0)) &+ 1).isEmpty)
    }

    /// The test helper inverting the scramble, and the order: a total order, the same ids equal.
    @Test func theOrderIsAKeyedBijectionOfTheHighHalf() {
        var random = SplitMix64(seed: 5)
        let order = SessionOrder(key: random.next())
        for _ in 0..<1_000 {
            let high = random.next()
            #expect(order.high(scrambledTo: order.scrambled(high)) == high)
        }
        let a = SessionID(high: 9, low: 1)
        let b = SessionID(high: 9, low: 2)
        #expect(order.precedes(a, b) && !order.precedes(b, a) && !order.precedes(a, a))
        #expect(SessionOrder(key: 1).position(of: a) != order.position(of: a))
    }

    @Test func deadlineQueueGivesKeysOnlyOnceDueInBoundedSortedBatches() {
        var queue = DeadlineQueue<Int>(granularity: 100)
        queue.schedule(5, at: Timestamp(millis: 250))
        queue.schedule(3, at: Timestamp(millis: 300))
        queue.schedule(4, at: Timestamp(millis: 201))
        queue.schedule(9, at: Timestamp(millis: 1_000))
        queue.schedule(9, at: Timestamp(millis: 1_000))
        queue.schedule(1, at: Timestamp(millis: .max))  // never
        #expect(queue.count == 5)
        #expect(queue.takeDue(now: Timestamp(millis: 299), limit: 10) == [])  // 250 and 201 round up to 300
        // A bucket larger than the room is taken from its end (O(limit)); each batch comes out sorted.
        #expect(queue.takeDue(now: Timestamp(millis: 300), limit: 2) == [3, 4])
        #expect(queue.takeDue(now: Timestamp(millis: 300), limit: 2) == [5])
        #expect(queue.nextDue == Timestamp(millis: 1_000))
        #expect(queue.takeDue(now: Timestamp(millis: 5_000), limit: 10) == [9])  // one, though scheduled twice
        #expect(queue.count == 0)
        queue.schedule(2, at: .zero)
        #expect(queue.takeDue(now: Timestamp(millis: 0), limit: 10) == [2])
        // Keys taken and left for the next call are due at once, not at the end of the current bucket.
        queue.scheduleDue([7, 6], now: Timestamp(millis: 1_250))
        #expect(queue.takeDue(now: Timestamp(millis: 1_250), limit: 10) == [6, 7])
    }
}

extension SessionOrder {
    /// The high half whose scramble is `scrambled`: the finalizer undone step by step (tests build ids that share
    /// a position prefix with it).
    func high(scrambledTo scrambled: UInt64) -> UInt64 {
        func unshift(_ value: UInt64, _ shift: UInt64) -> UInt64 {
            var result = value
            for _ in 0..<(64 / shift + 1) { result = value ^ (result >> shift) }
            return result
        }
        func inverse(_ odd: UInt64) -> UInt64 {
            var inverse = odd  // Newton's iteration: each step doubles the correct low bits.
            for _ in 0..<6 { inverse = inverse &* (2 &- odd &* inverse) }
            return inverse
        }
        var z = unshift(scrambled, 31)
        z = unshift(z &* inverse(0x94D0_49BB_1331_11EB), 27)
        z = unshift(z &* inverse(0xBF58_476D_1CE4_E5B9), 30)
        return z ^ key
    }
}
