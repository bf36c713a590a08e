/// One attribute's replicated register: a value, or a tombstone (`value == nil`) recording a removal.
package struct AttributeSlot: Hashable, Sendable {
    package var value: [UInt8]?
    package var stamp: Stamp

    package init(value: [UInt8]?, stamp: Stamp) {
        self.value = value
        self.stamp = stamp
    }
}

/// Why a session ended. Kept in its tombstone so late deltas cannot bring it back.
package enum InvalidationReason: UInt8, Hashable, Sendable {
    case logout = 1
    case expired = 2
    /// The id was changed (session-fixation protection); the state lives on under `Invalidation.renamedTo`.
    case renamed = 3
}

/// The end of a session: when (stamp), why, and for a rename the new id.
package struct Invalidation: Hashable, Sendable {
    package var stamp: Stamp
    package var reason: InvalidationReason
    package var renamedTo: SessionID?

    package init(stamp: Stamp, reason: InvalidationReason, renamedTo: SessionID? = nil) {
        self.stamp = stamp
        self.reason = reason
        self.renamedTo = renamedTo
    }
}

/// The replicated part of a session, as a join-semilattice: `join` is commutative, associative and
/// idempotent, so copies that have joined the same patches hold the same content in any delivery order.
///
/// A delta's patch is itself a `SessionContent` holding only what one request changed. The rules:
/// attributes and max-inactive are last-writer-wins registers by `Stamp` (removal is a stamped tombstone);
/// last access and creation take the max / min; an invalidation, once joined, stays (it wins over any
/// concurrent change, and the earliest-stamped invalidation is the one kept so all copies agree).
package struct SessionContent: Hashable, Sendable {
    /// When the session was created; nil in patches that do not create it.
    package var createdAt: Timestamp? {
        get { storedCreatedAt == Self.noMillis ? nil : Timestamp(millis: storedCreatedAt) }
        set { storedCreatedAt = newValue.map { Self.storable($0.millis) } ?? Self.noMillis }
    }
    /// `createdAt` and `maxInactive` without their optionals' tag bytes: each pads the content by 8 bytes, and
    /// together they move every held copy's storage into the next malloc size class (160 instead of 144 bytes).
    /// `noMillis` (`Int64.min`) stands for nil; a value of `Int64.min` itself is kept as `Int64.min + 1` (for
    /// `maxInactive` both mean "never expires"; no clock reads either as a creation time).
    private var storedCreatedAt: Int64
    private var storedMaxInactive: Int64
    private static let noMillis = Int64.min

    private static func storable(_ value: Int64) -> Int64 { value == noMillis ? noMillis + 1 : value }
    /// The latest replicated access time (local accesses refresh it only occasionally, see `ReplicationSettings`).
    package var lastAccess: Timestamp
    /// Max inactive interval in seconds, as a last-writer-wins register.
    package var maxInactive: Int64? {
        get { storedMaxInactive == Self.noMillis ? nil : storedMaxInactive }
        set { storedMaxInactive = newValue.map(Self.storable) ?? Self.noMillis }
    }
    package var maxInactiveStamp: Stamp? {
        get { storedMaxInactiveStamp == Self.noStamp ? nil : storedMaxInactiveStamp }
        set { storedMaxInactiveStamp = newValue ?? Self.noStamp }
    }
    /// `maxInactiveStamp` without the optional's tag byte, which would pad every held copy by 8 bytes and move
    /// its storage into the next malloc size class; `noStamp` (a time before any clock's) stands for nil.
    private var storedMaxInactiveStamp: Stamp
    private static let noStamp = Stamp(time: HLCTimestamp(wall: .min, logical: 0), node: NodeID(rawValue: 0))
    /// Attribute registers by name (tombstones included).
    package var attributes: AttributeMap
    /// How the session ended, once it has. Rare (tombstones only), so kept out of line: inline it would widen
    /// every held copy by 48 bytes.
    package var invalidation: Invalidation? {
        get { invalidationBox?.invalidation }
        set { invalidationBox = newValue.map(InvalidationBox.init) }
    }
    private var invalidationBox: InvalidationBox?

    package init(
        createdAt: Timestamp? = nil, lastAccess: Timestamp = .zero, maxInactive: Int64? = nil,
        maxInactiveStamp: Stamp? = nil, attributes: AttributeMap = [:], invalidation: Invalidation? = nil
    ) {
        self.storedCreatedAt = createdAt.map { Self.storable($0.millis) } ?? Self.noMillis
        self.lastAccess = lastAccess
        self.storedMaxInactive = maxInactive.map(Self.storable) ?? Self.noMillis
        self.storedMaxInactiveStamp = maxInactiveStamp ?? Self.noStamp
        self.attributes = attributes
        self.invalidationBox = invalidation.map(InvalidationBox.init)
    }

    /// Joins `other` into this content (least upper bound).
    package mutating func join(_ other: SessionContent) {
        if let theirs = other.createdAt { createdAt = min(createdAt ?? theirs, theirs) }
        lastAccess = max(lastAccess, other.lastAccess)
        if let theirStamp = other.maxInactiveStamp, maxInactiveStamp.map({ theirStamp > $0 }) ?? true {
            maxInactive = other.maxInactive
            maxInactiveStamp = theirStamp
        }
        for (name, slot) in other.attributes {
            if let mine = attributes.stamp(of: name), mine >= slot.stamp { continue }
            attributes[name] = slot
        }
        if let theirs = other.invalidation, invalidation.map({ theirs.stamp < $0.stamp }) ?? true {
            invalidation = theirs
        }
    }

    /// Whether any attribute register was written by both sides with different stamps: a lost update under
    /// last-writer-wins, which the replication layer counts as a conflict.
    package func conflicts(with other: SessionContent) -> Bool {
        for (name, slot) in other.attributes {
            if let mine = attributes.stamp(of: name), mine != slot.stamp { return true }
        }
        return false
    }

    /// Live attributes (tombstones left out).
    package var liveAttributes: [String: [UInt8]] {
        var result = [String: [UInt8]](minimumCapacity: attributes.count)
        for (name, slot) in attributes { if let value = slot.value { result[name] = value } }
        return result
    }

    /// Total bytes of live attribute names and values.
    package var attributeBytes: Int {
        attributes.reduce(0) { $0 + $1.key.utf8.count + ($1.value.value?.count ?? 0) }
    }
}

/// An immutable, out-of-line `Invalidation`, compared and hashed by value.
private final class InvalidationBox: Hashable, Sendable {
    let invalidation: Invalidation

    init(_ invalidation: Invalidation) { self.invalidation = invalidation }

    static func == (lhs: InvalidationBox, rhs: InvalidationBox) -> Bool { lhs.invalidation == rhs.invalidation }

    func hash(into hasher: inout Hasher) { hasher.combine(invalidation) }
}
