import Dispatch
import SessionClusterCore

/// The node's snapshot file (persistence `snapshot` mode): restored before the first beacon, written on graceful
/// stop. The file is read and decrypted by `ClusterNode.start` (so an unusable directory fails the start); the
/// copies are installed here, on the loop, before the node announces itself.
struct PersistenceState {
    let store: SnapshotStore
    /// What the file held at start, until `restoreSnapshot` installs it.
    var loaded: SnapshotFile.Contents?
    /// Shard 0: the directory was rewritten at start for another number of loops (`ShardLayout`).
    var rewrite: ShardLayout.Rewrite?
    /// The node directory records this shard, whose directory was missing at start (deleted by hand?).
    var missingDirectory = false
    var stats = PersistenceStats()
    /// `log` mode: the append log (nil in `snapshot` mode), and what its segments held at start.
    var log: AppendLog?
    var replayed = ReplayedLog()
    /// `log` mode: an end-of-turn flush is scheduled (`scheduleLogFlush`).
    var logFlushScheduled = false
    /// `always`: answers waiting for the end-of-turn fsync (group commit).
    var durableWaiters: [() -> Void] = []
    /// `always`: an append (and its fsync) is on the writer thread; the next waits for it.
    var appendInFlight = false
    /// A compaction is running (on the log's `compactor` thread).
    var compacting = false
    /// Append or fsync failures are logged at most once a second; so are the loop's waits for the writer.
    var failureLog = LogThrottle(intervalMillis: 1_000)
    var writerWaitLog = LogThrottle(intervalMillis: 1_000)
    /// Routine compactions are logged at info level at most once a minute.
    var compactionLog = LogThrottle(intervalMillis: 60_000)
    /// `logWriteFailures` as of the start of the last compaction that succeeded: while the count is higher, some
    /// change may be on no disk (its append failed), and the next log tick rewrites everything (a compaction).
    var failuresCovered = 0
    /// When the last compaction started (monotonic ms): a failing one is retried at most every 5 s.
    var lastCompactionStart: Int64 = 0

    init(store: SnapshotStore) { self.store = store }
}

/// What the append log's segments held at start (`log` mode): their copies are restored after the snapshot's.
struct ReplayedLog {
    var sessions: [Session] = []
    /// One line per problem, prefixed with the segment's file name.
    var problems: [String] = []
    /// Segments with records that did not check, kept aside before a compaction removes them.
    var damaged: [UInt64] = []
    var recordsSkipped = 0
    var tornTails = 0
    /// The newest generation found (the node appends to the next one) and the bytes of all segments found.
    var newestGeneration: UInt64 = 0
    var bytes = 0
}

extension NodeRuntime {
    /// Most skipped-record lines logged at start (the count is in the stats; the rest are summarised).
    static let maxProblemsLogged = 20

    /// Installs the copies of the snapshot loaded at start (before the first tick: no peer is known yet) and
    /// logs what was restored and what was skipped.
    func restoreSnapshot() {
        defer { startLog() }
        if persistence?.missingDirectory == true {
            persistence?.missingDirectory = false
            log(
                .error, "persistence: this shard's directory was missing at start: its sessions were not restored",
                [
                    ("directory", persistence?.store.directory ?? ""), ("shard", "\(shard) of \(shardCount)"),
                    ("hint", "the peers that hold copies serve them; with every node restarted they are lost"),
                ])
        }
        if let rewrite = persistence?.rewrite {
            persistence?.rewrite = nil
            log(
                .notice, "persistence directory rewritten for another number of loops",
                [
                    ("directory", persistence?.store.directory ?? ""), ("from_loops", "\(rewrite.from)"),
                    ("to_loops", "\(rewrite.to)"), ("copies", "\(rewrite.sessions)"), ("ms", "\(rewrite.millis)"),
                ])
            if !rewrite.missing.isEmpty {
                log(
                    .error,
                    "persistence: shard directories were missing before the rewrite: their sessions were not restored",
                    [
                        ("directory", persistence?.store.directory ?? ""),
                        ("shards", rewrite.missing.map { "shard-\($0)" }.joined(separator: ",")),
                        ("of_loops", "\(rewrite.from)"),
                        ("hint", "the peers that hold copies serve them; with every node restarted they are lost"),
                    ])
            }
        }
        guard let state = persistence,
            state.loaded != nil || !state.replayed.sessions.isEmpty || !state.replayed.problems.isEmpty
        else { return }
        let contents = state.loaded ?? SnapshotFile.Contents()
        let replayed = state.replayed
        persistence?.loaded = nil
        persistence?.replayed.sessions = []
        let started = EventLoop.monotonicMillis()
        // The log's copies after the snapshot's: each is merged like a peer's copy, so the newest state wins.
        // (Not concatenated when one side is empty: a million copies are not copied for nothing.)
        let sessions =
            replayed.sessions.isEmpty
            ? contents.sessions : contents.sessions.isEmpty ? replayed.sessions : contents.sessions + replayed.sessions
        let (outcome, directives) = node.restore(sessions, now: Self.now())
        // The load time covers reading and decrypting (at start) and installing the copies (here).
        persistence?.stats.loadMillis += EventLoop.monotonicMillis() - started
        // Counted once per session (a session may be in the snapshot and in several log records).
        let restored = node.replication.copyCount
        persistence?.stats.sessionsRestored = restored
        persistence?.stats.sessionsExpired = outcome.expired + outcome.purged
        persistence?.stats.recordsSkipped = contents.recordsSkipped
        for problem in contents.problems.prefix(Self.maxProblemsLogged) {
            log(.warning, "snapshot: skipped what does not check", [("file", state.store.path), ("problem", problem)])
        }
        if contents.problems.count > Self.maxProblemsLogged {
            let more = contents.problems.count - Self.maxProblemsLogged
            log(.warning, "snapshot: more problems not logged", [("count", "\(more)")])
        }
        if !contents.problems.isEmpty {
            // The next graceful stop replaces the file: keep what did not check, for whoever fixes the cause.
            if let kept = state.store.keepAside(now: Self.now().millis) {
                log(.warning, "snapshot: the file that did not check is kept", [("kept", kept)])
            } else {
                log(.warning, "snapshot: could not keep the file that did not check", [("file", state.store.path)])
            }
        }
        logReplayProblems(replayed)
        var fields: LogFields = [
            ("file", state.store.path), ("restored", "\(restored)"), ("expired", "\(outcome.expired + outcome.purged)"),
            ("in_file", "\(contents.sessionsExpected)"), ("records_skipped", "\(contents.recordsSkipped)"),
            ("bytes", "\(state.stats.snapshotBytes)"), ("load_ms", "\(persistence?.stats.loadMillis ?? 0)"),
        ]
        if state.log != nil {
            fields[0] = ("directory", state.store.directory)
            fields += [
                ("log_copies_replayed", "\(state.stats.logSessionsReplayed)"),
                ("log_records_skipped", "\(replayed.recordsSkipped)"), ("log_bytes", "\(replayed.bytes)"),
            ]
        }
        // `restored` counts sessions and the tombstones of ended ones; `in_file` the snapshot's (0: none, all from
        // the log).
        if shardCount > 1 { fields.append(("shard", "\(shard) of \(shardCount)")) }
        log(
            .info, state.log == nil ? "sessions restored from snapshot" : "sessions restored from snapshot and log",
            fields)
        execute(directives)
    }

    /// Writes every copy held (valid sessions and tombstones) to the snapshot file, atomically. Called on the
    /// loop during a graceful stop, after queued replication drained; a failure is logged and counted, never
    /// fatal (the node stops either way).
    func writeSnapshot() {
        guard let store = persistence?.store else { return }
        // `log` mode: the snapshot replaces the whole log. Anything not yet appended goes in first (should the
        // snapshot fail, the log still has it), and a compaction still running finishes before (it writes the
        // same file).
        let log = persistence?.log
        if let log {
            flushLogAndWait()
            // A compaction the writer started is queued on the compactor by now: wait for it.
            log.compactor.sync {}
        }
        defer { log?.close() }
        let started = EventLoop.monotonicMillis()
        let copies = node.replication.heldCopies()
        let now = Self.now().millis
        do throws(PersistenceError) {
            let bytes = try SnapshotFile.write(
                copies, to: store, keyring: cipher.keyring, cluster: settings.cluster, node: settings.name,
                writtenAtMillis: now)
            persistence?.stats.lastSnapshotMillis = now
            persistence?.stats.snapshotBytes = bytes
            persistence?.stats.sessionsWritten = copies.count
            if let log {
                // Every copy is in the snapshot: the segments are not needed any more.
                let newest = log.close()
                AppendLog.removeSegments(in: log.directory, through: newest)
                log.allSegmentsRemoved()
            }
            self.log(
                .info, "snapshot written",
                [
                    ("file", store.path), ("sessions", "\(copies.count)"), ("bytes", "\(bytes)"),
                    ("ms", "\(EventLoop.monotonicMillis() - started)"),
                ])
        } catch {
            persistence?.stats.writeFailures += 1
            self.log(
                .error, "snapshot not written",
                [("file", store.path), ("error", "\(error)")]
                    + (log == nil ? [] : [("kept", "the append log, replayed at the next start")]))
        }
    }
}
