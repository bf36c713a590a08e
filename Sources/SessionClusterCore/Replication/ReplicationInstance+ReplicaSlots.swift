extension ReplicationInstance {
    /// The held copies, found by session id and kept in order (`SessionOrder`): an ordered hash table of references
    /// only, each copy found by the id inside it.
    ///
    /// A `[SessionID: Replica]` bucket holds the 16-byte key beside the 8-byte reference, and its buckets are 3/8 to
    /// 3/4 full: about 50 bytes per held copy at 1,000,000. Here a slot is the reference alone (nil when empty),
    /// about 17 bytes per copy. The price: a probe that meets another copy reads that copy's id, a pointer away,
    /// and growing the table reads every copy's id once (`reserveCapacity` before a bulk load avoids that).
    ///
    /// Ordered linear probing (Amble and Knuth, 1974): a copy's home slot is the top bits of its position, probing
    /// runs forward only (past the last home slot into an overflow tail, never wrapping round), and every run is
    /// kept sorted, so the whole array is sorted by position with empty slots between. A lookup stops at the first
    /// slot that is empty or sorts after the id; an insert shifts the rest of its run one slot on; a removal shifts
    /// back the copies after it that may move (no tombstones). Being sorted, the table is also the index the walks
    /// take their next ids from (`ids(after:limit:)`) and the sweep finds the copies of a due prefix in
    /// (`ids(withPrefix:)`): no per-session index beside it. At most 3/4 full; at less than 1/8 it halves, so a
    /// window of `k` ids reads at most about `8k` slots.
    struct ReplicaSlots: Sendable, Sequence {
        let order: SessionOrder
        /// Sorted by position, nil where empty: `size` home slots, then the tail the last runs spill into.
        private var slots: [Replica?] = []
        /// Home slots: a power of two, 0 before the first insert.
        private var size = 0
        /// `64 - log2(size)`: a position's home is its top `log2(size)` bits.
        private var shift: UInt64 = 64
        /// How many slots hold a copy.
        private(set) var count = 0

        /// Empty slots allocated past the last home slot: the run through the last home slots spills into them. A
        /// run longer still appends (rare: runs average a few slots at 3/4 full).
        static let tailSlots = 64

        init(order: SessionOrder) {
            self.order = order
        }

        @inline(__always)
        private func home(_ scrambledHigh: UInt64) -> Int { Int(truncatingIfNeeded: scrambledHigh >> shift) }

        /// Where `id` is, or where it would go: the first slot from its home that is empty, holds `id` or sorts
        /// after it.
        @inline(__always)
        private func search(_ id: SessionID) -> (index: Int, found: Bool) {
            let target = order.position(of: id)
            var index = home(target.high)
            while index < slots.count, let other = slots[index]?.id {
                if other == id { return (index, true) }
                if order.position(of: other) > target { break }
                index += 1
            }
            return (index, false)
        }

        /// The slot holding the copy of `id`, nil when none does.
        func index(of id: SessionID) -> Int? {
            guard count > 0 else { return nil }
            let (index, found) = search(id)
            return found ? index : nil
        }

        subscript(id: SessionID) -> Replica? {
            guard let index = index(of: id) else { return nil }
            return slots[index]
        }

        /// Moves the copy at `index` out, leaving the slot empty, so that the caller holds the only reference and
        /// can mutate it in place. The caller MUST hand it back (`put`) or drop it (`remove(at:)`) before the next
        /// lookup: until then the slot breaks its run.
        mutating func take(at index: Int) -> Replica? {
            var replica: Replica? = nil
            swap(&replica, &slots[index])
            return replica
        }

        /// Puts a copy back at the slot `take(at:)` emptied; it MUST carry the same id.
        mutating func put(_ replica: Replica, at index: Int) {
            slots[index] = replica
        }

        /// Adds a copy whose id the table does not hold.
        mutating func insert(_ replica: Replica) {
            if (count + 1) * 4 > size * 3 { resize(to: Swift.max(16, size * 2)) }
            var carry: Replica? = replica
            var index = search(replica.id).index
            // Shift the rest of the run one slot on: each copy moves away from its home, never past a gap.
            while index < slots.count {
                swap(&carry, &slots[index])
                if carry == nil { break }
                index += 1
            }
            if let carry { appendToTail(carry) }
            count += 1
        }

        /// Empties the slot at `index` (taken or not), shifting back the copies after it that sort after their
        /// home: each moves one slot back, keeping order, until a gap or a copy already at its home.
        mutating func remove(at index: Int) {
            slots[index] = nil
            count -= 1
            var hole = index
            var next = index + 1
            while next < slots.count, let other = slots[next]?.id, home(order.scrambled(other.high)) <= hole {
                slots.swapAt(hole, next)
                hole = next
                next += 1
            }
            if size > 16 && count * 8 < size { resize(to: size / 2) }
        }

        /// Makes room for `count` copies in all without growing on the way.
        mutating func reserveCapacity(_ count: Int) {
            var size = Swift.max(16, self.size)
            while count * 4 > size * 3 { size *= 2 }
            if size > self.size { resize(to: size) }
        }

        /// Moves every copy into `size` home slots: in order, each at its home or just after the copy before it.
        private mutating func resize(to size: Int) {
            let old = slots
            self.size = size
            shift = UInt64(64 - size.trailingZeroBitCount)
            slots = Array(repeating: nil, count: size + Self.tailSlots)
            var next = 0
            for case let replica? in old {
                let index = Swift.max(home(order.scrambled(replica.id.high)), next)
                if index < slots.count { slots[index] = replica } else { appendToTail(replica) }
                next = index + 1
            }
        }

        /// Appends past the last slot, growing the array by `tailSlots` (doubling would waste 8 bytes a copy).
        private mutating func appendToTail(_ replica: Replica) {
            if slots.count == slots.capacity { slots.reserveCapacity(slots.count + Self.tailSlots) }
            slots.append(replica)
        }

        /// Up to `limit` held ids after `cursor` in the table's order (from the first when nil), in that order.
        /// The cursor need not be held: "after" is well defined whatever was inserted, removed or resized since.
        func ids(after cursor: SessionID?, limit: Int) -> [SessionID] {
            guard limit > 0, count > 0 else { return [] }
            var result = [SessionID]()
            result.reserveCapacity(Swift.min(limit, count))
            var index = 0
            if let cursor {
                // The copies at or before the cursor from its home on all lie in the run there (each sorts after
                // its own home, no later than the cursor's): skip that run's leading part.
                let target = order.position(of: cursor)
                index = home(target.high)
                while index < slots.count, let other = slots[index]?.id, order.position(of: other) <= target {
                    index += 1
                }
            }
            while index < slots.count && result.count < limit {
                if let id = slots[index]?.id { result.append(id) }
                index += 1
            }
            return result
        }

        /// The held ids whose position starts with `prefix` (`SessionOrder.prefix(of:)`), in order: one range of
        /// the table, usually one copy or none.
        func ids(withPrefix prefix: UInt32) -> [SessionID] {
            guard count > 0 else { return [] }
            let lowest = UInt64(prefix) << 32
            // Every copy with the prefix lies in a run from a home in `home(lowest)...lastHome` (one slot unless the
            // table has more than 2^32): past that, the first gap ends the search.
            let lastHome = home(lowest | 0xFFFF_FFFF)
            var index = home(lowest)
            var result = [SessionID]()
            while index < slots.count {
                guard let id = slots[index]?.id else {
                    if index >= lastHome { break }
                    index += 1
                    continue
                }
                let other = order.prefix(of: id)
                if other > prefix { break }
                if other == prefix { result.append(id) }
                index += 1
            }
            return result
        }

        /// What is wrong with the table's layout, nil when nothing is (tests): every copy at or after its home with
        /// no gap between, the copies in strictly ascending order, `count` right, `size` a power of two at most 3/4
        /// full.
        var layoutViolation: String? {
            var held = 0
            var previous: SessionOrder.Position?
            var gapSince: Int?
            for (index, slot) in slots.enumerated() {
                guard let replica = slot else {
                    gapSince = index
                    continue
                }
                let position = order.position(of: replica.id)
                let home = home(position.high)
                if home > index { return "slot \(index) holds \(replica.id) before its home \(home)" }
                if let gap = gapSince, gap >= home { return "slot \(index): gap at \(gap) after home \(home)" }
                if let previous, previous >= position { return "slot \(index): \(replica.id) out of order" }
                previous = position
                held += 1
            }
            if held != count { return "count \(count), held \(held)" }
            if size > 0 && (size & (size - 1) != 0 || count * 4 > size * 3) { return "size \(size), count \(count)" }
            return nil
        }

        struct Iterator: IteratorProtocol {
            fileprivate var base: IndexingIterator<[Replica?]>

            mutating func next() -> (key: SessionID, value: Replica)? {
                while let slot = base.next() {
                    if let replica = slot { return (replica.id, replica) }
                }
                return nil
            }
        }

        /// The copies in the table's order.
        func makeIterator() -> Iterator { Iterator(base: slots.makeIterator()) }

        var underestimatedCount: Int { count }
    }
}
