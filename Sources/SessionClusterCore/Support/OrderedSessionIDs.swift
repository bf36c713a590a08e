/// Every held session id, findable in id order a window at a time without sorting all of them.
///
/// Ids are 128 random bits, so bucketing them by their top 12 bits spreads them evenly: a window of the next `k`
/// ids after a cursor sorts a handful of buckets (about `k` ids plus one bucket), whatever the number held. State
/// transfer, digests and re-placement walk the table with such a cursor, a bounded slice per loop turn. Skewed ids
/// (a peer choosing them) only make some buckets larger: slower, never wrong.
struct OrderedSessionIDs: Sendable {
    static let bucketBits = 12
    private var buckets: [[SessionID]] = Array(repeating: [], count: 1 << bucketBits)

    private static func bucket(of id: SessionID) -> Int { Int(id.high >> UInt64(64 - bucketBits)) }

    mutating func insert(_ id: SessionID) {
        buckets[Self.bucket(of: id)].appendGrowingModestly(id)
    }

    mutating func remove(_ id: SessionID) {
        let index = Self.bucket(of: id)
        guard let position = buckets[index].firstIndex(of: id) else { return }
        buckets[index].swapAt(position, buckets[index].count - 1)
        buckets[index].removeLast()
    }

    /// Up to `limit` ids greater than `cursor` (all, when nil), ascending.
    func ids(after cursor: SessionID?, limit: Int) -> [SessionID] {
        var result = [SessionID]()
        guard limit > 0 else { return result }
        var index = cursor.map(Self.bucket(of:)) ?? 0
        while index < buckets.count && result.count < limit {
            let bucket = buckets[index]
            if !bucket.isEmpty {
                var candidates = bucket
                if let cursor, index == Self.bucket(of: cursor) { candidates.removeAll { $0 <= cursor } }
                candidates.sort()
                result += candidates.prefix(limit - result.count)
            }
            index += 1
        }
        return result
    }
}

extension Array {
    /// Appends, growing a full array by an eighth (at least 16 elements) instead of doubling it. For the per-session
    /// indexes (`OrderedSessionIDs`, `DeadlineQueue`): doubling leaves them a third empty on average, ~10 bytes per
    /// held session each; an eighth wastes about 1 and still copies each element a bounded number of times.
    mutating func appendGrowingModestly(_ element: Element) {
        if count == capacity { reserveCapacity(count + Swift.max(16, count / 8)) }
        append(element)
    }
}
