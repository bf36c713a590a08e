/// Where a node keeps its sessions across a restart (`ClusterNodeSettings.persistence`; the configuration file's
/// `persistence` section).
public struct PersistenceSettings: Sendable, Equatable {
    /// The cluster's persistence directory (absolute once resolved); the node's files are in `<directory>/<name>/`.
    public var directory: String
    /// When the node writes its sessions.
    public var mode: PersistenceMode
    /// The append log's flush policy (`log` mode). A snapshot is always fsynced.
    public var fsync: FsyncPolicy
    /// `log` mode: the log is compacted into a new snapshot once its segments hold this many bytes and at least as
    /// many as the last snapshot (Redis's `auto-aof-rewrite-min-size` 64 MB and `-percentage` 100).
    public var compactionMinimumBytes = 64 << 20

    /// Snapshot persistence under `directory`.
    public init(directory: String, mode: PersistenceMode = .snapshot, fsync: FsyncPolicy = .everysec) {
        self.directory = directory
        self.mode = mode
        self.fsync = fsync
    }

    /// The directory of node `name`'s files.
    public func nodeDirectory(_ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}

/// A node's figures about its snapshot file (`NodeStats.persistence`).
public struct PersistenceStats: Sendable, Equatable {
    /// When the last snapshot was written (ms since the epoch; 0: never, by this process).
    public var lastSnapshotMillis: Int64 = 0
    /// Size of the last snapshot written, or of the one loaded at start (bytes).
    public var snapshotBytes = 0
    /// Copies (sessions and tombstones) written to the last snapshot.
    public var sessionsWritten = 0
    /// Copies restored from the snapshot at start (after dropping what expired).
    public var sessionsRestored = 0
    /// Sessions of the snapshot that had expired by the time the node started.
    public var sessionsExpired = 0
    /// Records of the snapshot skipped at start (corrupted, truncated, or sealed under another secret).
    public var recordsSkipped = 0
    /// How long loading the snapshot took at start: reading, decrypting, decoding and installing the copies (ms).
    public var loadMillis: Int64 = 0
    /// Snapshots that could not be written (the error is logged).
    public var writeFailures = 0

    /// `log` mode: bytes in the append log's segments now (the newest and those not yet compacted away).
    public var logBytes = 0
    /// `log` mode: records appended (one per loop turn that changed copies) and the copies they held.
    public var logRecordsAppended = 0
    public var logSessionsAppended = 0
    /// `log` mode: appends and fsyncs that failed (the error is logged; the node keeps serving from memory).
    public var logWriteFailures = 0
    /// `log` mode, `everysec` and `no`: times the loop waited for the log's writer thread, which had fallen half a
    /// second behind (starved of CPU by other work on the machine).
    public var logWriterWaits = 0
    /// `log` mode, `everysec` and `no`: how far behind the writer thread is now (ms: how long ago the oldest change
    /// not yet written was handed to it), and the most seen so far.
    public var logWriterLagMillis: Int64 = 0
    public var logWriterLagMaxMillis: Int64 = 0
    /// `log` mode: how long each fsync of the log took (the loop-turn buckets: 100 µs … 100 ms, then more).
    public var fsyncLatency = LoopTurnStats()
    /// `log` mode: compactions finished (a new snapshot written, older segments removed), and failed.
    public var compactions = 0
    public var compactionFailures = 0
    /// `log` mode: how long the last compaction took, from the rotation to the old segments' removal (ms).
    public var lastCompactionMillis: Int64 = 0
    /// `log` mode, at start: copies replayed from the log's segments, records of them skipped as damaged, and
    /// segments that ended in a record cut short (a crash during an append: that record's copies are lost).
    public var logSessionsReplayed = 0
    public var logRecordsSkipped = 0
    public var logTornTails = 0

    /// All zero.
    public init() {}

    /// Adds the figures of another shard's files (a node served by several loops): counts and sizes add up, times
    /// and lags are the largest.
    mutating func add(_ other: PersistenceStats) {
        lastSnapshotMillis = max(lastSnapshotMillis, other.lastSnapshotMillis)
        snapshotBytes += other.snapshotBytes
        sessionsWritten += other.sessionsWritten
        sessionsRestored += other.sessionsRestored
        sessionsExpired += other.sessionsExpired
        recordsSkipped += other.recordsSkipped
        loadMillis = max(loadMillis, other.loadMillis)
        writeFailures += other.writeFailures
        logBytes += other.logBytes
        logRecordsAppended += other.logRecordsAppended
        logSessionsAppended += other.logSessionsAppended
        logWriteFailures += other.logWriteFailures
        logWriterWaits += other.logWriterWaits
        logWriterLagMillis = max(logWriterLagMillis, other.logWriterLagMillis)
        logWriterLagMaxMillis = max(logWriterLagMaxMillis, other.logWriterLagMaxMillis)
        fsyncLatency.add(other.fsyncLatency)
        compactions += other.compactions
        compactionFailures += other.compactionFailures
        lastCompactionMillis = max(lastCompactionMillis, other.lastCompactionMillis)
        logSessionsReplayed += other.logSessionsReplayed
        logRecordsSkipped += other.logRecordsSkipped
        logTornTails += other.logTornTails
    }
}
