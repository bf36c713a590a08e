/// A session's attribute registers by name: a dictionary-like collection kept as one array sorted by name.
///
/// Sessions hold a handful of attributes, and every held copy carries this collection, so its size counts:
/// a sorted array is one allocation of 48 bytes per attribute, where a `Dictionary` adds a ~90-byte header and
/// keeps up to half its buckets empty. Lookups are a binary search. Names compare as `String` does (Unicode
/// canonical equivalence), as dictionary keys did: two spellings of one name are one entry.
///
/// Iteration yields `(key:, value:)` pairs in ascending name order, so equal maps iterate, encode and hash alike.
package struct AttributeMap: Hashable, Sendable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
    package typealias Element = (key: String, value: AttributeSlot)

    private struct Entry: Hashable, Sendable {
        var name: String
        var slot: AttributeSlot
    }

    /// Sorted by `name`, names unique.
    private var entries: [Entry]

    package init() { entries = [] }

    /// An empty map with room for `minimumCapacity` attributes.
    package init(minimumCapacity: Int) {
        entries = []
        entries.reserveCapacity(minimumCapacity)
    }

    /// A map of `slots`' pairs; of repeated names the last pair wins.
    package init(_ slots: some Sequence<(String, AttributeSlot)>) {
        entries = []
        for (name, slot) in slots { self[name] = slot }
    }

    /// A map from a `[name: slot]` dictionary.
    package init(_ slots: [String: AttributeSlot]) {
        self.init(slots.map { ($0.key, $0.value) })
    }

    package init(dictionaryLiteral elements: (String, AttributeSlot)...) {
        self.init(elements)
    }

    package var startIndex: Int { 0 }
    package var endIndex: Int { entries.count }

    package subscript(position: Int) -> Element { (entries[position].name, entries[position].slot) }

    /// The slot of attribute `name`, nil when the map has none; assigning nil removes the entry.
    package subscript(name: String) -> AttributeSlot? {
        get {
            guard case .found(let index) = search(name) else { return nil }
            return entries[index].slot
        }
        set {
            if let newValue { updateValue(newValue, forKey: name) } else { removeValue(forKey: name) }
        }
    }

    /// Sets the slot of `name`, returning the slot it replaced (nil when `name` was new).
    @discardableResult
    package mutating func updateValue(_ slot: AttributeSlot, forKey name: String) -> AttributeSlot? {
        switch search(name) {
        case .found(let index):
            defer { entries[index].slot = slot }
            return entries[index].slot
        case .insert(let index):
            entries.insert(Entry(name: name, slot: slot), at: index)
            return nil
        }
    }

    /// Removes the entry of `name`, returning its slot (nil when there was none).
    @discardableResult
    package mutating func removeValue(forKey name: String) -> AttributeSlot? {
        guard case .found(let index) = search(name) else { return nil }
        return entries.remove(at: index).slot
    }

    /// The names, ascending.
    package var keys: some RandomAccessCollection<String> { entries.lazy.map(\.name) }

    /// The slots, in ascending name order.
    package var values: some RandomAccessCollection<AttributeSlot> { entries.lazy.map(\.slot) }

    private enum SearchResult {
        case found(Int)
        case insert(Int)
    }

    private func search(_ name: String) -> SearchResult {
        // Ascending input (decoding a content, joining into a copy built the same way) ends at once.
        guard let last = entries.last, name <= last.name else { return .insert(entries.count) }
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].name < name { low = middle + 1 } else { high = middle }
        }
        return low < entries.count && entries[low].name == name ? .found(low) : .insert(low)
    }
}
