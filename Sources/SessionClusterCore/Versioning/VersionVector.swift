/// One delta's identity: the node that originated it and that node's counter for the session.
package struct Dot: Hashable, Sendable, CustomStringConvertible {
    package var origin: NodeID
    package var counter: UInt64

    package init(origin: NodeID, counter: UInt64) {
        self.origin = origin
        self.counter = counter
    }

    package var description: String { "\(origin)#\(counter)" }
}

/// How two version vectors relate.
package enum CausalOrder: Sendable, Equatable {
    case before, after, equal, concurrent
}

/// A version vector: for each node, how many deltas of one session that node originated and this copy holds.
///
/// Counters per origin are contiguous (a copy never holds delta 3 of a node without 1 and 2), because deltas
/// are applied only in causal order and full copies merge whole prefixes. So "covers a dot" is one comparison.
/// Entries are kept sorted by node id: comparison and encoding are deterministic and allocation-light.
package struct VersionVector: Hashable, Sendable, CustomStringConvertible {
    package struct Entry: Hashable, Sendable {
        package var node: NodeID
        package var counter: UInt64
        package init(node: NodeID, counter: UInt64) {
            self.node = node
            self.counter = counter
        }
    }

    /// The entries of a vector, sorted by `node`, no zero counters.
    package struct Entries: RandomAccessCollection, Sendable {
        let vector: VersionVector

        package var startIndex: Int { 0 }
        package var endIndex: Int { vector.count }
        package subscript(position: Int) -> Entry { vector.entry(at: position) }
    }

    /// The lowest entry, held inline; a zero counter means the vector is empty. Most sessions are written by
    /// one node, and every held copy carries a vector: inline, that one entry spares each copy an array
    /// allocation (64 bytes with malloc's overhead).
    private var first: Entry
    /// The entries after `first`, sorted by `node`.
    private var rest: [Entry]

    private static let none = Entry(node: NodeID(rawValue: 0), counter: 0)

    package init() {
        first = Self.none
        rest = []
    }

    /// A vector from arbitrary entries: duplicates keep the highest counter, zeros are dropped.
    package init(_ pairs: some Sequence<(NodeID, UInt64)>) {
        self.init()
        for (node, counter) in pairs { raise(node, to: counter) }
    }

    /// A vector from a node → counter map.
    package init(_ counters: [NodeID: UInt64]) {
        self.init(counters.map { ($0.key, $0.value) })
    }

    /// Sorted by `node`, no zero counters.
    package var entries: Entries { Entries(vector: self) }

    package var isEmpty: Bool { first.counter == 0 }

    private var count: Int { isEmpty ? 0 : 1 + rest.count }

    private func entry(at index: Int) -> Entry { index == 0 ? first : rest[index - 1] }

    /// The counter for `node` (0 when absent).
    package subscript(node: NodeID) -> UInt64 {
        guard let index = position(of: node) else { return 0 }
        return entry(at: index).counter
    }

    /// Whether this copy already holds the delta `dot`.
    package func covers(_ dot: Dot) -> Bool { self[dot.origin] >= dot.counter }

    /// Whether every counter of `other` is at most ours: we have seen everything `other` has.
    package func covers(_ other: VersionVector) -> Bool {
        let count = self.count
        var mine = 0
        for theirs in other.entries {
            while mine < count && entry(at: mine).node < theirs.node { mine += 1 }
            guard mine < count, entry(at: mine).node == theirs.node, entry(at: mine).counter >= theirs.counter
            else { return false }
        }
        return true
    }

    /// Whether we cover `other` and have something it lacks.
    package func dominates(_ other: VersionVector) -> Bool { self != other && covers(other) }

    /// The causal relation of this vector to `other`.
    package func compare(to other: VersionVector) -> CausalOrder {
        let mineCovers = covers(other)
        let theirsCovers = other.covers(self)
        switch (mineCovers, theirsCovers) {
        case (true, true): return .equal
        case (true, false): return .after
        case (false, true): return .before
        case (false, false): return .concurrent
        }
    }

    /// Raises `node`'s counter to at least `counter`.
    package mutating func raise(_ node: NodeID, to counter: UInt64) {
        guard counter > 0 else { return }
        let entry = Entry(node: node, counter: counter)
        if isEmpty {
            first = entry
        } else if (rest.last ?? first).node < node {
            // Ascending input (decoding, merging sorted vectors) appends: building a vector stays linear.
            rest.append(entry)
        } else if let index = position(of: node) {
            if index == 0 {
                first.counter = max(first.counter, counter)
            } else {
                rest[index - 1].counter = max(rest[index - 1].counter, counter)
            }
        } else if node < first.node {
            rest.insert(first, at: 0)
            first = entry
        } else {
            rest.insert(entry, at: rest.firstIndex { $0.node > node } ?? rest.count)
        }
    }

    /// Records `dot` as held.
    package mutating func add(_ dot: Dot) { raise(dot.origin, to: dot.counter) }

    /// The pointwise maximum (least upper bound) with `other`.
    package mutating func merge(_ other: VersionVector) {
        for entry in other.entries { raise(entry.node, to: entry.counter) }
    }

    /// The pointwise maximum of two vectors.
    package func merging(_ other: VersionVector) -> VersionVector {
        var result = self
        result.merge(other)
        return result
    }

    /// The total number of deltas this vector accounts for.
    package var total: UInt64 { entries.reduce(0) { $0 &+ $1.counter } }

    package var description: String {
        "[" + entries.map { "\($0.node):\($0.counter)" }.joined(separator: ",") + "]"
    }

    private func position(of node: NodeID) -> Int? {
        var low = 0
        var high = count - 1
        while low <= high {
            let middle = (low + high) / 2
            let here = entry(at: middle).node
            if here == node { return middle }
            if here < node { low = middle + 1 } else { high = middle - 1 }
        }
        return nil
    }
}
