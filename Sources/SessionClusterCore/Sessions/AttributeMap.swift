/// A session's attribute registers by name: a dictionary-like collection kept in ONE contiguous byte buffer,
/// entries sorted by name.
///
/// Every held copy carries this collection, so its size counts. Before, an array of entries each held its own value
/// array: for a typical session (a user name and 1 KB of state) three allocations, ~190 bytes beyond the payload.
/// Here names, stamps and values sit in one buffer (one allocation, ~18 bytes beyond name and value per entry).
/// Reading a value copies it out of the buffer; replacing one rewrites only its entry, in place when the buffer is
/// uniquely held. Lookups scan the entries (sessions hold a handful); appending in name order — decoding, joining
/// into a copy built the same way — goes straight to the end. Names compare as `String` does (Unicode canonical
/// equivalence), as dictionary keys did: two spellings of one name are one entry, spelled as its latest write.
///
/// Iteration yields `(key:, value:)` pairs in ascending name order, so equal maps iterate, encode and hash alike.
///
/// Layout per entry: name length (LEB128), name (UTF-8), value length + 1 (LEB128; 0 for a tombstone), stamp node
/// (8, little-endian), stamp wall (zigzag LEB128: 6 bytes for today's milliseconds), logical (LEB128, usually 1
/// byte), value. Fixed 4- and 8-byte fields took 28 bytes per entry; these take ~18 (a held copy of a user name and
/// 1 KB saves ~20). The offset of the last entry sits in the buffer object's header (a `ManagedBuffer`); the bytes
/// in use end with that entry, and the capacity is malloc's usable size, asked when growing: an `[UInt8]` spends 16
/// bytes on its own count and capacity. A map that never held an entry has no buffer at all (one emptied keeps it).
///
/// The header also has room for the rest of a held copy (`HeldCopyFields`: id, version, scalars…), so that a copy
/// the replica table holds is ONE allocation; other maps leave it blank, and equality and hashing ignore it.
package struct AttributeMap: Hashable, Sendable, Collection, ExpressibleByDictionaryLiteral {
    package typealias Element = (key: String, value: AttributeSlot)
    /// The byte offset of an entry in the buffer.
    package typealias Index = Int

    // `ManagedBuffer` is never `Sendable`; the buffer is written only when uniquely held (copy-on-write, see
    // `replace`), so sharing a map between threads shares only reads.
    nonisolated(unsafe) private var storage: Storage?

    /// The most bytes an entry's lengths and stamp take: two 5-byte lengths (values stay under 4 GiB), the node, a
    /// 10-byte wall and a 5-byte logical.
    private static let entryOverhead = 5 + 5 + 8 + 10 + 5

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

    /// The number of entries, counted by walking them (a session holds a handful).
    package var count: Int {
        var count = 0
        var position = 0
        let used = self.used
        while position < used {
            count += 1
            position = entryEnd(at: position)
        }
        return count
    }

    package var isEmpty: Bool { storage.map { $0.header.last == Self.empty } ?? true }

    /// The rest of a held copy (`ReplicationInstance.Replica`), in this map's buffer header; blank in other maps.
    var held: HeldCopyFields {
        get { readHeld { $0.pointee } }
        set { modifyHeld { $0 = newValue } }
    }

    /// Reads the held fields in place: a part read through the pointer copies only that part (no retain of the
    /// buffer, no copy of the whole struct).
    func readHeld<R>(_ body: (UnsafePointer<HeldCopyFields>) -> R) -> R {
        guard let storage else { return withUnsafePointer(to: HeldCopyFields.blank) { body($0) } }
        return storage.withUnsafeMutablePointerToHeader { body(Self.heldPointer(in: $0)) }
    }

    /// Changes the held fields in place, giving the map a buffer of its own first (an empty one when it had none,
    /// a copy when it was shared).
    mutating func modifyHeld<R>(_ body: (inout HeldCopyFields) -> R) -> R {
        if storage == nil {
            storage = Storage.make(capacity: 0, copying: nil)
        } else if !isKnownUniquelyReferenced(&storage) {
            storage = Storage.make(capacity: used, copying: storage)
        }
        return storage!.withUnsafeMutablePointerToHeader { body(&Self.heldPointer(in: $0).pointee) }
    }

    private static func heldPointer(in header: UnsafeMutablePointer<Header>) -> UnsafeMutablePointer<HeldCopyFields> {
        (UnsafeMutableRawPointer(header) + MemoryLayout<Header>.offset(of: \.held)!)
            .assumingMemoryBound(to: HeldCopyFields.self)
    }

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
            if let newValue { store(newValue, forKey: name) } else { removeValue(forKey: name) }
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
        let found = search(name)
        let old: AttributeSlot? = if case .found(let offset) = found { self.slot(at: offset) } else { nil }
        Self.encode(name: name, slot).withUnsafeBytes { put($0, at: found) }
        return old
    }

    /// Sets the slot of `name` (`updateValue` without copying the old slot out).
    private mutating func store(_ slot: AttributeSlot, forKey name: String) {
        let found = search(name)
        Self.encode(name: name, slot).withUnsafeBytes { put($0, at: found) }
    }

    /// Writes the encoded `entry` where `search` found its name: over the entry there, or inserted. The name as
    /// the entry spells it: a join writes only a newer stamp, so every copy ends with the spelling of the newest
    /// write, whatever order the writes arrived in (keeping the first spelling let copies that agree on the value
    /// hold different bytes for its name).
    private mutating func put(_ entry: UnsafeRawBufferPointer, at found: SearchResult) {
        switch found {
        case .found(let offset):
            let end = entryEnd(at: offset)
            let delta = entry.count - (end - offset)
            let last = self.last
            replace(offset..<end, with: entry)
            if offset < last { storage!.header.last = UInt32(last + delta) }
        case .insert(let offset):
            guard !isEmpty else {
                replace(0..<0, with: entry)
                storage!.header.last = 0
                return
            }
            let last = self.last
            replace(offset..<offset, with: entry)
            storage!.header.last = UInt32(offset > last ? offset : last + entry.count)
        }
    }

    /// Removes the entry of `name`, returning its slot (nil when there was none).
    @discardableResult
    package mutating func removeValue(forKey name: String) -> AttributeSlot? {
        guard case .found(let offset) = search(name) else { return nil }
        let old = slot(at: offset)
        let end = entryEnd(at: offset)
        let last = self.last
        let remaining = used - (end - offset)
        replace(offset..<end, with: UnsafeRawBufferPointer(start: nil, count: 0))
        if remaining == 0 {
            storage!.header.last = Self.empty
        } else if offset < last {
            storage!.header.last = UInt32(last - (end - offset))
        } else {
            // The last entry went: the new last is the one before it.
            var previous = 0
            var position = 0
            while position < remaining {
                previous = position
                position = entryEnd(at: position)
            }
            storage!.header.last = UInt32(previous)
        }
        return old
    }

    /// A map of `pairs` stamped alike (one request's changes): of repeated names the last pair wins. Sorted first
    /// and appended in name order, so that a request naming many attributes costs n log n, not n² (each insert in
    /// the middle of the buffer moves the bytes after it).
    package init(lastWins pairs: [(name: String, slot: AttributeSlot)]) {
        self.init()
        guard pairs.count > 8 else {
            for (name, slot) in pairs { self[name] = slot }
            return
        }
        // By name, then by position: of equal names (canonically equivalent spellings too) the last one written
        // comes last, and is the one kept.
        let order = pairs.indices.sorted { a, b in
            let (x, y) = (pairs[a].name, pairs[b].name)
            return x < y || (x == y && a < b)
        }
        for (position, index) in order.enumerated() {
            if position + 1 < order.count && pairs[order[position + 1]].name == pairs[index].name { continue }
            self[pairs[index].name] = pairs[index].slot
        }
    }

    /// Joins `other`'s registers into this map: each of its entries that this map lacks, or holds with an older
    /// stamp, replaces this map's (spelled as `other` spells it). A few entries are written one by one (in place
    /// when the sizes match); more are merged in one pass over both maps into a new buffer, so that joining k
    /// entries into n costs k + n, not k × n.
    package mutating func join(_ other: AttributeMap) {
        guard !other.isEmpty else { return }
        if other.isFew {
            // Entry by entry, their bytes copied as they are (no name, value or entry copied out on the way).
            let theirsUsed = other.used
            other.withBytes { theirs in
                var j = 0
                while j < theirsUsed {
                    let entry = Self.parts(in: theirs, at: j)
                    let found = search(theirs[entry.name])
                    if case .found(let offset) = found, stamp(at: offset) >= entry.stamp {
                        j = entry.value.upperBound
                        continue
                    }
                    put(UnsafeRawBufferPointer(rebasing: theirs[j..<entry.value.upperBound]), at: found)
                    j = entry.value.upperBound
                }
            }
            return
        }
        // First pass: the merged size, and whether anything changes at all (a patch already joined changes
        // nothing, and leaves the buffer as it is).
        var size = 0
        var changes = false
        mergeWalk(other) { fromOther, range, _ in
            size += range.count
            changes = changes || fromOther
        }
        guard changes else { return }
        let header = storage?.header ?? .blank
        let merged = Storage.make(capacity: size, header: header)
        var written = 0
        var last = 0
        merged.withUnsafeMutablePointerToElements { target in
            withBytes { mine in
                other.withBytes { theirs in
                    mergeWalk(other) { fromOther, range, lastEntry in
                        let source = fromOther ? theirs : mine
                        UnsafeMutableRawPointer(target + written).copyMemory(
                            from: source.baseAddress! + range.lowerBound, byteCount: range.count)
                        last = written + lastEntry - range.lowerBound
                        written += range.count
                    }
                }
            }
        }
        merged.header.last = UInt32(last)
        storage = merged
    }

    /// Whether `body` holds for the stamps of some name both maps hold (this map's, then `other`'s), visited in
    /// name order, stopping at the first. One pass over both when `other` holds more than a few entries: a
    /// concurrent delta of k attributes checked against a copy of n costs k + n, not k × n (a storm of concurrent
    /// writes to one big Redis hash held loops for seconds).
    package func anySharedName(with other: AttributeMap, where body: (_ mine: Stamp, _ theirs: Stamp) -> Bool) -> Bool {
        guard !other.isEmpty, !isEmpty else { return false }
        if other.isFew {
            return other.withBytes { theirs in
                other.indices.contains { index in
                    let entry = Self.parts(in: theirs, at: index)
                    guard case .found(let offset) = search(theirs[entry.name]) else { return false }
                    return body(stamp(at: offset), entry.stamp)
                }
            }
        }
        let (mineUsed, theirsUsed) = (used, other.used)
        return withBytes { mine in
            other.withBytes { theirs in
                var (i, j) = (0, 0)
                while i < mineUsed && j < theirsUsed {
                    let (a, b) = (Self.parts(in: mine, at: i), Self.parts(in: theirs, at: j))
                    switch Self.compare(mine[a.name], theirs[b.name]) {
                    case .less: i = a.value.upperBound
                    case .greater: j = b.value.upperBound
                    case .equal:
                        if body(a.stamp, b.stamp) { return true }
                        i = a.value.upperBound
                        j = b.value.upperBound
                    }
                }
                return false
            }
        }
    }

    /// Whether the map holds at most 4 entries (counted without walking a long map to its end).
    private var isFew: Bool {
        var position = 0
        let used = self.used
        for _ in 0..<5 {
            guard position < used else { return true }
            position = entryEnd(at: position)
        }
        return position >= used
    }

    /// Walks this map and `other` together in name order, calling `emit` with each entry of the join: from `other`
    /// (`true`) where it lacks here or is newer, else from this map; an entry's byte range in its own buffer. This
    /// map's entries after `other`'s last go in one range, with the offset of the last of them (`lastEntry`).
    private func mergeWalk(
        _ other: AttributeMap, _ emit: (_ fromOther: Bool, _ range: Range<Int>, _ lastEntry: Int) -> Void
    ) {
        let lastOfMine = last
        let (mineUsed, theirsUsed) = (used, other.used)
        withBytes { mine in
            other.withBytes { theirs in
                var (i, j) = (0, 0)
                while j < theirsUsed {
                    guard i < mineUsed else {
                        let entry = Self.parts(in: theirs, at: j)
                        emit(true, j..<entry.value.upperBound, j)
                        j = entry.value.upperBound
                        continue
                    }
                    let (a, b) = (Self.parts(in: mine, at: i), Self.parts(in: theirs, at: j))
                    switch Self.compare(mine[a.name], theirs[b.name]) {
                    case .less:
                        emit(false, i..<a.value.upperBound, i)
                        i = a.value.upperBound
                    case .greater:
                        emit(true, j..<b.value.upperBound, j)
                        j = b.value.upperBound
                    case .equal:
                        if b.stamp > a.stamp {
                            emit(true, j..<b.value.upperBound, j)
                        } else {
                            emit(false, i..<a.value.upperBound, i)
                        }
                        i = a.value.upperBound
                        j = b.value.upperBound
                    }
                }
                if i < mineUsed { emit(false, i..<mineUsed, lastOfMine) }
            }
        }
    }

    /// Visits every entry in ascending name order without copying anything out: its name's UTF-8 and its value's
    /// bytes (nil for a tombstone), valid only during the call, and its stamp.
    package func forEachEntry(
        _ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer?, _ stamp: Stamp) -> Void
    ) {
        let used = self.used
        withBytes { raw in
            var position = 0
            while position < used {
                let entry = Self.parts(in: raw, at: position)
                body(
                    UnsafeRawBufferPointer(rebasing: raw[entry.name]),
                    entry.isTombstone ? nil : UnsafeRawBufferPointer(rebasing: raw[entry.value]), entry.stamp)
                position = entry.value.upperBound
            }
        }
    }

    /// `forEachEntry` that stops at the first entry for which `body` returns false (no stamps).
    package func scanEntries(
        _ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer?) -> Bool
    ) {
        let used = self.used
        withBytes { raw in
            var position = 0
            while position < used {
                let entry = Self.parts(in: raw, at: position)
                guard
                    body(
                        UnsafeRawBufferPointer(rebasing: raw[entry.name]),
                        entry.isTombstone ? nil : UnsafeRawBufferPointer(rebasing: raw[entry.value]))
                else { return }
                position = entry.value.upperBound
            }
        }
    }

    /// The names, ascending.
    package var keys: [String] { indices.map { name(at: $0) } }

    /// The slots, in ascending name order.
    package var values: [AttributeSlot] { indices.map { slot(at: $0) } }

    /// The stamps, in ascending name order, read without copying any value out.
    package var stamps: [Stamp] { indices.map { stamp(at: $0) } }

    /// Whether any entry holds a value (is not a tombstone), read without copying values out.
    package var hasLiveValue: Bool {
        indices.contains { !parts(at: $0).isTombstone }
    }

    /// Whether attribute `name` holds a value (is present and not a tombstone), read without copying it out.
    package func hasLiveValue(named name: String) -> Bool {
        guard case .found(let offset) = search(name) else { return false }
        return !parts(at: offset).isTombstone
    }

    /// The length of attribute `name`'s value; nil when it is absent or removed. Nothing is copied out.
    package func valueLength(named name: String) -> Int? {
        guard case .found(let offset) = search(name) else { return nil }
        let entry = parts(at: offset)
        return entry.isTombstone ? nil : entry.value.count
    }

    /// Bytes the map occupies (names, values, stamps and lengths): a cheap size for batching.
    package var storedBytes: Int { used }

    // MARK: Equality (names compare as `String` does, so canonically equivalent spellings are equal)

    package static func == (lhs: AttributeMap, rhs: AttributeMap) -> Bool {
        if lhs.storage === rhs.storage { return true }
        guard lhs.count == rhs.count else { return false }
        if lhs.withUsedBytes({ l in rhs.withUsedBytes { r in l.elementsEqual(r) } }) { return true }
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
        /// First, so that `last` fills the end of its last word.
        var held: HeldCopyFields
        /// The offset of the last entry; `empty` when there is none. The bytes in use end with that entry, so
        /// they are not stored: 4 bytes less per held copy moved the common 1 KB copy into a smaller malloc class.
        var last: UInt32

        static var blank: Header { Header(held: .blank, last: AttributeMap.empty) }
    }

    private static let empty = UInt32.max

    // Written only through `replace`, after `isKnownUniquelyReferenced`: never shared while mutated.
    private final class Storage: ManagedBuffer<Header, UInt8> {
        /// An empty buffer of at least `capacity` bytes with `header`'s held fields (and no entries yet).
        static func make(capacity: Int, header: Header) -> Storage {
            precondition(capacity < Int(UInt32.max), "attribute map of 4 GiB or more")
            return unsafeDowncast(create(minimumCapacity: capacity) { _ in header }, to: Storage.self)
        }

        /// A buffer of at least `capacity` bytes holding a copy of `source`'s entries and header.
        static func make(capacity: Int, copying source: Storage?) -> Storage {
            precondition(capacity < Int(UInt32.max), "attribute map of 4 GiB or more")
            let buffer = create(minimumCapacity: capacity) { _ in source?.header ?? .blank }
            let storage = unsafeDowncast(buffer, to: Storage.self)
            if let source {
                let used = AttributeMap.used(of: source)
                // Checked, not assumed: copying more than the new buffer holds would write past its end.
                precondition(used <= storage.capacity, "attribute buffer too small for the bytes it copies")
                source.withUnsafeMutablePointerToElements { from in
                    storage.withUnsafeMutablePointerToElements { $0.update(from: from, count: used) }
                }
            }
            return storage
        }
    }

    /// The bytes in use: up to the end of the last entry, 0 when there is none.
    private var used: Int { storage.map(Self.used(of:)) ?? 0 }

    private static func used(of storage: Storage) -> Int {
        let last = storage.header.last
        guard last != empty else { return 0 }
        return storage.withUnsafeMutablePointerToElements { base in
            parts(in: UnsafeRawBufferPointer(start: base, count: Int(UInt32.max)), at: Int(last)).value.upperBound
        }
    }

    /// The offset of the last entry (0 when there is none).
    private var last: Int { storage.map { $0.header.last == Self.empty ? 0 : Int($0.header.last) } ?? 0 }

    /// The buffer's bytes, for reading entries the map knows are there. Its length is not the bytes in use
    /// (computing that parses the last entry): readers stay within the entries by construction.
    private func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        guard let storage else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return storage.withUnsafeMutablePointerToElements {
            body(UnsafeRawBufferPointer(start: $0, count: Int(UInt32.max)))
        }
    }

    /// Exactly the bytes in use.
    private func withUsedBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        let used = self.used
        return withBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<used])) }
    }

    /// Replaces the bytes in `range` with `bytes`, in place when the buffer is uniquely held and large enough.
    /// A buffer grows by an eighth at least: little slack per held copy, yet appending many entries one by one
    /// copies the buffer a bounded number of times per byte.
    private mutating func replace(_ range: Range<Int>, with bytes: UnsafeRawBufferPointer) {
        let used = self.used
        let needed = used - range.count + bytes.count
        // malloc's usable size (`ManagedBuffer.capacity`): the slack of the allocation's size class is used too.
        let capacity = storage?.capacity ?? 0
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
            guard let address = bytes.baseAddress else { return }
            UnsafeMutableRawPointer(base + range.lowerBound).copyMemory(from: address, byteCount: bytes.count)
        }
    }

    private static func encode(name: String, _ slot: AttributeSlot) -> [UInt8] {
        let nameBytes = name.utf8
        var entry = [UInt8]()
        entry.reserveCapacity(entryOverhead + nameBytes.count + (slot.value?.count ?? 0))
        func varint(_ value: UInt64) {
            var value = value
            while value >= 0x80 {
                entry.append(UInt8(truncatingIfNeeded: value) | 0x80)
                value >>= 7
            }
            entry.append(UInt8(value))
        }
        varint(UInt64(nameBytes.count))
        entry.append(contentsOf: nameBytes)
        if let value = slot.value {
            precondition(value.count < Int(UInt32.max), "attribute value of 4 GiB or more")
            varint(UInt64(value.count) + 1)
        } else {
            varint(0)
        }
        withUnsafeBytes(of: slot.stamp.node.rawValue.littleEndian) { entry.append(contentsOf: $0) }
        let wall = slot.stamp.time.wall
        varint(UInt64(bitPattern: wall << 1 ^ wall >> 63))
        varint(UInt64(slot.stamp.time.logical))
        if let value = slot.value { entry.append(contentsOf: value) }
        return entry
    }

    /// An entry's parts, parsed from its bytes.
    private struct Parts {
        var name: Range<Int>
        var isTombstone: Bool
        var stamp: Stamp
        /// The value's bytes (empty for a tombstone).
        var value: Range<Int>
    }

    private static func varint(_ raw: UnsafeRawBufferPointer, _ position: inout Int) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = raw[position]
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    private func parts(at offset: Int) -> Parts { withBytes { Self.parts(in: $0, at: offset) } }

    private static func parts(in raw: UnsafeRawBufferPointer, at offset: Int) -> Parts {
        var position = offset
        let nameLength = Int(Self.varint(raw, &position))
        let name = position..<position + nameLength
        position += nameLength
        let lengthPlusOne = Self.varint(raw, &position)
        let node = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt64.self))
        position += 8
        let zigzag = Self.varint(raw, &position)
        let wall = Int64(bitPattern: zigzag >> 1 ^ (0 &- (zigzag & 1)))
        let logical = UInt32(truncatingIfNeeded: Self.varint(raw, &position))
        let valueLength = lengthPlusOne == 0 ? 0 : Int(lengthPlusOne - 1)
        return Parts(
            name: name, isTombstone: lengthPlusOne == 0,
            stamp: Stamp(time: HLCTimestamp(wall: wall, logical: logical), node: NodeID(rawValue: node)),
            value: position..<position + valueLength)
    }

    /// Where the name of the entry at `offset` lies.
    private func nameRange(at offset: Int) -> Range<Int> {
        withBytes { raw in
            var position = offset
            let length = Int(Self.varint(raw, &position))
            return position..<position + length
        }
    }

    private func entryEnd(at offset: Int) -> Int { parts(at: offset).value.upperBound }

    private func name(at offset: Int) -> String {
        let range = nameRange(at: offset)
        return withBytes { String(decoding: $0[range], as: UTF8.self) }
    }

    private func stamp(at offset: Int) -> Stamp { parts(at: offset).stamp }

    private func slot(at offset: Int) -> AttributeSlot {
        let parts = parts(at: offset)
        let value = parts.isTombstone ? nil : withBytes { Array($0[parts.value]) }
        return AttributeSlot(value: value, stamp: parts.stamp)
    }

    private enum SearchResult {
        case found(Int)
        case insert(Int)
    }

    private enum Order { case less, equal, greater }

    /// How the stored name at `offset` compares with `name`: by bytes when both are ASCII (the same order as
    /// `String`'s), by `String` comparison otherwise.
    private func compare(at offset: Int, with name: some Collection<UInt8>) -> Order {
        withBytes { raw in
            var position = offset
            let length = Int(Self.varint(raw, &position))
            return Self.compare(raw[position..<position + length], name)
        }
    }

    /// How the name spelled `stored` compares with the name spelled `other` (UTF-8), in `String`'s order.
    private static func compare(_ stored: Slice<UnsafeRawBufferPointer>, _ other: some Collection<UInt8>) -> Order {
        if stored.elementsEqual(other) { return .equal }
        if stored.allSatisfy({ $0 < 0x80 }) && other.allSatisfy({ $0 < 0x80 }) {
            return stored.lexicographicallyPrecedes(other) ? .less : .greater
        }
        let (storedName, otherName) = (String(decoding: stored, as: UTF8.self), String(decoding: other, as: UTF8.self))
        return storedName < otherName ? .less : storedName == otherName ? .equal : .greater
    }

    private func search(_ name: String) -> SearchResult { search(name.utf8) }

    /// Where the entry named by the UTF-8 `name` is, or would go.
    private func search(_ name: some Collection<UInt8>) -> SearchResult {
        guard !isEmpty else { return .insert(0) }
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
