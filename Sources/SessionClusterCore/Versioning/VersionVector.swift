/// One delta's identity: the node that originated it and that node's counter for the session.
public struct Dot: Hashable, Sendable, CustomStringConvertible {
    public var origin: NodeID
    public var counter: UInt64

    public init(origin: NodeID, counter: UInt64) {
        self.origin = origin
        self.counter = counter
    }

    public var description: String { "\(origin)#\(counter)" }
}

/// How two version vectors relate.
public enum CausalOrder: Sendable, Equatable {
    case before, after, equal, concurrent
}

/// A version vector: for each node, how many deltas of one session that node originated and this copy holds.
///
/// Counters per origin are contiguous (a copy never holds delta 3 of a node without 1 and 2), because deltas
/// are applied only in causal order and full copies merge whole prefixes. So "covers a dot" is one comparison.
/// Entries are kept sorted by node id: comparison and encoding are deterministic and allocation-light.
public struct VersionVector: Hashable, Sendable, CustomStringConvertible {
    public struct Entry: Hashable, Sendable {
        public var node: NodeID
        public var counter: UInt64
        public init(node: NodeID, counter: UInt64) {
            self.node = node
            self.counter = counter
        }
    }

    /// Sorted by `node`, no zero counters.
    public private(set) var entries: [Entry]

    public init() { entries = [] }

    /// A vector from arbitrary entries: duplicates keep the highest counter, zeros are dropped.
    public init(_ pairs: some Sequence<(NodeID, UInt64)>) {
        entries = []
        for (node, counter) in pairs { raise(node, to: counter) }
    }

    /// A vector from a node → counter map.
    public init(_ counters: [NodeID: UInt64]) {
        self.init(counters.map { ($0.key, $0.value) })
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// The counter for `node` (0 when absent).
    public subscript(node: NodeID) -> UInt64 {
        guard let index = position(of: node) else { return 0 }
        return entries[index].counter
    }

    /// Whether this copy already holds the delta `dot`.
    public func covers(_ dot: Dot) -> Bool { self[dot.origin] >= dot.counter }

    /// Whether every counter of `other` is at most ours: we have seen everything `other` has.
    public func covers(_ other: VersionVector) -> Bool {
        var mine = 0
        for theirs in other.entries {
            while mine < entries.count && entries[mine].node < theirs.node { mine += 1 }
            guard mine < entries.count, entries[mine].node == theirs.node, entries[mine].counter >= theirs.counter
            else { return false }
        }
        return true
    }

    /// Whether we cover `other` and have something it lacks.
    public func dominates(_ other: VersionVector) -> Bool { self != other && covers(other) }

    /// The causal relation of this vector to `other`.
    public func compare(to other: VersionVector) -> CausalOrder {
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
    public mutating func raise(_ node: NodeID, to counter: UInt64) {
        guard counter > 0 else { return }
        if entries.last.map({ $0.node < node }) ?? true {
            // Ascending input (decoding, merging sorted vectors) appends: building a vector stays linear.
            entries.append(Entry(node: node, counter: counter))
        } else if let index = position(of: node) {
            entries[index].counter = max(entries[index].counter, counter)
        } else {
            let insertAt = entries.firstIndex { $0.node > node } ?? entries.count
            entries.insert(Entry(node: node, counter: counter), at: insertAt)
        }
    }

    /// Records `dot` as held.
    public mutating func add(_ dot: Dot) { raise(dot.origin, to: dot.counter) }

    /// The pointwise maximum (least upper bound) with `other`.
    public mutating func merge(_ other: VersionVector) {
        for entry in other.entries { raise(entry.node, to: entry.counter) }
    }

    /// The pointwise maximum of two vectors.
    public func merging(_ other: VersionVector) -> VersionVector {
        var result = self
        result.merge(other)
        return result
    }

    /// The total number of deltas this vector accounts for.
    public var total: UInt64 { entries.reduce(0) { $0 &+ $1.counter } }

    public var description: String {
        "[" + entries.map { "\($0.node):\($0.counter)" }.joined(separator: ",") + "]"
    }

    private func position(of node: NodeID) -> Int? {
        var low = 0
        var high = entries.count - 1
        while low <= high {
            let middle = (low + high) / 2
            if entries[middle].node == node { return middle }
            if entries[middle].node < node { low = middle + 1 } else { high = middle - 1 }
        }
        return nil
    }
}
