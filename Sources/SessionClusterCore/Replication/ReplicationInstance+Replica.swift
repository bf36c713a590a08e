extension ReplicationInstance {
    /// One held copy of a session and what this node knows about it locally.
    ///
    /// A value type stored out of line, copy-on-write: the replica table (`ReplicaSlots`) is an open-addressing
    /// table between 3/8 and 3/4 full whose slots hold one reference each, found by the id inside the copy.
    struct Replica: Sendable {
        private var storage: Storage

        init(session: Session, localAccess: Timestamp, placement: Placement?) {
            storage = Storage(
                Fields(session: session, localAccess: localAccess, placementBox: placement.map(PlacementBox.init)))
        }

        /// The session's id, read without copying the session out (the replica table keys copies by it).
        var id: SessionID { storage.fields.session.id }

        var session: Session {
            get { storage.fields.session }
            // `_modify` (not get/set) so that `replica.session.content.join(…)` mutates the held arrays in place
            // instead of copying them out and back.
            _modify {
                makeUnique()
                yield &storage.fields.session
            }
        }

        /// The latest access this node served; replicated only occasionally (`accessRefreshMillis`).
        var localAccess: Timestamp {
            get { storage.fields.localAccess }
            _modify {
                makeUnique()
                yield &storage.fields.localAccess
            }
        }

        /// Backup mode: who holds the session, as this node last learned.
        var placement: Placement? {
            get { storage.fields.placementBox?.placement }
            set {
                guard newValue != storage.fields.placementBox?.placement else { return }
                makeUnique()
                storage.fields.placementBox = newValue.map(PlacementBox.init)
            }
        }

        /// The session carrying the latest access this node saw, as it goes to disk (snapshot, append log):
        /// `lastAccess` is joined by maximum, so raising it changes no version.
        var sessionAsAccessed: Session {
            var session = storage.fields.session
            if storage.fields.localAccess > session.content.lastAccess {
                session.content.lastAccess = storage.fields.localAccess
            }
            return session
        }

        /// Whether the copy is a valid session (not a tombstone); read without copying the session out.
        var isValid: Bool { storage.fields.session.content.invalidation == nil }

        /// Whether the copy is a valid session whose attribute `name` holds a value; read in place.
        func isValid(having name: String) -> Bool {
            isValid && storage.fields.session.content.attributes.hasLiveValue(named: name)
        }

        /// Takes in delta `dot`: joins its patch (unless `joining` is false: the `noMerge` planted fault), records
        /// the dot and, for a local commit, the access. One call, so the replica table is entered once.
        mutating func apply(
            _ patch: SessionContent, as dot: Dot, joining: Bool = true, accessedAt now: Timestamp? = nil
        ) {
            makeUnique()
            if joining { storage.fields.session.content.join(patch) }
            storage.fields.session.version.add(dot)
            if let now, now > storage.fields.localAccess { storage.fields.localAccess = now }
        }

        /// Records an access served here at `now`; the storage is written only when the time moves forward.
        mutating func noteAccess(at now: Timestamp) {
            if now > localAccess { localAccess = now }
        }

        private mutating func makeUnique() {
            if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.fields) }
        }
    }

    private struct Fields: Sendable {
        var session: Session
        var localAccess: Timestamp
        /// Backup mode only, so out of line: inline, the optional `Placement` widens every delta-mode copy by
        /// 24 bytes and moves its storage into the next malloc size class (192 instead of 176 bytes).
        var placementBox: PlacementBox?
    }

    /// An immutable, out-of-line `Placement` (replaced, never mutated).
    private final class PlacementBox: Sendable {
        let placement: Placement

        init(_ placement: Placement) { self.placement = placement }
    }

    // Mutated only through `Replica.makeUnique()`, i.e. when uniquely referenced: never shared while written.
    private final class Storage: @unchecked Sendable {
        var fields: Fields

        init(_ fields: Fields) { self.fields = fields }
    }
}
