import SessionClusterCore

/// A read of a session, as one request sees it.
public struct SessionSnapshot: Sendable, Equatable {
    /// The session (after `changeID`, its new id).
    public var id: SessionID
    /// The attributes, as bytes (`string(_:)`, `decode(_:_:)` read them as text or JSON).
    public var attributes: [String: [UInt8]]
    /// When the session was created (ms since the epoch); nil for a copy that never learned it.
    public var createdAt: Timestamp?
    /// The last request to the session any node told this one of (ms since the epoch).
    public var lastAccess: Timestamp
    /// The version token to hand the client.
    public var version: VersionToken
    /// The client's token named writes whose every holder is gone: served loudly, never silently.
    public var lostWrites: Bool

    init(_ session: Session, version: VersionToken, lostWrites: Bool) {
        id = session.id
        attributes = session.content.liveAttributes
        createdAt = session.content.createdAt
        lastAccess = session.content.lastAccess
        maxInactiveSeconds = session.content.maxInactive.flatMap { $0 > 0 ? $0 : nil }
        self.version = version
        self.lostWrites = lostWrites
    }

    /// The snapshot of a session that holds nothing yet (`update(…, creatingIfAbsent: true)` of an absent one).
    init(empty id: SessionID) {
        self.id = id
        attributes = [:]
        createdAt = nil
        lastAccess = Timestamp(millis: 0)
        version = VersionToken(sealed: "")
        lostWrites = false
        maxInactiveSeconds = nil
    }

    /// How long the session lives without a request, in seconds; nil when it never expires by inactivity.
    public var maxInactiveSeconds: Int64?

    /// How long the session lives without a request (`maxInactiveSeconds` as a `Duration`); nil: never expires.
    public var maxInactive: Duration? { maxInactiveSeconds.map { .seconds($0) } }

    /// Every attribute as UTF-8 text (bytes that are not UTF-8 become U+FFFD): for frameworks whose session data
    /// is `[String: String]` (Vapor's `SessionData`).
    public func strings() -> [String: String] { attributes.mapValues { String(decoding: $0, as: UTF8.self) } }

    /// An attribute as UTF-8 text.
    public func string(_ name: String) -> String? { attributes[name].map { String(decoding: $0, as: UTF8.self) } }
}

/// The result of a committed request: the session id (new after a change of id) and the client's new token.
public struct SessionUpdate<Value: Sendable>: Sendable {
    /// The session's id: new after `create` or `changeID`, else the one given.
    public var id: SessionID
    /// The token to hand the client for its next request (`SessionCookies.setCookieHeaders(for:)`).
    public var version: VersionToken
    /// What the request's body returned.
    public var value: Value
}

/// A valid session held on this node, as `ClusterNode.heldSessions` lists it.
public struct HeldSession: Sendable {
    /// The session.
    public var id: SessionID
    /// Its attributes, as bytes.
    public var attributes: [String: [UInt8]]
    /// Whether this node expires the session first (delta mode: the ring's first member; backup mode: its
    /// primary); other holders should act only after a grace, in case it is gone.
    public var expiresFirst: Bool
}

/// Why a session operation failed. Every `ClusterNode` method throws only this (typed throws), so a `catch` can
/// switch over it exhaustively; the HTTP status each case maps to is given for adapters.
public enum SessionError: Error, Equatable, CustomStringConvertible {
    /// No such session (never existed, logged out, expired, renamed): a new login is needed (HTTP 401).
    case notFound
    /// No reachable copy covers the client's version token in time: retry later (HTTP 503 + Retry-After).
    case unavailable
    /// Every holder of the session failed.
    case lost
    /// `sync` mode: the change was applied here but not acknowledged by the backup / peers in time.
    case notAcknowledged
    /// The node is shutting down.
    case shuttingDown
    /// The change would exceed `maxAttributesPerSession` or `maxSessionBytes` (HTTP 413).
    case tooLarge
    /// This node holds `maxSessions` sessions that hold something or are new (emptied ones, every attribute
    /// removed, are not counted), or twice that counting emptied ones; nothing is evicted (HTTP 503 + Retry-After).
    case full
    /// `create(id:)` named a session that is live here already: update it instead (HTTP 409).
    case alreadyExists
    /// An attribute could not be encoded to JSON (`SessionChanges.set(_:_:)` with a `Codable` value) or decoded from
    /// what the session holds (`SessionSnapshot.decode`): its name and the coder's reason (HTTP 400 / 500).
    case invalidAttribute(name: String, reason: String)
    /// The `update` (or `create`) body threw this error, not a `SessionError`: nothing was committed, the session
    /// is as it was. Catch the application's own error with `catch SessionError.aborted(let error as MyError)`.
    case aborted(any Error)

    public var description: String {
        switch self {
        case .notFound: "no such session"
        case .unavailable: "session temporarily unavailable (no up-to-date copy reachable)"
        case .lost: "session lost: every node holding it failed"
        case .notAcknowledged: "change not acknowledged by the cluster in time"
        case .shuttingDown: "node is shutting down"
        case .tooLarge: "session would exceed its size limits"
        case .full: "node holds its maximum number of sessions"
        case .alreadyExists: "a session with this id exists already"
        case .invalidAttribute(let name, let reason): "attribute \(name): \(reason)"
        case .aborted(let error): "aborted by the request's own error: \(error)"
        }
    }

    /// Two errors are equal when they are the same case with equal values; `.aborted` errors compare by type and
    /// description.
    /// The HTTP status an adapter answers with: 401 (`notFound`, `lost`), 503 with `Retry-After` (`unavailable`,
    /// `notAcknowledged`, `shuttingDown`, `full`; see `retryable`), 413 (`tooLarge`), 409 (`alreadyExists`), 500
    /// (`invalidAttribute`, `aborted`: the application's own failure).
    public var httpStatus: Int {
        switch self {
        case .notFound, .lost: 401
        case .unavailable, .notAcknowledged, .shuttingDown, .full: 503
        case .tooLarge: 413
        case .alreadyExists: 409
        case .invalidAttribute, .aborted: 500
        }
    }

    /// Whether the same request may succeed if retried shortly (answer 503 with `Retry-After`): no up-to-date copy
    /// reachable yet, a `sync` write not acknowledged (it may have been applied: retry only idempotent writes), the
    /// node stopping (another node will answer), the node full.
    public var retryable: Bool { httpStatus == 503 }

    public static func == (lhs: SessionError, rhs: SessionError) -> Bool {
        switch (lhs, rhs) {
        case (.notFound, .notFound), (.unavailable, .unavailable), (.lost, .lost),
            (.notAcknowledged, .notAcknowledged), (.shuttingDown, .shuttingDown), (.tooLarge, .tooLarge),
            (.full, .full), (.alreadyExists, .alreadyExists):
            true
        case (.invalidAttribute(let a, let b), .invalidAttribute(let c, let d)): a == c && b == d
        case (.aborted(let a), .aborted(let b)): type(of: a) == type(of: b) && "\(a)" == "\(b)"
        default: false
        }
    }

    /// What a body's thrown `error` becomes: itself when it is a `SessionError`, else `.aborted(error)`.
    init(thrown error: any Error) {
        self = (error as? SessionError) ?? .aborted(error)
    }
}

extension SessionError {
    /// The error a failed access reports.
    init(_ failure: AccessFailure) {
        switch failure {
        case .notFound: self = .notFound
        case .unavailable: self = .unavailable
        case .lost: self = .lost
        }
    }
}

/// Something that happened in the cluster, for the embedder's event stream and logs (`ClusterNode.events`).
public enum ClusterEvent: Sendable, Equatable, CustomStringConvertible {
    /// A member joined, was suspected, died or left.
    case member(MembershipEvent)
    /// A session was lost, a state transfer finished, a concurrent write was merged, ….
    case replication(ReplicationEvent)
    /// This subscription's consumer fell more than its buffer behind: this many events, the oldest, were dropped
    /// before the ones that follow.
    case missed(Int)

    public var description: String {
        switch self {
        case .member(let event): event.description
        case .replication(let event): event.description
        case .missed(let count): "\(count) events missed (the consumer fell behind its buffer)"
        }
    }
}

/// A node's figures for stats and metrics.
public struct NodeStats: Sendable, Equatable {
    /// Valid sessions held here (backup mode: as primary or backup), `emptied` ones included.
    public var sessions: Int
    /// Of `sessions`, those emptied: every attribute removed (a deleted Redis key, kept until
    /// `tombstoneRetentionMillis` after its last write). `maxSessions` leaves them out, up to a ceiling.
    public var emptied = 0
    /// Backup mode: sessions this node is primary for.
    public var primaries: Int
    /// Copies held, tombstones included.
    public var copies: Int
    /// Replication's running totals (commits, deltas, merges, transfers…).
    public var replication: ReplicationCounters
    /// Replication frames received from peers.
    public var framesReceived: Int
    /// Replication frames sent to peers.
    public var framesSent: Int
    /// Bytes sent to peers (frames and beacons, sealed).
    public var bytesSent: Int
    /// Frames from peers that did not parse: dropped (the link survives).
    public var malformedDropped: Int
    /// Connections to peers refused (a crashed peer: it is suspected at once).
    public var linksRefused: Int
    /// Links reset because more than `maxQueuedBytesPerPeer` bytes waited to be sent to a slow peer (the queued
    /// frames are lost; replication repairs them).
    public var linksOverflowed: Int
    /// Envelopes dropped before parsing, by reason: `malformed`, `unknownKey`, `unauthenticated`, `replayed`.
    public var dropped: [String: Int]
    /// Version tokens ignored because they did not authenticate for their session (forged, another session's,
    /// or sealed under a key since removed).
    public var tokensRejected = 0
    /// This node's wall clock (ms since the epoch) when the figures were taken.
    public var clockMillis: Int64 = 0
    /// The wall part of this node's hybrid logical clock (ms since the epoch): it runs ahead of `clockMillis`
    /// only by what peers' stamps dragged it, at most `maxClockDriftMillis`.
    public var hlcMillis: Int64 = 0
    /// Replication lag sampled from peers' clock stamps (empty unless they stamp: `lagSampleMillis`).
    public var replicationLag = ReplicationLag()
    /// How long the node's event loop turns took (`EventLoop.turnStats`): the longest is the worst stall every
    /// request and peer served by the node saw.
    public var loopTurns = LoopTurnStats()
    /// Inbound replication connections open now (authenticated or still waiting for their hello).
    public var inboundLinks = 0
    /// Inbound replication connections closed because no authentic hello came within the hello timeout.
    public var linksTimedOut = 0
    /// Inbound replication connections closed because `maxInboundLinks` were open: the oldest still without a
    /// hello, or the newcomer when every open link is authenticated.
    public var linksRejected = 0
    /// Failed `accept` calls on the replication port (out of descriptors or memory pauses it for 100 ms).
    public var acceptErrors = 0
    /// Log records dropped because `ClusterNodeSettings.logHandler` fell more than `logQueueCapacity` records
    /// behind (a stalled stdout, say); the node never waits for its log.
    public var logRecordsDropped = 0
    /// The snapshot file: last written, loaded at start, records skipped (`persistence` settings).
    public var persistence = PersistenceStats()
    /// What membership sees now, and SWIM's running totals.
    public var membership = MembershipFigures()

    /// All zero: the figures of a node that never ran.
    static let empty = NodeStats(
        sessions: 0, primaries: 0, copies: 0, replication: ReplicationCounters(), framesReceived: 0, framesSent: 0,
        bytesSent: 0, malformedDropped: 0, linksRefused: 0, linksOverflowed: 0, dropped: [:])
}

/// What a node's membership sees now (members other than itself, by status, dead and left ones while still
/// remembered) and, under SWIM, its running totals.
public struct MembershipFigures: Sendable, Equatable {
    public var alive = 0
    public var suspect = 0
    /// Dead members still remembered (forgotten a minute or so later).
    public var dead = 0
    /// Members that left gracefully, still remembered.
    public var left = 0
    /// SWIM: members probed.
    public var probes = 0
    /// SWIM: probes that needed other members to probe for this node (the direct ping went unanswered).
    public var indirectProbes = 0
    /// SWIM: probes that failed altogether (the target became suspect).
    public var probesFailed = 0
    /// SWIM: suspicions of this node that it refuted.
    public var refutations = 0
    /// SWIM: Lifeguard's local health score (0 healthy; each step stretches this node's probe time-outs).
    public var localHealth = 0

    public init() {}
}

/// A held session read in place, on its shard's loop (`ClusterNode.peek`): a lookup copies out only the value asked
/// for, where a `SessionSnapshot` copies every attribute into a dictionary (for a Redis hash of 30,000 fields, about
/// 9 ms per `HGET`). Valid only during the projection it is handed to.
package struct SessionView {
    let session: Session

    init(session: Session) { self.session = session }

    /// A view of a copy holding `attributes` (nil: removed, a tombstone), for tests of what reads it.
    package init(attributes: [String: [UInt8]?]) {
        let stamp = Stamp(time: HLCTimestamp(wall: 1, logical: 0), node: NodeID(rawValue: 1))
        let slots = attributes.map { ($0.key, AttributeSlot(value: $0.value, stamp: stamp)) }
        session = Session(
            id: SessionID(high: 1, low: 1), content: SessionContent(attributes: AttributeMap(slots)),
            version: VersionVector())
    }

    /// Attribute `name`'s value; nil when unset or removed. Scans the names (no allocation but the value's).
    package func value(_ name: String) -> [UInt8]? { session.attribute(name) }

    /// Visits the attributes that hold a value, in ascending name order, with their name's UTF-8 and their value's
    /// bytes (valid during the call only), until `body` returns false.
    package func forEachValue(while body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool) {
        session.content.attributes.scanEntries { name, value in
            guard let value else { return true }
            return body(name, value)
        }
    }
}
