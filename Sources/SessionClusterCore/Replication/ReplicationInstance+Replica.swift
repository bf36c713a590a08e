extension ReplicationInstance {
    /// One held copy of a session and what this node knows about it locally.
    ///
    /// ONE allocation per copy: the copy is its attribute buffer (`AttributeMap`), whose header holds everything
    /// else (`HeldCopyFields`: id, version, scalars, local access, the rare fields). Before, the fixed fields were an
    /// object of their own pointing at the buffer: one more object header, malloc overhead and size-class rounding,
    /// ~48 bytes per copy. Reading `session` assembles a `Session` that shares the buffer (a retain, no bytes
    /// copied); writing goes through `_modify`, so the buffer is changed in place when uniquely held.
    ///
    /// The price: a write while anything else holds the buffer — a `Session` read from the copy and still alive,
    /// a persistence snapshot — copies the whole buffer (before, the 144-byte fixed part). Hot paths write first
    /// and read after (`ReplicaTable.noteAccess`, then `session`), or read only what they need (`isValid`,
    /// `version`) without a `Session`.
    ///
    /// The replica table (`ReplicaSlots`) holds one reference per slot and finds a copy by the id inside it.
    struct Replica: Sendable {
        private var map: AttributeMap

        init(session: Session, localAccess: Timestamp, placement: Placement?) {
            map = session.content.attributes
            map.held = HeldCopyFields(
                id: session.id, version: session.version,
                rare: RareFields.box(placement: placement, invalidation: session.content.invalidationBox),
                scalars: session.content.scalars, localAccess: localAccess)
        }

        /// The session's id, read in place (the replica table keys copies by it).
        var id: SessionID { map.readHeld { $0.pointee.id } }

        /// The copy's version, read without assembling the session.
        var version: VersionVector { map.readHeld { $0.pointee.version } }

        var session: Session {
            get { Self.session(of: map) }
            // `_modify` (not get/set) so that `replica.session.content.join(…)` mutates the buffer in place instead
            // of copying it out and back.
            _modify {
                var session = Self.session(of: map)
                let (localAccess, rare) = map.readHeld { ($0.pointee.localAccess, $0.pointee.rare) }
                // The session's map must be the buffer's only holder to be changed in place; its header's copies of
                // the version and rare fields are dropped so that the session's own are not shared either.
                map = AttributeMap()
                session.content.attributes.held = .blank
                defer {
                    swap(&map, &session.content.attributes)
                    let invalidation = session.content.invalidationBox
                    map.held = HeldCopyFields(
                        id: session.id, version: session.version,
                        rare: rare?.invalidation === invalidation
                            ? rare : RareFields.box(placement: rare?.placement, invalidation: invalidation),
                        scalars: session.content.scalars, localAccess: localAccess)
                }
                yield &session
            }
        }

        private static func session(of map: AttributeMap) -> Session {
            map.readHeld { held in
                let invalidation = held.pointee.rare?.invalidation
                return Session(
                    id: held.pointee.id,
                    content: SessionContent(
                        scalars: held.pointee.scalars, attributes: map, invalidationBox: invalidation),
                    version: held.pointee.version)
            }
        }

        /// The latest access this node served; replicated only occasionally (`accessRefreshMillis`).
        var localAccess: Timestamp {
            get { map.readHeld { $0.pointee.localAccess } }
            set { map.modifyHeld { $0.localAccess = newValue } }
        }

        /// Backup mode: who holds the session, as this node last learned.
        var placement: Placement? {
            get { map.readHeld { $0.pointee.rare?.placement } }
            set {
                guard newValue != placement else { return }
                map.modifyHeld { $0.rare = RareFields.box(placement: newValue, invalidation: $0.rare?.invalidation) }
            }
        }

        /// The session carrying the latest access this node saw, as it goes to disk (snapshot, append log):
        /// `lastAccess` is joined by maximum, so raising it changes no version.
        var sessionAsAccessed: Session {
            var session = self.session
            if localAccess > session.content.lastAccess { session.content.lastAccess = localAccess }
            return session
        }

        /// Whether the copy is a valid session (not a tombstone); read in place.
        var isValid: Bool { map.readHeld { $0.pointee.rare?.invalidation == nil } }

        /// Whether the copy is a valid session that has attribute entries, all of them tombstones (every attribute
        /// removed: a deleted Redis key's); read in place, stopping at the first live entry (usually the first).
        /// A valid copy without entries (a fresh login) is not emptied.
        var isEmptied: Bool { isValid && !map.isEmpty && !map.hasLiveValue }

        /// Whether the copy is a valid session whose attribute `name` holds a value; read in place.
        func isValid(having name: String) -> Bool { isValid && map.hasLiveValue(named: name) }

        /// Takes in delta `dot`: joins its patch (unless `joining` is false: the `noMerge` planted fault), records
        /// the dot and, for a local commit, the access. One call, so the replica table is entered once.
        mutating func apply(
            _ patch: SessionContent, as dot: Dot, joining: Bool = true, accessedAt now: Timestamp? = nil
        ) {
            Self.change(&session) { session in
                if joining { session.content.join(patch) }
                session.version.add(dot)
            }
            if let now, now > localAccess { localAccess = now }
        }

        /// One pass through `session`'s `_modify` for several changes.
        private static func change(_ session: inout Session, _ body: (inout Session) -> Void) { body(&session) }

        /// Records an access served here at `now`; the buffer is written only when the time moves forward.
        mutating func noteAccess(at now: Timestamp) {
            if now > localAccess { localAccess = now }
        }
    }
}

/// The rest of a held copy, kept in the header of its attribute buffer (`AttributeMap.held`); blank in maps that
/// are not a held copy's.
///
/// 96 bytes, and every byte counts: with the map's 4-byte `last` the header is 100 bytes, so a copy of a user name
/// and 1 KB (1,076 bytes of entries) is a 1,192-byte object, malloc's 1,200-byte class; 4 bytes more and it is
/// the 1,216 class. Hence the local access as a 4-byte offset, filling the end of `scalars`' last word.
struct HeldCopyFields: Sendable {
    var id: SessionID
    var version: VersionVector
    /// Nil for a valid delta-mode copy (the common case); see `RareFields`.
    var rare: RareFields?
    var scalars: Scalars
    /// Milliseconds from the replicated last access (`scalars.lastAccess`) to the latest access this node served;
    /// 0 when that is not later. Saturates at ~49.7 days, which a live copy never reaches: a served access is
    /// replicated within `accessRefreshMillis` (or a quarter of the session's max-inactive interval), and a session
    /// that never expires by inactivity (a Redis key's) has no use for it.
    private var localAccessOffset: UInt32

    init(id: SessionID, version: VersionVector, rare: RareFields?, scalars: Scalars, localAccess: Timestamp) {
        self.id = id
        self.version = version
        self.rare = rare
        self.scalars = scalars
        self.localAccessOffset = 0
        self.localAccess = localAccess
    }

    /// The latest access this node served, or the replicated one when that is later.
    var localAccess: Timestamp {
        get { Timestamp(millis: scalars.lastAccess).adding(millis: Int64(localAccessOffset)) }
        set {
            let ahead = newValue.millis.subtractingReportingOverflow(scalars.lastAccess)
            localAccessOffset =
                ahead.overflow ? (newValue.millis > scalars.lastAccess ? .max : 0)
                : UInt32(clamping: max(0, ahead.partialValue))
        }
    }

    static let blank = HeldCopyFields(
        id: SessionID(high: 0, low: 0), version: VersionVector(), rare: nil, scalars: Scalars(), localAccess: .zero)
}

/// A held copy's fields that most copies do not have, out of line behind one pointer: the placement (backup mode)
/// and the invalidation (tombstones). Immutable: replaced, never changed.
final class RareFields: Sendable {
    let placement: Placement?
    let invalidation: InvalidationBox?

    private init(placement: Placement?, invalidation: InvalidationBox?) {
        self.placement = placement
        self.invalidation = invalidation
    }

    /// A box for the two, nil when both are nil.
    static func box(placement: Placement?, invalidation: InvalidationBox?) -> RareFields? {
        placement == nil && invalidation == nil ? nil : RareFields(placement: placement, invalidation: invalidation)
    }
}
