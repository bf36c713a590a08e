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
    /// The fixed-size registers, stored without optionals' tag bytes (see `Scalars`).
    private(set) var scalars: Scalars
    /// Attribute registers by name (tombstones included).
    package var attributes: AttributeMap
    /// How the session ended, once it has. Rare (tombstones only), so kept out of line: inline it would widen
    /// every held copy by 48 bytes.
    private(set) var invalidationBox: InvalidationBox?

    /// When the session was created; nil in patches that do not create it.
    package var createdAt: Timestamp? {
        get { scalars.createdAt == Scalars.noMillis ? nil : Timestamp(millis: scalars.createdAt) }
        set { scalars.createdAt = newValue.map { Scalars.storable($0.millis) } ?? Scalars.noMillis }
    }
    /// The latest replicated access time (local accesses refresh it only occasionally, see `ReplicationSettings`).
    package var lastAccess: Timestamp {
        get { Timestamp(millis: scalars.lastAccess) }
        set { scalars.lastAccess = newValue.millis }
    }
    /// Max inactive interval in seconds, as a last-writer-wins register.
    package var maxInactive: Int64? {
        get { scalars.maxInactive == Scalars.noMillis ? nil : scalars.maxInactive }
        set { scalars.maxInactive = newValue.map(Scalars.storable) ?? Scalars.noMillis }
    }
    package var maxInactiveStamp: Stamp? {
        get {
            scalars.stampWall == Int64.min && scalars.stampLogical == 0 && scalars.stampNode == 0
                ? nil
                : Stamp(
                    time: HLCTimestamp(wall: scalars.stampWall, logical: scalars.stampLogical),
                    node: NodeID(rawValue: scalars.stampNode))
        }
        set {
            scalars.stampWall = newValue?.time.wall ?? Int64.min
            scalars.stampLogical = newValue?.time.logical ?? 0
            scalars.stampNode = newValue?.node.rawValue ?? 0
        }
    }
    /// How the session ended, once it has.
    package var invalidation: Invalidation? {
        get { invalidationBox?.invalidation }
        set { invalidationBox = newValue.map(InvalidationBox.init) }
    }

    /// A content from its parts as a held copy keeps them (`ReplicationInstance.Replica`).
    init(scalars: Scalars, attributes: AttributeMap, invalidationBox: InvalidationBox?) {
        self.scalars = scalars
        self.attributes = attributes
        self.invalidationBox = invalidationBox
    }

    package init(
        createdAt: Timestamp? = nil, lastAccess: Timestamp = .zero, maxInactive: Int64? = nil,
        maxInactiveStamp: Stamp? = nil, attributes: AttributeMap = [:], invalidation: Invalidation? = nil
    ) {
        self.scalars = Scalars()
        self.attributes = attributes
        self.invalidationBox = nil
        self.createdAt = createdAt
        self.lastAccess = lastAccess
        self.maxInactive = maxInactive
        self.maxInactiveStamp = maxInactiveStamp
        self.invalidation = invalidation
    }

    /// Joins `other` into this content (least upper bound).
    package mutating func join(_ other: SessionContent) {
        if let theirs = other.createdAt { createdAt = min(createdAt ?? theirs, theirs) }
        lastAccess = max(lastAccess, other.lastAccess)
        if let theirStamp = other.maxInactiveStamp, maxInactiveStamp.map({ theirStamp > $0 }) ?? true {
            maxInactive = other.maxInactive
            maxInactiveStamp = theirStamp
        }
        attributes.join(other.attributes)
        if let theirs = other.invalidation, invalidation.map({ theirs.stamp < $0.stamp }) ?? true {
            invalidation = theirs
        }
    }

    /// Whether any attribute register was written by both sides with different stamps: a lost update under
    /// last-writer-wins, which the replication layer counts as a conflict.
    package func conflicts(with other: SessionContent) -> Bool {
        attributes.anySharedName(with: other.attributes) { mine, theirs in mine != theirs }
    }

    /// Live attributes (tombstones left out).
    package var liveAttributes: [String: [UInt8]] {
        var result = [String: [UInt8]](minimumCapacity: attributes.count)
        attributes.forEachEntry { name, value, _ in
            if let value { result[String(decoding: name, as: UTF8.self)] = Array(value) }
        }
        return result
    }

    /// Total bytes of live attribute names and values.
    package var attributeBytes: Int {
        var total = 0
        attributes.forEachEntry { name, value, _ in total += name.count + (value?.count ?? 0) }
        return total
    }
}

/// A content's fixed-size registers without optionals' tag bytes: each optional pads by 8 bytes and a nested
/// `Stamp` (24 bytes, 4 of them padding) leaves room unused, and every held copy carries these (its allocation's
/// malloc size class is what counts). `noMillis` (`Int64.min`) stands for nil in `createdAt` and `maxInactive`; a
/// value of `Int64.min` itself is kept as `Int64.min + 1` (for `maxInactive` both mean "never expires"; no clock
/// reads either as a creation time). A stamp of wall `Int64.min` (a time before any clock's), logical 0 and node 0
/// stands for no stamp.
struct Scalars: Hashable, Sendable {
    var createdAt = noMillis
    var maxInactive = noMillis
    var lastAccess: Int64 = 0
    var stampWall = Int64.min
    var stampNode: UInt64 = 0
    var stampLogical: UInt32 = 0

    static let noMillis = Int64.min

    static func storable(_ value: Int64) -> Int64 { value == noMillis ? noMillis + 1 : value }
}

/// An immutable, out-of-line `Invalidation`, compared and hashed by value.
final class InvalidationBox: Hashable, Sendable {
    let invalidation: Invalidation

    init(_ invalidation: Invalidation) { self.invalidation = invalidation }

    static func == (lhs: InvalidationBox, rhs: InvalidationBox) -> Bool { lhs.invalidation == rhs.invalidation }

    func hash(into hasher: inout Hasher) { hasher.combine(invalidation) }
}
