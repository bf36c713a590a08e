/// The order a node keeps its held sessions in, and walks them in: by a keyed scramble of an id's high half, then
/// its low half.
///
/// The replica table is an ordered hash table (`ReplicationInstance.ReplicaSlots`): a copy's home slot is the top
/// bits of its position, and the table is sorted by position, so it can be walked in order a window at a time
/// without an index of its own. The scramble is what makes the positions spread evenly: a key's session id is an
/// unkeyed SHA-256 of a name a client chooses, so with a public order a client could grind names into one probe
/// run. Hence the key MUST be secret where clients choose ids: the shell draws it from the system generator per
/// process (every shard of one node shares it, so their walks merge); the simulator derives it from its seed.
///
/// A consequence to keep in mind: the order differs between processes. A walk's cursor (a digest, a state
/// transfer window, a RESP `SCAN` cursor) means something only to the process that produced it.
package struct SessionOrder: Sendable, Hashable {
    /// The secret: scrambled positions are `fmix64(high ^ key)`.
    package let key: UInt64

    /// The order keyed by `key` (the shell passes a value from `SystemRandomNumberGenerator`).
    package init(key: UInt64) { self.key = key }

    /// Where an id sorts: its scrambled high half, then its low half. A total order on ids (the scramble is a
    /// bijection), so equal positions are equal ids.
    package struct Position: Comparable, Hashable, Sendable {
        /// The keyed scramble of the id's high half; its top bits are the id's home slot.
        package let high: UInt64
        package let low: UInt64

        package static func < (lhs: Position, rhs: Position) -> Bool { (lhs.high, lhs.low) < (rhs.high, rhs.low) }
    }

    /// The keyed bijection of an id's high half: the MurmurHash3 / SplitMix64 finalizer of `high ^ key`.
    @inline(__always)
    func scrambled(_ high: UInt64) -> UInt64 { SplitMix64.mix(high ^ key) }

    /// Where `id` sorts.
    @inline(__always)
    package func position(of id: SessionID) -> Position { Position(high: scrambled(id.high), low: id.low) }

    /// Whether `lhs` comes before `rhs` in this order.
    package func precedes(_ lhs: SessionID, _ rhs: SessionID) -> Bool { position(of: lhs) < position(of: rhs) }

    /// The top 32 bits of `id`'s position: what the expiry schedule keeps per copy (4 bytes instead of the 16 of
    /// the id). The copies sharing a prefix are one contiguous range of the table.
    @inline(__always)
    func prefix(of id: SessionID) -> UInt32 { UInt32(truncatingIfNeeded: scrambled(id.high) >> 32) }
}
