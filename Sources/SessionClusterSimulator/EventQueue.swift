/// A min-heap of timed events; equal times pop in insertion order, so runs are deterministic.
///
/// The heap orders small keys (time, sequence, slot) and the events wait in a slot array: sifting moves 24-byte
/// keys, never the events themselves (which may hold datagrams; copying those on every swap was most of a
/// 1,024-node scale run's time).
struct EventQueue<Event> {
    private var heap: [(time: Int64, sequence: UInt64, slot: Int)] = []
    private var events: [Event?] = []
    private var freeSlots: [Int] = []
    private var nextSequence: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }

    mutating func push(_ event: Event, at time: Int64) {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            events[slot] = event
        } else {
            slot = events.count
            events.append(event)
        }
        heap.append((time, nextSequence, slot))
        nextSequence += 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (time: Int64, event: Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, less(left, smallest) { smallest = left }
            if right < heap.count, less(right, smallest) { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        let event = events[top.slot].take()!
        freeSlots.append(top.slot)
        return (top.time, event)
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        let x = heap[a]
        let y = heap[b]
        return x.time != y.time ? x.time < y.time : x.sequence < y.sequence
    }
}
