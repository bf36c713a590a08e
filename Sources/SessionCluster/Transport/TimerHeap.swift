/// The event loop's timers: a binary min-heap of (deadline, id) with the work kept beside it by id.
///
/// `schedule` and taking the earliest due timer are O(log n); `cancel` is O(1): it forgets the work, and the
/// heap entry is skipped when it surfaces. So that cancelled entries (a connection's deadline re-armed on every
/// request) cannot pile up, the heap is rebuilt from the live entries whenever they are fewer than half of it.
/// Timers with equal deadlines fire in the order they were scheduled (ids grow).
struct TimerHeap {
    private struct Entry {
        var deadline: Int64
        var id: UInt64

        static func < (a: Entry, b: Entry) -> Bool { (a.deadline, a.id) < (b.deadline, b.id) }
    }

    private var heap: [Entry] = []
    private var work: [UInt64: () -> Void] = [:]
    private var nextID: UInt64 = 1

    /// Timers scheduled and neither fired nor cancelled.
    var count: Int { work.count }

    /// Adds a timer due at `deadline` (monotonic ms); returns its id (never 0).
    mutating func schedule(at deadline: Int64, _ body: @escaping () -> Void) -> UInt64 {
        let id = nextID
        nextID += 1
        work[id] = body
        heap.append(Entry(deadline: deadline, id: id))
        siftUp(heap.count - 1)
        return id
    }

    /// Forgets a timer; a timer that already fired or was cancelled is ignored.
    mutating func cancel(_ id: UInt64) {
        guard work.removeValue(forKey: id) != nil else { return }
        if heap.count > 64 && work.count * 2 < heap.count { rebuild() }
    }

    /// The earliest deadline of a live timer, dropping cancelled entries from the top.
    mutating func earliestDeadline() -> Int64? {
        dropCancelledTop()
        return heap.first?.deadline
    }

    /// The id the next `schedule` will return: timers with smaller ids were scheduled before this call.
    var nextScheduledID: UInt64 { nextID }

    /// Removes and returns the earliest live timer due at or before `now` whose id is below `idLimit` (so timers
    /// scheduled while the due ones run wait for the next turn).
    mutating func popDue(now: Int64, idLimit: UInt64 = .max) -> (() -> Void)? {
        dropCancelledTop()
        guard let top = heap.first, top.deadline <= now, top.id < idLimit else { return nil }
        removeTop()
        return work.removeValue(forKey: top.id)
    }

    private mutating func dropCancelledTop() {
        while let top = heap.first, work[top.id] == nil { removeTop() }
    }

    private mutating func removeTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private mutating func rebuild() {
        heap.removeAll { work[$0.id] == nil }
        var index = heap.count / 2
        while index > 0 {
            index -= 1
            siftDown(index)
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        let entry = heap[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard entry < heap[parent] else { break }
            heap[child] = heap[parent]
            child = parent
        }
        heap[child] = entry
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let entry = heap[parent]
        let count = heap.count
        while true {
            var child = 2 * parent + 1
            guard child < count else { break }
            if child + 1 < count && heap[child + 1] < heap[child] { child += 1 }
            guard heap[child] < entry else { break }
            heap[parent] = heap[child]
            parent = child
        }
        heap[parent] = entry
    }
}
