/// How committed deltas travel (DESIGN.md, "Replication modes").
public enum ReplicationMode: String, Sendable, CaseIterable {
    /// Every delta to every live peer (Tomcat's DeltaManager): N copies, N−1 messages per write.
    case delta
    /// A primary plus `copies − 1` backups chosen on the hash ring (Tomcat's BackupManager, but by consistent
    /// hashing, and with as many copies as asked).
    case backup
}

/// When a commit counts as done.
public enum AckMode: String, Sendable, CaseIterable {
    /// The request returns at once; replication follows.
    case async
    /// The commit completes once the backup / every peer acknowledged, or fails after `syncAckTimeoutMillis`.
    case sync
}

/// Deliberate bugs the simulator's tests plant to show its invariant checks fail when they should.
public enum PlantedFault: String, Sendable, CaseIterable {
    /// Concurrent deltas and copies are not merged: the later arrival is dropped or overwrites (Tomcat's
    /// "the last request will override").
    case noMerge
    /// A copy is served whether or not it covers the client's version token.
    case serveStale
}

/// Tunables of `ReplicationInstance`, with documented defaults.
public struct ReplicationSettings: Sendable, Equatable {
    /// `delta`: every peer holds every session; `backup`: a primary and one ring-chosen backup.
    public var mode: ReplicationMode = .delta
    /// `async`: answer at once; `sync`: answer once the other holders acknowledged the delta.
    public var ack: AckMode = .async
    /// Backup mode: copies of each session, the primary's included (2...`maxCopies`). 2 is Tomcat's BackupManager;
    /// `k` copies in `sync` mode lose no acknowledged write to `k − 1` simultaneous failures, at `k − 1` sends per
    /// write and `k` copies of memory. Delta mode keeps a copy on every node: there it MUST stay 2 (the default).
    public var copies: Int = 2
    /// Upper bound of `copies`: past 8 copies delta mode costs less and guarantees more.
    public static let maxCopies = 8
    /// Max inactive interval of new sessions, in seconds. 1800 s is the servlet default.
    public var defaultMaxInactiveSeconds: Int64 = 1800
    /// A read-only request replicates the access time at most this often (ms), and at least four times per
    /// max-inactive interval, so idle copies elsewhere do not expire a session that is in use.
    public var accessRefreshMillis: Int64 = 60_000
    /// Extra time (ms) a copy whose node is not the session's expiry owner waits before expiring by itself,
    /// so that normally the owner's invalidation arrives first and the cluster expires a session once.
    public var expiryGraceMillis: Int64 = 30_000
    /// How long (ms) a tombstone outlives its session's deadline; a creation delta older than this is refused,
    /// so an invalidated session can never come back. Must exceed any replication delay.
    public var tombstoneRetentionMillis: Int64 = 600_000
    /// How often (ms) the expiry and tombstone sweep runs.
    public var sweepIntervalMillis: Int64 = 1_000
    /// How long (ms) an out-of-order delta is held, waiting for its predecessor, before a full copy is pulled.
    public var gapHoldMillis: Int64 = 100
    /// How long (ms) a held delta is kept at most; then it is dropped (the pulled copy or anti-entropy repairs).
    public var maxHoldMillis: Int64 = 10_000
    /// How long (ms) to wait for one holder's answer to a fetch before asking the next.
    public var fetchTimeoutMillis: Int64 = 300
    /// Bound (ms) on how long a request waits for a copy that covers its version token; then it fails
    /// (HTTP 503 with Retry-After) rather than serving stale state.
    public var accessWaitMillis: Int64 = 1_000
    /// How long (ms) a `sync` commit waits for acknowledgements.
    public var syncAckTimeoutMillis: Int64 = 2_000
    /// Sessions per state-transfer chunk. A donor sends one chunk per loop turn: 64 sessions of 1 KB cost it about
    /// half a millisecond there (256 cost 1–2.5 ms, which held requests up to 7 ms while a node joined).
    public var transferChunkSessions: Int = 64
    /// Bytes of session content per state-transfer chunk, roughly: a chunk ends early at this size, so large
    /// sessions stay well inside the frame limit (16 MiB by default). A chunk holds one session at least.
    public var transferChunkBytes: Int = 1 << 20
    /// Chunks a joining node pulls per request (its window, 1...255). The donor's work per request is bounded by
    /// it: gathering 2 × 64 sessions of 1 KB (128 KB) takes it about 0.25 ms at 5,000,000 sessions (8 × 64 took
    /// 1 ms there, the longest piece of a donor's turns while a node joined), and its send queue stays short.
    public var transferWindowChunks: Int = 2
    /// How long (ms) a joining node waits for the next transfer chunk before resuming from another peer.
    public var transferTimeoutMillis: Int64 = 5_000
    /// Interval (ms) of background anti-entropy: one peer at a time gets a digest of the sessions it should
    /// hold. Membership changes (a join, a healed partition) trigger a digest at once as well.
    public var antiEntropyIntervalMillis: Int64 = 30_000
    /// Entries per digest message.
    public var digestChunkEntries: Int = 512
    /// Entries incremental maintenance visits per tick and task, at most: sessions due for the sweep, ids walked by
    /// a digest, a push-back or a re-placement pass. Bounds a loop turn whatever the number of sessions held: 128
    /// visits (expiries, each a commit, or ids of a digest) take about 0.25 ms at 5,000,000 sessions. While a
    /// backlog remains (`hasMaintenanceBacklog`) the node ticks every 3 ms, so the sweep expires up to about 40,000
    /// sessions a second in turns that short (1,024 per 50 ms tick made turns of 2–5 ms and a request p99 of 2.5 ms).
    public var maintenanceBatch: Int = 128
    /// How long (ms) a node remembers where a session it dropped went, to forward stray deltas (backup mode).
    public var movedRetentionMillis: Int64 = 60_000
    /// How far (ms) a peer's stamps may run ahead of this node's clock. A message stamped further ahead is
    /// refused and counted (`ReplicationInstance+ClockBound`): one node with a wrong clock must not drag every
    /// node's hybrid logical clock along. A minute is far above NTP-synchronised skew.
    public var maxClockDriftMillis: Int64 = 60_000

    /// A deliberate bug, for proving that the simulator's invariant checks catch one. MUST stay nil outside tests.
    public var plantedFault: PlantedFault?

    /// Delta mode, async, the documented defaults.
    public init() {}

    /// The defaults, with this `mode` and `ack`.
    public init(mode: ReplicationMode, ack: AckMode) {
        self.mode = mode
        self.ack = ack
    }

    /// Checks every field; the error names the field and its value.
    public func validate() throws(SettingsError) {
        let positive: [(String, Int64)] = [
            ("accessRefreshMillis", accessRefreshMillis), ("tombstoneRetentionMillis", tombstoneRetentionMillis),
            ("sweepIntervalMillis", sweepIntervalMillis), ("gapHoldMillis", gapHoldMillis),
            ("maxHoldMillis", maxHoldMillis), ("fetchTimeoutMillis", fetchTimeoutMillis),
            ("accessWaitMillis", accessWaitMillis), ("syncAckTimeoutMillis", syncAckTimeoutMillis),
            ("transferTimeoutMillis", transferTimeoutMillis), ("antiEntropyIntervalMillis", antiEntropyIntervalMillis),
            ("movedRetentionMillis", movedRetentionMillis), ("maxClockDriftMillis", maxClockDriftMillis),
            ("transferChunkSessions", Int64(transferChunkSessions)), ("digestChunkEntries", Int64(digestChunkEntries)),
            ("transferWindowChunks", Int64(transferWindowChunks)), ("transferChunkBytes", Int64(transferChunkBytes)),
            ("maintenanceBatch", Int64(maintenanceBatch)),
        ]
        for (field, value) in positive where value <= 0 {
            throw .notPositive(field: "replication.\(field)", value: value)
        }
        if expiryGraceMillis < 0 {
            throw .below(field: "replication.expiryGraceMillis", value: expiryGraceMillis, bound: "zero", boundValue: 0)
        }
        if transferWindowChunks > Int(UInt8.max) {
            throw .notBelow(
                field: "replication.transferWindowChunks", value: Int64(transferWindowChunks), bound: "256",
                boundValue: 256)
        }
        if copies < 2 {
            throw .below(field: "replication.copies", value: Int64(copies), bound: "two", boundValue: 2)
        }
        if copies > Self.maxCopies {
            throw .notBelow(
                field: "replication.copies", value: Int64(copies), bound: "\(Self.maxCopies + 1)",
                boundValue: Int64(Self.maxCopies + 1))
        }
        if mode == .delta && copies != 2 {
            throw .invalid(
                field: "replication.copies", value: "\(copies)",
                reason: "delta mode keeps a copy on every node; copies applies to backup mode only")
        }
        if gapHoldMillis >= maxHoldMillis {
            throw .notBelow(
                field: "replication.gapHoldMillis", value: gapHoldMillis, bound: "replication.maxHoldMillis",
                boundValue: maxHoldMillis)
        }
    }
}
