/// Keys ordered by when they are due, in buckets of `granularity` ms: a timer wheel with a heap over its slots.
///
/// Maintenance that once scanned every session per sweep (expiry, tombstone purging, forgetting hand-offs) takes
/// only the keys due instead, a bounded batch at a time. Entries are hints, not promises: the owner re-checks
/// each key it takes and schedules it again when it is not yet due, so a key may be scheduled more than once and
/// a stale entry costs one visit. A batch of keys taken comes out sorted (deterministic order).
struct DeadlineQueue<Key: Hashable & Comparable & Sendable>: Sendable {
    /// Bucket width in milliseconds: a key is taken at the first call at or after the end of its bucket, so never
    /// before its time and at most `granularity` ms after it.
    let granularity: Int64
    private var buckets: [Int64: [Key]] = [:]
    /// The slots that have a bucket, smallest first.
    private var slots = MinHeap<Int64>()
    /// Entries scheduled and not yet taken (stale ones included).
    private(set) var count = 0

    init(granularity: Int64) {
        self.granularity = max(1, granularity)
    }

    /// Schedules `key` at `time`. A key due "never" (`Timestamp.max`) is not kept.
    mutating func schedule(_ key: Key, at time: Timestamp) {
        guard time.millis < Int64.max else { return }
        let slot = time.millis <= 0 ? 0 : (time.millis - 1) / granularity + 1
        if buckets[slot] == nil { slots.push(slot) }
        buckets[slot, default: []].appendGrowingModestly(key)
        count += 1
    }

    /// Schedules `keys` due at once, for the first `takeDue` at or after `now` (keys taken and then left for the
    /// next call: `schedule(_:at: now)` rounds up to the end of `now`'s bucket, up to `granularity` later).
    mutating func scheduleDue(_ keys: some Sequence<Key>, now: Timestamp) {
        let slot = max(0, now.millis / granularity)
        for key in keys {
            if buckets[slot] == nil { slots.push(slot) }
            buckets[slot, default: []].appendGrowingModestly(key)
            count += 1
        }
    }

    /// When the earliest bucket falls due, if any.
    var nextDue: Timestamp? { slots.min.map { Timestamp(millis: $0 * granularity) } }

    /// Removes and returns at most `limit` keys due by `now`, earliest bucket first; the batch comes out sorted,
    /// each key once. A bucket larger than the room left is taken from its end, in place: O(limit) whatever its
    /// size (sorting or copying a bucket of a million ids would be the very stall this type exists to avoid).
    mutating func takeDue(now: Timestamp, limit: Int) -> [Key] {
        var taken = [Key]()
        while taken.count < limit, let slot = slots.min, slot <= now.millis / granularity {
            let room = limit - taken.count
            let size = buckets[slot]?.count ?? 0
            if size <= room {
                taken += buckets.removeValue(forKey: slot) ?? []
                _ = slots.pop()
                count -= size
            } else {
                taken += buckets[slot]![(size - room)...]
                buckets[slot]!.removeLast(room)
                count -= room
            }
        }
        taken.sort()
        var unique = [Key]()
        unique.reserveCapacity(taken.count)
        for key in taken where unique.last != key { unique.append(key) }
        return unique
    }
}

/// A binary min-heap.
struct MinHeap<Element: Comparable & Sendable>: Sendable {
    private var items: [Element] = []

    var min: Element? { items.first }
    var count: Int { items.count }

    mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { return }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let smallest = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < items.count else { break }
            let right = left + 1
            let smaller = right < items.count && items[right] < items[left] ? right : left
            guard items[smaller] < items[parent] else { break }
            items.swapAt(smaller, parent)
            parent = smaller
        }
        return smallest
    }
}

extension Array {
    /// Appends, growing a full array by an eighth (at least 16 elements) instead of doubling it. For the buckets of
    /// `DeadlineQueue`, which hold an entry per held session: doubling leaves an array a third empty on average,
    /// growing by an eighth about a sixteenth, and still copies each element a bounded number of times.
    mutating func appendGrowingModestly(_ element: Element) {
        if count == capacity { reserveCapacity(count + Swift.max(16, count / 8)) }
        append(element)
    }
}
