/// A map with a fixed capacity that, when full, forgets the entry used least recently.
///
/// For tables keyed by something an outside party chooses (sender ids): inserting is the only way to grow it,
/// and callers insert only after the sender proved itself (its envelope authenticated), so a flood of forged
/// senders can neither grow the table nor push a real peer out. Eviction scans the table (O(capacity)), which
/// happens only when a new authenticated sender arrives at a full table: rare (one per incarnation).
struct RecentTable<Key: Hashable, Value> {
    private var entries: [Key: (value: Value, used: UInt64)] = [:]
    private var clock: UInt64 = 0
    /// Most entries kept.
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    var count: Int { entries.count }

    /// The value for `key`, marking it used.
    mutating func use(_ key: Key) -> Value? {
        guard let entry = entries[key] else { return nil }
        clock &+= 1
        entries[key] = (entry.value, clock)
        return entry.value
    }

    /// The value for `key` without marking it used.
    func peek(_ key: Key) -> Value? { entries[key]?.value }

    /// Stores `value` under `key` as the most recently used, evicting the least recently used entry when full.
    mutating func set(_ key: Key, _ value: Value) {
        clock &+= 1
        if entries[key] == nil, entries.count >= capacity,
            let oldest = entries.min(by: { $0.value.used < $1.value.used })?.key
        {
            entries[oldest] = nil
        }
        entries[key] = (value, clock)
    }

    mutating func remove(_ key: Key) { entries[key] = nil }

    mutating func removeAll() { entries = [:] }
}
