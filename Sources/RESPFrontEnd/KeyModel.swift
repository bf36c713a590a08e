import SessionCluster

/// How a Redis key lives in its session (`SessionID(forKey:)`): reserved attributes for the key's name, a
/// string's value and the expiry, and one attribute per hash field. Each attribute is a last-writer-wins register
/// of the model, so concurrent writes to different fields of one hash on different nodes both survive, and a
/// `DEL` (a removal of every attribute it saw) never lets a write it saw come back.
enum KeyLayout {
    /// The key's own bytes (for `SCAN` and `KEYS`; a key's id cannot be turned back into its name).
    static let name = "\u{1}k"
    /// A string key's value.
    static let string = "\u{1}s"
    /// Absolute expiry, Unix time in ms, as decimal text; absent: no expiry.
    static let expiry = "\u{1}x"

    /// The attribute holding hash field `field`: `h` and the field as text when it is ASCII, else `H` and its hex
    /// digits. Attribute names are strings, compared as Swift compares strings (Unicode canonical equivalence):
    /// `é` as one code point and as `e` + accent would be one attribute, where Redis keeps two fields.
    static func attribute(forField field: [UInt8]) -> String {
        if field.allSatisfy({ $0 != 0 && $0 < 0x80 }) {
            return "h" + String(decoding: field, as: UTF8.self)
        }
        return "H" + field.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// The hash field an attribute holds; nil for the reserved ones.
    static func field(ofAttribute name: String) -> [UInt8]? {
        var name = name
        return name.withUTF8 { field(ofAttribute: UnsafeRawBufferPointer($0)) }
    }

    /// The hash field an attribute holds, from the name's UTF-8; nil for the reserved ones.
    static func field(ofAttribute name: UnsafeRawBufferPointer) -> [UInt8]? {
        guard let first = name.first else { return nil }
        if first == UInt8(ascii: "h") { return Array(name.dropFirst()) }
        guard first == UInt8(ascii: "H"), name.count % 2 == 1 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(name.count / 2)
        for index in stride(from: 1, to: name.count, by: 2) {
            guard let high = RESPCommandParser.hexValue(name[index]),
                let low = RESPCommandParser.hexValue(name[index + 1])
            else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    /// Whether an attribute (its name's UTF-8) holds a hash field, decided without copying it out.
    static func isField(_ name: UnsafeRawBufferPointer) -> Bool {
        guard let first = name.first else { return false }
        if first == UInt8(ascii: "h") { return true }
        guard first == UInt8(ascii: "H"), name.count % 2 == 1 else { return false }
        return name.dropFirst().allSatisfy { RESPCommandParser.hexValue($0) != nil }
    }

    /// Whether a session is a key's (the HTTP front end does not serve those).
    static func isKey(_ attributes: [String: [UInt8]]) -> Bool { attributes[name] != nil }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// What a key holds, as a client sees it: absent keys (never written, deleted, expired) have no state.
struct KeyState: Equatable {
    enum Value: Equatable {
        case string([UInt8])
        /// Fields in no particular order (`KeyState.sortedFields` for listing them).
        case hash([(field: [UInt8], value: [UInt8])])

        static func == (lhs: Value, rhs: Value) -> Bool {
            switch (lhs, rhs) {
            case (.string(let a), .string(let b)): a == b
            case (.hash(let a), .hash(let b)):
                a.count == b.count && zip(sorted(a), sorted(b)).allSatisfy { $0 == $1 }
            default: false
            }
        }

        static func sorted(_ fields: [(field: [UInt8], value: [UInt8])]) -> [(field: [UInt8], value: [UInt8])] {
            fields.sorted { $0.field.lexicographicallyPrecedes($1.field) }
        }
    }

    var value: Value
    /// Unix time in ms; nil: persistent.
    var expiresAt: Int64?

    /// The key's state in `attributes` at `now` (Unix ms); nil when it holds nothing or has expired. A string wins
    /// over hash fields written concurrently with it (a `SET` on one node, an `HSET` on another): every copy
    /// shows the same.
    init?(attributes: [String: [UInt8]], now: Int64) {
        let expiry = attributes[KeyLayout.expiry].flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
        if let expiry, expiry <= now { return nil }
        if let string = attributes[KeyLayout.string] {
            value = .string(string)
        } else {
            var fields = [(field: [UInt8], value: [UInt8])]()
            for (name, bytes) in attributes {
                if let field = KeyLayout.field(ofAttribute: name) { fields.append((field, bytes)) }
            }
            guard !fields.isEmpty else { return nil }
            value = .hash(fields)
        }
        expiresAt = expiry
    }

    init(value: Value, expiresAt: Int64?) {
        self.value = value
        self.expiresAt = expiresAt
    }

    /// Redis's `TYPE` word.
    var typeName: String {
        switch value {
        case .string: "string"
        case .hash: "hash"
        }
    }

    /// The hash's fields in no particular order (a write need not sort them).
    var fields: [(field: [UInt8], value: [UInt8])] {
        if case .hash(let fields) = value { return fields }
        return []
    }

    /// The hash's fields sorted by their bytes: every node lists a hash in the same order.
    var sortedFields: [(field: [UInt8], value: [UInt8])] { Value.sorted(fields) }

    func field(_ field: [UInt8]) -> [UInt8]? {
        fields.first { $0.field == field }?.value
    }

    /// The values of `names` (nil where absent), in their order: the hash is indexed once when more than a few
    /// are named, not scanned once per name (an `HMGET` of k fields of a hash of n cost k × n).
    func fields(named names: some Collection<[UInt8]>) -> [[UInt8]?] {
        guard names.count > 8 else { return names.map(field) }
        let index = Dictionary(fields.map { ($0.field, $0.value) }, uniquingKeysWith: { first, _ in first })
        return names.map { index[$0] }
    }
}

/// What a read sees of a key (`Plan.read`). Either a held copy read in place on the key's loop
/// (`ClusterNode.peek`), where only what the command asks for is copied out (an `HGET` on a hash of 30,000 fields
/// used to decode them all into a dictionary first, about 9 ms), or a key model's state (a read inside a `MULTI`
/// block on one key). Both answer alike: an expired key is absent, and a string wins over hash fields written
/// concurrently with it (`KeyState`).
struct KeyView {
    enum Kind { case string, hash }

    /// Unix time in ms, fixed for the whole command.
    let now: Int64
    /// Nil when the key holds nothing (never written, deleted, expired).
    let kind: Kind?
    /// Unix time in ms; nil: persistent (or absent).
    let expiresAt: Int64?
    /// The string's value, when `kind` is `.string`.
    let string: [UInt8]?
    private let source: Source

    private enum Source {
        case held(SessionView)
        case state(KeyState?)
    }

    /// A held copy, read in place: the expiry and string are looked up by name, and a hash's existence by a scan
    /// that stops at its first field.
    init(held view: SessionView, now: Int64) {
        self.now = now
        source = .held(view)
        let expiry = view.value(KeyLayout.expiry).flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
        if let expiry, expiry <= now {
            (kind, expiresAt, string) = (nil, nil, nil)
            return
        }
        if let value = view.value(KeyLayout.string) {
            (kind, expiresAt, string) = (.string, expiry, value)
            return
        }
        var anyField = false
        view.forEachValue { name, _ in
            anyField = KeyLayout.isField(name)
            return !anyField
        }
        (kind, expiresAt, string) = anyField ? (.hash, expiry, nil) : (nil, nil, nil)
    }

    /// A key model's state (or an absent key's, nil).
    init(state: KeyState?, now: Int64) {
        self.now = now
        source = .state(state)
        expiresAt = state?.expiresAt
        switch state?.value {
        case .string(let value)?: (kind, string) = (.string, value)
        case .hash?: (kind, string) = (.hash, nil)
        case nil: (kind, string) = (nil, nil)
        }
    }

    /// Redis's `TYPE` word.
    var typeName: String {
        switch kind {
        case .string?: "string"
        case .hash?: "hash"
        case nil: "none"
        }
    }

    /// A hash field's value (nil when absent); one lookup by name in a held copy.
    func field(_ field: [UInt8]) -> [UInt8]? {
        guard kind == .hash else { return nil }
        switch source {
        case .held(let view): return view.value(KeyLayout.attribute(forField: field))
        case .state(let state): return state?.field(field)
        }
    }

    /// The values of `names` (nil where absent), in their order. More than a few are looked up in an index of
    /// the hash built in one pass, not by a scan each (k × n).
    func fields(named names: some Collection<[UInt8]>) -> [[UInt8]?] {
        fields(named: names, upTo: .max)!
    }

    /// `fields(named:)`, nil once the values found add up to more than `maxBytes` (one field named a million
    /// times must not build a million copies of it).
    func fields(named names: some Collection<[UInt8]>, upTo maxBytes: Int) -> [[UInt8]?]? {
        guard kind == .hash else { return names.map { _ in nil } }
        let lookup: ([UInt8]) -> [UInt8]?
        if names.count > 8 {
            let fields: [(field: [UInt8], value: [UInt8])]
            switch source {
            case .held: fields = allFields
            case .state(let state): fields = state?.fields ?? []
            }
            let index = Dictionary(fields.map { ($0.field, $0.value) }, uniquingKeysWith: { first, _ in first })
            lookup = { index[$0] }
        } else {
            lookup = field
        }
        var values = [[UInt8]?]()
        values.reserveCapacity(names.count)
        var bytes = 0
        for name in names {
            let value = lookup(name)
            bytes += 16 + (value?.count ?? 0)
            guard bytes <= maxBytes else { return nil }
            values.append(value)
        }
        return values
    }

    /// How many fields the hash has (0 for anything else); counted in place.
    var fieldCount: Int {
        guard kind == .hash else { return 0 }
        switch source {
        case .held(let view):
            var count = 0
            view.forEachValue { name, _ in
                if KeyLayout.isField(name) { count += 1 }
                return true
            }
            return count
        case .state(let state):
            return state?.fields.count ?? 0
        }
    }

    /// The hash's fields sorted by their bytes: every node lists a hash in the same order.
    var sortedFields: [(field: [UInt8], value: [UInt8])] {
        guard kind == .hash else { return [] }
        switch source {
        case .held: return KeyState.Value.sorted(allFields)
        case .state(let state): return state?.sortedFields ?? []
        }
    }

    /// Every field of a held hash, in attribute order.
    private var allFields: [(field: [UInt8], value: [UInt8])] {
        guard case .held(let view) = source else { return [] }
        var fields = [(field: [UInt8], value: [UInt8])]()
        view.forEachValue { name, value in
            if let field = KeyLayout.field(ofAttribute: name) { fields.append((field, Array(value))) }
            return true
        }
        return fields
    }
}

/// One key during one command (or one `MULTI` block on it): the state the commands see, updated as they run,
/// and the session changes that make it so, committed as one delta.
struct KeyModel {
    let key: [UInt8]
    /// Unix time in ms, fixed for the whole command.
    let now: Int64
    private(set) var state: KeyState?
    private(set) var changes = SessionChanges()
    /// What a delete must remove: the attributes the session held when read (`base`), less those this command
    /// removed (`gone`), plus those it wrote (`added`). Kept apart so that a write to a big hash does not copy or
    /// hash every name it holds.
    private let base: [String: [UInt8]]
    private var gone: Set<String> = []
    private var added: Set<String> = []
    /// Whether the key existed when read (a write to an absent key names it again).
    private var named: Bool

    init(key: [UInt8], attributes: [String: [UInt8]], now: Int64) {
        self.key = key
        self.now = now
        state = KeyState(attributes: attributes, now: now)
        base = attributes
        named = state != nil
    }

    /// Marks `name` as no longer held.
    private mutating func forget(_ name: String) {
        added.remove(name)
        if base[name] != nil { gone.insert(name) }
    }

    var changed: Bool { !changes.isEmpty }

    /// What a read in the same command (a `MULTI` block on this key) sees now.
    var view: KeyView { KeyView(state: state, now: now) }

    /// Removes everything the key holds (its expiry and name too: a session holding nothing is forgotten after the
    /// tombstone retention, and a later write names the key again).
    mutating func delete() {
        var present = added
        for name in base.keys where !gone.contains(name) { present.insert(name) }
        for name in present.sorted() { changes.remove(name) }
        added = []
        gone = Set(base.keys)
        named = false
        state = nil
    }

    /// Makes `value` the key's string; its expiry is kept only with `keepTTL` (Redis's `SET … KEEPTTL`).
    mutating func setString(_ value: [UInt8], keepTTL: Bool = false) {
        let expiry = keepTTL ? state?.expiresAt : nil
        delete()
        write(KeyLayout.string, value)
        state = KeyState(value: .string(value), expiresAt: nil)
        if let expiry { setExpiry(expiry) }
    }

    /// Sets hash fields; the caller has checked that the key is a hash or absent. Returns how many were new.
    @discardableResult
    mutating func setFields(_ pairs: [(field: [UInt8], value: [UInt8])]) -> Int {
        if state == nil { delete() }  // an expired key's leftovers must not show through
        var fields = state?.fields ?? []
        // Where each field sits, hashed only when many are named: looking each one up by a scan would cost the
        // hash's size per field (n² for an `HSET` of a whole hash).
        var positions = [[UInt8]: Int]()
        if pairs.count > 8 {
            positions.reserveCapacity(fields.count + pairs.count)
            for (index, entry) in fields.enumerated() { positions[entry.field] = index }
        }
        func position(of field: [UInt8]) -> Int? {
            pairs.count > 8 ? positions[field] : fields.firstIndex { $0.field == field }
        }
        var added = 0
        for (field, value) in pairs {
            write(KeyLayout.attribute(forField: field), value)
            if let index = position(of: field) {
                fields[index].value = value
            } else {
                if pairs.count > 8 { positions[field] = fields.count }
                fields.append((field, value))
                added += 1
            }
        }
        state = KeyState(value: .hash(fields), expiresAt: state?.expiresAt)
        return added
    }

    /// Removes hash fields; returns how many existed. A hash left empty no longer exists (its expiry goes too).
    mutating func removeFields(_ fields: [[UInt8]]) -> Int {
        guard let held = state?.fields else { return 0 }
        // One pass over the hash, whatever the number of fields named (a field named twice counts once).
        var named = Set(fields)
        var remaining = [(field: [UInt8], value: [UInt8])]()
        remaining.reserveCapacity(held.count)
        var removed = 0
        for entry in held {
            guard named.remove(entry.field) != nil else {
                remaining.append(entry)
                continue
            }
            let name = KeyLayout.attribute(forField: entry.field)
            changes.remove(name)
            forget(name)
            removed += 1
        }
        if remaining.isEmpty {
            delete()
        } else {
            state = KeyState(value: .hash(remaining), expiresAt: state?.expiresAt)
        }
        return removed
    }

    /// Sets (Unix ms) or clears (nil) the expiry of an existing key. An expiry not in the future deletes the key,
    /// as Redis does.
    mutating func setExpiry(_ at: Int64?) {
        guard state != nil else { return }
        guard let at else {
            if state?.expiresAt != nil {
                changes.remove(KeyLayout.expiry)
                forget(KeyLayout.expiry)
            }
            state?.expiresAt = nil
            return
        }
        if at <= now { return delete() }
        write(KeyLayout.expiry, Array(String(at).utf8))
        state?.expiresAt = at
    }

    private mutating func write(_ name: String, _ value: [UInt8]) {
        if !named {
            changes.set(KeyLayout.name, key)
            added.insert(KeyLayout.name)
            named = true
        }
        changes.set(name, value)
        added.insert(name)
    }
}
