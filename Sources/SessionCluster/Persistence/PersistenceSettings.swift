/// Where a node keeps its sessions across a restart (`ClusterNodeSettings.persistence`; the configuration file's
/// `persistence` section).
public struct PersistenceSettings: Sendable, Equatable {
    /// The cluster's persistence directory (absolute once resolved); the node's files are in `<directory>/<name>/`.
    public var directory: String
    /// When the node writes its sessions (`log` is not yet supported: `ClusterNode.start` refuses it).
    public var mode: PersistenceMode
    /// The append log's flush policy (`log` mode). A snapshot is always fsynced.
    public var fsync: FsyncPolicy

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

    /// All zero.
    public init() {}
}
