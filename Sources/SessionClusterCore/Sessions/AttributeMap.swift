/// A session's attribute registers by name: a dictionary-like collection kept in ONE contiguous byte buffer,
/// entries sorted by name.
///
/// Every held copy carries this collection, so its size counts. Before, an array of entries each held its own value
/// array: for a typical session (a user name and 1 KB of state) three allocations, ~190 bytes beyond the payload.
/// Here names, stamps and values sit in one buffer (one allocation, 28 bytes beyond name and value per entry).
/// Reading a value copies it out of the buffer; replacing one rewrites only its entry, in place when the buffer is
/// uniquely held. Lookups scan the entries (sessions hold a handful); appending in name order — decoding, joining
/// into a copy built the same way — goes straight to the end. Names compare as `String` does (Unicode canonical
/// equivalence), as dictionary keys did: two spellings of one name are one entry (the first spelling is kept).
///
/// Iteration yields `(key:, value:)` pairs in ascending name order, so equal maps iterate, encode and hash alike.
///
/// Layout: per entry name length (4), name (UTF-8), stamp wall (8), logical (4), node (8), value length (4;
/// `UInt32.max` for a tombstone), value; little-endian. The entry count, the offset of the last entry, the bytes in
/// use and the capacity sit in the buffer object's header (a `ManagedBuffer`): an `[UInt8]` spends 16 bytes on its
/// own count and capacity beside them. An empty map holds no buffer at all.
package struct AttributeMap: Hashable, Sendable, Collection, ExpressibleByDictionaryLiteral {
    package typealias Element = (key: String, value: AttributeSlot)
    /// The byte offset of an entry in the buffer.
    package typealias Index = Int

    // `ManagedBuffer` is never `Sendable`; the buffer is written only when uniquely held (copy-on-write, see
    // `replace`), so sharing a map between threads shares only reads.
    nonisolated(unsafe) private var storage: Storage?

    private static let entryOverhead = 4 + 8 + 4 + 8 + 4
    private static let tombstone = UInt32.max

    package init() { storage = nil }

    /// An empty map; `minimumCapacity` attributes are expected (the buffer grows as values arrive).
    package init(minimumCapacity: Int) {
        storage = nil
    }

    /// A map of `slots`' pairs; of repeated names the last pair wins.
    package init(_ slots: some Sequence<(String, AttributeSlot)>) {
        storage = nil
        for (name, slot) in slots { self[name] = slot }
    }

    /// A map from a `[name: slot]` dictionary.
    package init(_ slots: [String: AttributeSlot]) {
        self.init(slots.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    package init(dictionaryLiteral elements: (String, AttributeSlot)...) {
        self.init(elements)
    }

    // MARK: Collection

    package var startIndex: Int { 0 }
    package var endIndex: Int { used }

    package var count: Int { Int(storage?.header.count ?? 0) }
    package var isEmpty: Bool { storage == nil }

    package func index(after position: Int) -> Int { entryEnd(at: position) }

    package subscript(position: Int) -> Element { (name(at: position), slot(at: position)) }

    // MARK: Dictionary-like access

    /// The slot of attribute `name`, nil when the map has none; assigning nil removes the entry.
    package subscript(name: String) -> AttributeSlot? {
        get {
            guard case .found(let offset) = search(name) else { return nil }
            return slot(at: offset)
        }
        set {
            if let newValue { updateValue(newValue, forKey: name) } else { removeValue(forKey: name) }
        }
    }

    /// The stamp of attribute `name` (nil when the map has none), read without copying its value out.
    package func stamp(of name: String) -> Stamp? {
        guard case .found(let offset) = search(name) else { return nil }
        return stamp(at: offset)
    }

    /// Sets the slot of `name`, returning the slot it replaced (nil when `name` was new).
    @discardableResult
    package mutating func updateValue(_ slot: AttributeSlot, forKey name: String) -> AttributeSlot? {
        switch search(name) {
        case .found(let offset):
            let old = self.slot(at: offset)
            let end = entryEnd(at: offset)
            let entry = Self.encode(nameBytes: Array(nameBytes(at: offset)), slot)
            let delta = entry.count - (end - offset)
            let last = self.last
            replace(offset..<end, with: entry)
            if offset < last { storage!.header.last = UInt32(last + delta) }
            return old
        case .insert(let offset):
            let entry = Self.encode(nameBytes: Array(name.utf8), slot)
            guard storage != nil else {
                replace(0..<0, with: entry)
                storage!.header.count = 1
                storage!.header.last = 0
                return nil
            }
            let last = self.last
            replace(offset..<offset, with: entry)
            storage!.header.count += 1
            storage!.header.last = UInt32(offset > last ? offset : last + entry.count)
            return nil
        }
    }

    /// Removes the entry of `name`, returning its slot (nil when there was none).
    @discardableResult
    package mutating func removeValue(forKey name: String) -> AttributeSlot? {
        guard case .found(let offset) = search(name) else { return nil }
        let old = slot(at: offset)
        let end = entryEnd(at: offset)
        let last = self.last
        guard count > 1 else {
            storage = nil
            return old
        }
        replace(offset..<end, with: [])
        storage!.header.count -= 1
        if offset < last {
            storage!.header.last = UInt32(last - (end - offset))
        } else {
            // The last entry went: the new last is the one before it.
            var previous = 0
            var position = 0
            while position < used {
                previous = position
                position = entryEnd(at: position)
            }
            storage!.header.last = UInt32(previous)
        }
        return old
    }

    /// The names, ascending.
    package var keys: [String] { indices.map { name(at: $0) } }

    /// The slots, in ascending name order.
    package var values: [AttributeSlot] { indices.map { slot(at: $0) } }

    /// The stamps, in ascending name order, read without copying any value out.
    package var stamps: [Stamp] { indices.map { stamp(at: $0) } }

    /// Whether any entry holds a value (is not a tombstone), read without copying values out.
    package var hasLiveValue: Bool {
        indices.contains { load32(at: $0 + 4 + Int(load32(at: $0)) + 20) != Self.tombstone }
    }

    /// Whether attribute `name` holds a value (is present and not a tombstone), read without copying it out.
    package func hasLiveValue(named name: String) -> Bool {
        guard case .found(let offset) = search(name) else { return false }
        return load32(at: offset + 4 + Int(load32(at: offset)) + 20) != Self.tombstone
    }

    /// Bytes the map occupies (names, values, stamps and lengths): a cheap size for batching.
    package var storedBytes: Int { used }

    // MARK: Equality (names compare as `String` does, so canonically equivalent spellings are equal)

    package static func == (lhs: AttributeMap, rhs: AttributeMap) -> Bool {
        if lhs.storage === rhs.storage { return true }
        guard lhs.count == rhs.count else { return false }
        if lhs.withBytes({ l in rhs.withBytes { r in l.elementsEqual(r) } }) { return true }
        return zip(lhs, rhs).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        for (name, slot) in self {
            hasher.combine(name)
            hasher.combine(slot)
        }
    }

    // MARK: Storage

    private struct Header {
        /// Bytes in use (the entries) and bytes allocated.
        var used: UInt32
        var capacity: UInt32
        var count: UInt32
        /// The offset of the last entry.
        var last: UInt32
    }

    // Written only through `replace`, after `isKnownUniquelyReferenced`: never shared while mutated.
    private final class Storage: ManagedBuffer<Header, UInt8> {
        /// A buffer of `capacity` bytes holding a copy of `source`'s entries.
        static func make(capacity: Int, copying source: Storage?) -> Storage {
            precondition(capacity < Int(UInt32.max), "attribute map of 4 GiB or more")
            let buffer = create(minimumCapacity: capacity) { _ in
                Header(used: 0, capacity: 0, count: 0, last: 0)
            }
            let storage = unsafeDowncast(buffer, to: Storage.self)
            storage.header = source?.header ?? Header(used: 0, capacity: 0, count: 0, last: 0)
            storage.header.capacity = UInt32(capacity)
            if let source {
                let used = Int(source.header.used)
                // Checked, not assumed: copying more than the new buffer holds would write past its end.
                precondition(used <= capacity, "attribute buffer too small for the bytes it copies")
                source.withUnsafeMutablePointerToElements { from in
                    storage.withUnsafeMutablePointerToElements { $0.update(from: from, count: used) }
                }
            }
            return storage
        }
    }

    private var used: Int { Int(storage?.header.used ?? 0) }

    private var last: Int { Int(storage?.header.last ?? 0) }

    /// The bytes in use, for reading.
    private func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        guard let storage else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        let used = Int(storage.header.used)
        return storage.withUnsafeMutablePointerToElements { body(UnsafeRawBufferPointer(start: $0, count: used)) }
    }

    /// Replaces the bytes in `range` with `bytes`, in place when the buffer is uniquely held and large enough.
    /// A buffer grows by an eighth at least: little slack per held copy, yet appending many entries one by one
    /// copies the buffer a bounded number of times per byte.
    private mutating func replace(_ range: Range<Int>, with bytes: [UInt8]) {
        let used = self.used
        let needed = used - range.count + bytes.count
        let capacity = Int(storage?.header.capacity ?? 0)
        if needed > capacity {
            storage = Storage.make(capacity: Swift.max(needed, capacity + capacity / 8), copying: storage)
        } else if !isKnownUniquelyReferenced(&storage) {
            // Room for the old bytes too: they are copied before the change shrinks them.
            storage = Storage.make(capacity: Swift.max(needed, used), copying: storage)
        }
        let storage = storage!
        storage.withUnsafeMutablePointerToElements { base in
            // The tail first (the regions may overlap: `copyMemory` is a memmove), then the new bytes.
            UnsafeMutableRawPointer(base + range.lowerBound + bytes.count)
                .copyMemory(from: base + range.upperBound, byteCount: used - range.upperBound)
            bytes.withUnsafeBytes { source in
                guard let address = source.baseAddress else { return }
                UnsafeMutableRawPointer(base + range.lowerBound).copyMemory(from: address, byteCount: source.count)
            }
        }
        storage.header.used = UInt32(needed)
    }

    private static func encode(nameBytes: [UInt8], _ slot: AttributeSlot) -> [UInt8] {
        var entry = [UInt8]()
        entry.reserveCapacity(entryOverhead + nameBytes.count + (slot.value?.count ?? 0))
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { entry.append(contentsOf: $0) }
        }
        append(UInt32(nameBytes.count))
        entry.append(contentsOf: nameBytes)
        append(slot.stamp.time.wall)
        append(slot.stamp.time.logical)
        append(slot.stamp.node.rawValue)
        if let value = slot.value {
            precondition(value.count < Int(tombstone), "attribute value of 4 GiB or more")
            append(UInt32(value.count))
            entry.append(contentsOf: value)
        } else {
            append(tombstone)
        }
        return entry
    }

    private func load32(at offset: Int) -> UInt32 {
        withBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    }

    private func load64(at offset: Int) -> UInt64 {
        withBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    }

    private func entryEnd(at offset: Int) -> Int {
        let lengthOffset = offset + 4 + Int(load32(at: offset)) + 20
        let length = load32(at: lengthOffset)
        return lengthOffset + 4 + (length == Self.tombstone ? 0 : Int(length))
    }

    private func nameBytes(at offset: Int) -> [UInt8] {
        withBytes { Array($0[offset + 4..<offset + 4 + Int(load32(at: offset))]) }
    }

    private func name(at offset: Int) -> String { String(decoding: nameBytes(at: offset), as: UTF8.self) }

    private func stamp(at offset: Int) -> Stamp {
        let stampOffset = offset + 4 + Int(load32(at: offset))
        return Stamp(
            time: HLCTimestamp(wall: Int64(bitPattern: load64(at: stampOffset)), logical: load32(at: stampOffset + 8)),
            node: NodeID(rawValue: load64(at: stampOffset + 12)))
    }

    private func slot(at offset: Int) -> AttributeSlot {
        let stampOffset = offset + 4 + Int(load32(at: offset))
        let stamp = stamp(at: offset)
        let length = load32(at: stampOffset + 20)
        let value =
            length == Self.tombstone ? nil : withBytes { Array($0[stampOffset + 24..<stampOffset + 24 + Int(length)]) }
        return AttributeSlot(value: value, stamp: stamp)
    }

    private enum SearchResult {
        case found(Int)
        case insert(Int)
    }

    private enum Order { case less, equal, greater }

    /// How the stored name at `offset` compares with `name`: by bytes when both are ASCII (the same order as
    /// `String`'s), by `String` comparison otherwise.
    private func compare(at offset: Int, with name: String) -> Order {
        withBytes { raw in
            let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            let stored = raw[offset + 4..<offset + 4 + length]
            let utf8 = name.utf8
            if stored.elementsEqual(utf8) { return .equal }
            if stored.allSatisfy({ $0 < 0x80 }) && utf8.allSatisfy({ $0 < 0x80 }) {
                return stored.lexicographicallyPrecedes(utf8) ? .less : .greater
            }
            let storedName = String(decoding: stored, as: UTF8.self)
            return storedName < name ? .less : storedName == name ? .equal : .greater
        }
    }

    private func search(_ name: String) -> SearchResult {
        guard storage != nil else { return .insert(0) }
        // Ascending input (decoding a content, joining into a copy built the same way) ends at once.
        let last = self.last
        switch compare(at: last, with: name) {
        case .less: return .insert(used)
        case .equal: return .found(last)
        case .greater: break
        }
        var position = 0
        while position < last {
            switch compare(at: position, with: name) {
            case .less: position = entryEnd(at: position)
            case .equal: return .found(position)
            case .greater: return .insert(position)
            }
        }
        return .insert(last)
    }
}
