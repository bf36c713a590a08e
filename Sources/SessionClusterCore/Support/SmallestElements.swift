/// The `limit` smallest of the elements offered, in one pass: a max-heap of at most `limit` elements.
///
/// Costs O(n log limit) for n offers and `limit` elements of memory, so a state-transfer window is cut from
/// the held ids without sorting, or even copying, all of them.
struct SmallestElements<Element: Comparable> {
    let limit: Int
    /// A max-heap: every element is at least as large as its children, the largest kept at index 0.
    private var heap: [Element] = []

    init(limit: Int) {
        self.limit = max(0, limit)
        heap.reserveCapacity(self.limit)
    }

    /// Keeps `element` if it is among the `limit` smallest so far.
    mutating func offer(_ element: Element) {
        if heap.count < limit {
            heap.append(element)
            siftUp(heap.count - 1)
        } else if let largest = heap.first, element < largest {
            heap[0] = element
            siftDown(0)
        }
    }

    /// The kept elements, ascending.
    var sorted: [Element] { heap.sorted() }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[parent] < heap[child] else { return }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            let right = left + 1
            let larger = right < heap.count && heap[left] < heap[right] ? right : left
            guard heap[parent] < heap[larger] else { return }
            heap.swapAt(parent, larger)
            parent = larger
        }
    }
}
