extension ClusterConfiguration {
    /// The top-level `persistence` section: where each node keeps its sessions across a restart. Absent: in memory
    /// only (a restart of every node loses every session).
    ///
    /// ```json
    /// "persistence": { "directory": "data", "mode": "snapshot", "fsync": "everysec" }
    /// ```
    ///
    /// - `directory` (required): a node keeps its files in `<directory>/<node name>/`, created if missing. A
    ///   relative directory is relative to the configuration file (`load(path:)`), or to the working directory for
    ///   a configuration parsed from bytes.
    /// - `mode`: `snapshot` (default: written on graceful stop, read on start) or `log` (also an append log of every
    ///   change, replayed on start: survives `kill -9` and, with `fsync`, a power cut).
    /// - `fsync`: `everysec` (default), `always` or `no`; the `log` mode's policy. A snapshot is always fsynced.
    /// - `compactionMinimumBytes` (`log` mode, default 64 MiB, at least 4096): the log is compacted into a new
    ///   snapshot once it holds this many bytes and at least as many as the last snapshot.
    public struct Persistence: Sendable, Equatable {
        /// Where nodes keep their files (one subdirectory per node name).
        public var directory: String
        /// When the files are written.
        public var mode: PersistenceMode = .snapshot
        /// How often the append log is flushed to disk (`log` mode).
        public var fsync: FsyncPolicy = .everysec
        /// The log size (bytes) below which it is never compacted (`log` mode).
        public var compactionMinimumBytes = 64 << 20

        /// A `snapshot` section with `everysec` fsync under `directory`.
        public init(directory: String, mode: PersistenceMode = .snapshot, fsync: FsyncPolicy = .everysec) {
            self.directory = directory
            self.mode = mode
            self.fsync = fsync
        }
    }

    static func decodePersistence(_ section: ConfigurationObject) throws(ConfigurationError) -> Persistence {
        guard let directory = try section.string("directory") else {
            throw ConfigurationError(
                keyPath: section.keyPath("directory"), value: nil, problem: "is required but missing")
        }
        var persistence = Persistence(directory: directory)
        if let mode = try section.choice("mode", as: PersistenceMode.self) { persistence.mode = mode }
        if let fsync = try section.choice("fsync", as: FsyncPolicy.self) { persistence.fsync = fsync }
        if let bytes = try section.integer("compactionMinimumBytes") {
            guard bytes >= 4_096, bytes <= 1 << 40 else {
                throw ConfigurationError(
                    keyPath: section.keyPath("compactionMinimumBytes"), value: "\(bytes)",
                    problem: "must be between 4096 and 1099511627776 (bytes)")
            }
            persistence.compactionMinimumBytes = Int(bytes)
        }
        return persistence
    }

    func validatePersistence() throws(ConfigurationError) {
        guard let persistence else { return }
        let directory = persistence.directory
        guard !directory.isEmpty, directory.utf8.count <= 4_096, !directory.utf8.contains(0) else {
            throw ConfigurationError(
                keyPath: "persistence.directory", value: JSONValue.quoted(directory),
                problem: "must be a path of 1 to 4096 bytes without NUL")
        }
    }

    /// `persistence.directory` made absolute against `base` (the configuration file's directory).
    mutating func resolvePersistenceDirectory(against base: String) {
        guard let directory = persistence?.directory, !directory.hasPrefix("/") else { return }
        persistence?.directory = base.isEmpty || base.hasSuffix("/") ? base + directory : base + "/" + directory
    }
}

/// When a node writes its sessions to disk (`persistence.mode`).
public enum PersistenceMode: String, Sendable, CaseIterable {
    /// One file written on graceful stop and read on start.
    case snapshot
    /// A snapshot plus an append-only log of every change, compacted into the snapshot as it grows.
    case log
}

/// How often the append log is flushed to disk (`persistence.fsync`), as Redis's `appendfsync`.
public enum FsyncPolicy: String, Sendable, CaseIterable {
    /// Once a second: at most the last second of writes lost on a crash.
    case everysec
    /// On every write.
    case always
    /// Left to the operating system.
    case no
}
