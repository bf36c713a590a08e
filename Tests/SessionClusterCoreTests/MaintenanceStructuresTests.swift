import Testing

@testable import SessionClusterCore

/// The ordered id index and the deadline queue behind incremental maintenance.
@Suite struct MaintenanceStructuresTests {
    @Test func orderedIDsGiveTheNextWindowAfterACursorWhateverTheInsertionOrder() {
        var random = SplitMix64(seed: 7)
        var index = OrderedSessionIDs()
        var ids = (0..<3_000).map { _ in SessionID(using: &random) }
        // Some ids share a bucket (same top bits), some sit at the very ends of the range.
        ids += [SessionID(high: 0, low: 1), SessionID(high: 0, low: 0), SessionID(high: .max, low: .max)]
        ids += (0..<5).map { SessionID(high: ids[0].high, low: UInt64($0)) }
        for id in ids { index.insert(id) }
        let removed = Set(ids.prefix(500))
        for id in removed { index.remove(id) }
        let expected = ids.filter { !removed.contains($0) }.sorted()
        #expect(index.ids(after: nil, limit: .max) == expected)
        for limit in [0, 1, 7, 1_000] {
            for cursor in [expected[0], expected[1_234], expected[expected.count - 1], SessionID(high: 0, low: 0)] {
                #expect(
                    index.ids(after: cursor, limit: limit) == Array(expected.filter { $0 > cursor }.prefix(limit)),
                    "limit \(limit) after \(cursor)")
            }
        }
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
    }
}
