extension ReplicationInstance {
    /// The held copies, found by session id: an open-addressing table of references only, each copy found by the
    /// id inside it.
    ///
    /// A `[SessionID: Replica]` bucket holds the 16-byte key beside the 8-byte reference, and its buckets are 3/8 to
    /// 3/4 full: about 50 bytes per held copy at 1,000,000. Here a slot is the reference alone (nil when empty),
    /// about 17 bytes per copy. The price: a probe that meets another copy reads that copy's id, a pointer away,
    /// and growing the table reads every copy's id once (`reserveCapacity` before a bulk load avoids that).
    ///
    /// Linear probing from the id's `hashValue` (Swift's hasher is seeded per process: ids a peer chooses cannot
    /// be made to pile into one run), at most 3/4 full, deletion by shifting the run back (no tombstones).
    struct ReplicaSlots: Sendable, Sequence {
        private var slots: [Replica?] = []
        /// How many slots hold a copy.
        private(set) var count = 0

        /// The slot holding the copy of `id`, nil when none does.
        func index(of id: SessionID) -> Int? {
            guard count > 0 else { return nil }
            let mask = slots.count - 1
            var index = id.hashValue & mask
            while let replica = slots[index] {
                if replica.id == id { return index }
                index = (index + 1) & mask
            }
            return nil
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
            if (count + 1) * 4 > slots.count * 3 { resize(to: Swift.max(16, slots.count * 2)) }
            place(replica)
            count += 1
        }

        /// Empties the slot at `index` (taken or not), shifting back the copies after it whose run passed through it.
        mutating func remove(at index: Int) {
            let mask = slots.count - 1
            slots[index] = nil
            count -= 1
            var hole = index
            var next = (index + 1) & mask
            while let replica = slots[next] {
                let home = replica.id.hashValue & mask
                // The copy stays when its home lies cyclically in (hole, next]: moving it would put it before home.
                let stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next)
                if !stays {
                    slots[hole] = replica
                    slots[next] = nil
                    hole = next
                }
                next = (next + 1) & mask
            }
        }

        /// Makes room for `count` copies in all without growing on the way.
        mutating func reserveCapacity(_ count: Int) {
            var size = Swift.max(16, slots.count)
            while count * 4 > size * 3 { size *= 2 }
            if size > slots.count { resize(to: size) }
        }

        private mutating func resize(to size: Int) {
            let old = slots
            slots = Array(repeating: nil, count: size)
            for case let replica? in old { place(replica) }
        }

        private mutating func place(_ replica: Replica) {
            let mask = slots.count - 1
            var index = replica.id.hashValue & mask
            while slots[index] != nil { index = (index + 1) & mask }
            slots[index] = replica
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

        func makeIterator() -> Iterator { Iterator(base: slots.makeIterator()) }

        var underestimatedCount: Int { count }
    }
}
