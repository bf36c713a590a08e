import SessionClusterCore

/// The node's snapshot file (persistence `snapshot` mode): restored before the first beacon, written on graceful
/// stop. The file is read and decrypted by `ClusterNode.start` (so an unusable directory fails the start); the
/// copies are installed here, on the loop, before the node announces itself.
struct PersistenceState {
    let store: SnapshotStore
    /// What the file held at start, until `restoreSnapshot` installs it.
    var loaded: SnapshotFile.Contents?
    var stats = PersistenceStats()
}

extension NodeRuntime {
    /// Most skipped-record lines logged at start (the count is in the stats; the rest are summarised).
    static let maxProblemsLogged = 20

    /// Installs the copies of the snapshot loaded at start (before the first tick: no peer is known yet) and
    /// logs what was restored and what was skipped.
    func restoreSnapshot() {
        guard let contents = persistence?.loaded else { return }
        persistence?.loaded = nil
        let started = EventLoop.monotonicMillis()
        let (outcome, directives) = node.restore(contents.sessions, now: Self.now())
        // The load time covers reading and decrypting (at start) and installing the copies (here).
        persistence?.stats.loadMillis += EventLoop.monotonicMillis() - started
        persistence?.stats.sessionsRestored = outcome.restored
        persistence?.stats.sessionsExpired = outcome.expired + outcome.purged
        persistence?.stats.recordsSkipped = contents.recordsSkipped
        for problem in contents.problems.prefix(Self.maxProblemsLogged) {
            log(
                .warning, "snapshot: skipped what does not check",
                [("file", persistence?.store.path ?? ""), ("problem", problem)])
        }
        if contents.problems.count > Self.maxProblemsLogged {
            let more = contents.problems.count - Self.maxProblemsLogged
            log(.warning, "snapshot: more problems not logged", [("count", "\(more)")])
        }
        if !contents.problems.isEmpty, let store = persistence?.store {
            // The next graceful stop replaces the file: keep what did not check, for whoever fixes the cause.
            if let kept = store.keepAside(now: Self.now().millis) {
                log(.warning, "snapshot: the file that did not check is kept", [("kept", kept)])
            } else {
                log(.warning, "snapshot: could not keep the file that did not check", [("file", store.path)])
            }
        }
        log(
            .info, "sessions restored from snapshot",
            [
                ("file", persistence?.store.path ?? ""), ("restored", "\(outcome.restored)"),
                ("expired", "\(outcome.expired + outcome.purged)"), ("in_file", "\(contents.sessionsExpected)"),
                ("records_skipped", "\(contents.recordsSkipped)"),
                ("bytes", "\(persistence?.stats.snapshotBytes ?? 0)"),
                ("load_ms", "\(persistence?.stats.loadMillis ?? 0)"),
            ])
        execute(directives)
    }

    /// Writes every copy held (valid sessions and tombstones) to the snapshot file, atomically. Called on the
    /// loop during a graceful stop, after queued replication drained; a failure is logged and counted, never
    /// fatal (the node stops either way).
    func writeSnapshot() {
        guard let store = persistence?.store else { return }
        let started = EventLoop.monotonicMillis()
        let copies = node.replication.heldCopies()
        let now = Self.now().millis
        do {
            let bytes = try SnapshotFile.encode(
                copies, keyring: cipher.keyring, cluster: settings.cluster, node: settings.name,
                writtenAtMillis: now)
            try store.write(bytes)
            persistence?.stats.lastSnapshotMillis = now
            persistence?.stats.snapshotBytes = bytes.count
            persistence?.stats.sessionsWritten = copies.count
            log(
                .info, "snapshot written",
                [
                    ("file", store.path), ("sessions", "\(copies.count)"), ("bytes", "\(bytes.count)"),
                    ("ms", "\(EventLoop.monotonicMillis() - started)"),
                ])
        } catch {
            persistence?.stats.writeFailures += 1
            log(.error, "snapshot not written", [("file", store.path), ("error", "\(error)")])
        }
    }
}
