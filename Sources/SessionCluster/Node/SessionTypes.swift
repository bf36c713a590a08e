import SessionClusterCore

/// A read of a session, as one request sees it.
public struct SessionSnapshot: Sendable, Equatable {
    public var id: SessionID
    public var attributes: [String: [UInt8]]
    public var createdAt: Timestamp?
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
        self.version = version
        self.lostWrites = lostWrites
    }

    /// An attribute as UTF-8 text.
    public func string(_ name: String) -> String? { attributes[name].map { String(decoding: $0, as: UTF8.self) } }
}

/// The result of a committed request: the session id (new after a change of id) and the client's new token.
public struct SessionUpdate<Value: Sendable>: Sendable {
    public var id: SessionID
    public var version: VersionToken
    public var value: Value
}

/// A valid session held on this node, as `ClusterNode.heldSessions` lists it.
public struct HeldSession: Sendable {
    public var id: SessionID
    public var attributes: [String: [UInt8]]
    /// Whether this node expires the session first (delta mode: the ring's first member; backup mode: its
    /// primary); other holders should act only after a grace, in case it is gone.
    public var expiresFirst: Bool
}

/// Why a session operation failed.
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
    /// This node holds `maxSessions` live sessions; nothing is evicted (HTTP 503 + Retry-After).
    case full

    public var description: String {
        switch self {
        case .notFound: "no such session"
        case .unavailable: "session temporarily unavailable (no up-to-date copy reachable)"
        case .lost: "session lost: every node holding it failed"
        case .notAcknowledged: "change not acknowledged by the cluster in time"
        case .shuttingDown: "node is shutting down"
        case .tooLarge: "session would exceed its size limits"
        case .full: "node holds its maximum number of sessions"
        }
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

/// Something that happened in the cluster, for the embedder's event stream and logs.
public enum ClusterEvent: Sendable, Equatable, CustomStringConvertible {
    case member(MembershipEvent)
    case replication(ReplicationEvent)

    public var description: String {
        switch self {
        case .member(let event): event.description
        case .replication(let event): event.description
        }
    }
}

/// A node's figures for stats and metrics.
public struct NodeStats: Sendable, Equatable {
    /// Valid sessions held here (backup mode: as primary or backup).
    public var sessions: Int
    /// Backup mode: sessions this node is primary for.
    public var primaries: Int
    /// Copies held, tombstones included.
    public var copies: Int
    public var replication: ReplicationCounters
    public var framesReceived: Int
    public var framesSent: Int
    public var bytesSent: Int
    public var malformedDropped: Int
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

    /// All zero: the figures of a node that never ran.
    static let empty = NodeStats(
        sessions: 0, primaries: 0, copies: 0, replication: ReplicationCounters(), framesReceived: 0, framesSent: 0,
        bytesSent: 0, malformedDropped: 0, linksRefused: 0, linksOverflowed: 0, dropped: [:])
}
