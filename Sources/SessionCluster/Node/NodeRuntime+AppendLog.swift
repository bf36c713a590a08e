import SessionClusterCore

/// Persistence `log` mode on the loop: every copy that changed version (a local commit, a peer's delta or copy
/// merged) is handed to the log's writer thread, which appends it (group commit): gathered for 2 ms after the
/// answers went out for `everysec` and `no`, at the end of the turn and fsynced before the answers for `always`.
/// `everysec` fsyncs once a second, `no` when the kernel decides. Once the segments outgrow the last snapshot, they
/// are compacted: a new segment is started, the copies held at that moment are written as a snapshot off the loop,
/// and the older segments removed.
extension NodeRuntime {
    /// How often (ms) `everysec` fsyncs and the compaction threshold is checked.
    static let logTickMillis: Int64 = 1_000
    /// `everysec` and `no`: how long changes gather before they are handed to the writer (ms).
    static let logBatchMillis: Int64 = 2
    /// Why most compactions happen (logged at info level at most once a minute).
    static let routineCompaction = "log outgrew the snapshot"
    /// A compaction after a failed one (or to rewrite what failed appends lost) waits this long (ms).
    static let failedCompactionRetryMillis: Int64 = 5_000
    /// `everysec` and `no`: how far behind (ms) the writer thread may fall before the loop waits for it. At a lower
    /// priority it can be starved on a machine busy with other work; this keeps what a `kill -9` may lose, and the
    /// memory held, bounded.
    static let writerLagLimitMillis: Int64 = 500

    /// Starts recording changed copies and the once-a-second log tick (after the restore: what was restored is on
    /// disk already). Segments replayed at start are compacted away soon.
    func startLog() {
        guard let log = persistence?.log else { return }
        node.trackChanges()
        loop.schedule(afterMillis: Self.logTickMillis) { [self] in logTick() }
        if log.counters.olderBytes > 0 { compactLog(reason: "segments replayed at start") }
    }

    /// Makes sure the changes of this turn are handed to the writer (called after every batch of directives). For
    /// `everysec` and `no` that happens 2 ms later, after the answers went out (as Redis writes its AOF buffer in
    /// the event-loop pass of its replies): a client never waits for the log, and a `kill -9` loses only what was
    /// answered in the last 2 ms (and what the writer had not written yet). For `always` it happens at the end of
    /// the turn, and the answers wait for the fsync (`durably`).
    func scheduleLogFlush() {
        guard persistence?.logFlushScheduled == false, persistence?.log != nil else { return }
        persistence?.logFlushScheduled = true
        if settings.persistence?.fsync == .always {
            loop.afterIteration { [self] in flushLog() }
        } else {
            // Gathered for a moment: one job and one `write` for every change in it, a session changed twice
            // appended once.
            loop.schedule(afterMillis: Self.logBatchMillis) { [self] in flushLog() }
        }
    }

    /// Runs `answer` at once, or for `always` once its changes are appended and fsynced (group commit).
    func durably(_ answer: @escaping () -> Void) {
        guard answersWaitForLog else { return answer() }
        persistence?.durableWaiters.append(answer)
        scheduleLogFlush()
    }

    /// Whether answers wait for the log (`durably`): `always` with a log open. Checked before building an answer's
    /// closure, which costs an allocation per request otherwise.
    var answersWaitForLog: Bool { persistence?.log != nil && settings.persistence?.fsync == .always }

    /// Hands the copies changed since the last flush to the writer. For `always`, one append (and fsync) at a time:
    /// the answers waiting for it (`durably`) go out when it is done, and what changed meanwhile goes in the next
    /// one. A failure is counted and logged, and the requests are still answered: their changes are committed in
    /// memory and sent to the peers.
    func flushLog() {
        persistence?.logFlushScheduled = false
        guard let log = persistence?.log, persistence?.appendInFlight == false else { return }
        let copies = node.takeChangedCopies()
        let loop = self.loop
        let confined = LoopConfined(value: self)
        guard settings.persistence?.fsync == .always else {
            guard !copies.isEmpty else { return }
            log.append(copies, fsync: false) { result in
                guard case .failure(let error) = result else { return }
                _ = loop.execute { confined.value.noteLogFailure(error) }
            }
            let now = EventLoop.monotonicMillis()
            let lag = log.lagMillis(now: now)
            if lag > persistence?.stats.logWriterLagMaxMillis ?? 0 { persistence?.stats.logWriterLagMaxMillis = lag }
            if lag > Self.writerLagLimitMillis {
                // Starved of CPU: stop taking work until it has caught up (the loop's own turn gives it a core).
                let started = now
                log.drain()
                persistence?.stats.logWriterWaits += 1
                if let count = persistence?.writerWaitLog.admit(now: EventLoop.monotonicMillis()) {
                    self.log(
                        .warning, "log: the writer thread fell behind; the loop waited for it",
                        [("ms", "\(EventLoop.monotonicMillis() - started)"), ("count", "\(count)")])
                }
            }
            return
        }
        let waiters = persistence?.durableWaiters ?? []
        persistence?.durableWaiters = []
        guard !copies.isEmpty else {
            // Nothing new to write, and nothing is in flight: all that was appended is fsynced already.
            for answer in waiters { answer() }
            return
        }
        persistence?.appendInFlight = true
        let answers = LoopConfined(value: waiters)
        log.append(copies, fsync: true) { result in
            _ = loop.execute { confined.value.appended(result, answering: answers.value) }
        }
    }

    /// `always`: an append (and its fsync) is done; answers the requests that waited for it and hands over what
    /// changed meanwhile.
    private func appended(_ result: Result<AppendOutcome, PersistenceError>, answering waiters: [() -> Void]) {
        persistence?.appendInFlight = false
        switch result {
        case .success(let outcome):
            if let micros = outcome.fsyncMicros { persistence?.stats.fsyncLatency.record(micros: micros) }
        case .failure(let error):
            noteLogFailure(error)
        }
        for answer in waiters { answer() }
        if persistence?.durableWaiters.isEmpty == false { scheduleLogFlush() }
    }

    /// At a stop: hands over what changed, waits until the writer has written it, then answers whoever waited.
    func flushLogAndWait() {
        guard let log = persistence?.log else { return }
        log.drain()
        persistence?.appendInFlight = false
        flushLog()
        log.drain()
        // `appended` reaches the loop later (or never, at a stop): the answers go out now.
        let waiters = persistence?.durableWaiters ?? []
        persistence?.durableWaiters = []
        for answer in waiters { answer() }
    }

    private func logTick() {
        guard !stopping, let log = persistence?.log, let policy = settings.persistence?.fsync else { return }
        flushLog()
        if policy == .everysec {
            let loop = self.loop
            let confined = LoopConfined(value: self)
            _ = log.fsyncInBackground { result in
                _ = loop.execute {
                    let runtime = confined.value
                    runtime.persistence?.log?.backgroundFsyncEnded()
                    switch result {
                    case .success(let micros?): runtime.persistence?.stats.fsyncLatency.record(micros: micros)
                    case .success(nil): break
                    case .failure(let error): runtime.noteLogFailure(error)
                    }
                }
            }
        }
        let threshold = max(settings.persistence?.compactionMinimumBytes ?? 0, persistence?.stats.snapshotBytes ?? 0)
        let failures = persistence?.stats.logWriteFailures ?? 0
        let sinceLast = EventLoop.monotonicMillis() - (persistence?.lastCompactionStart ?? 0)
        if failures > persistence?.failuresCovered ?? 0, sinceLast >= Self.failedCompactionRetryMillis {
            // Appends failed (a full disk): the changes they held are on no disk. Rewrite everything.
            compactLog(reason: "appends failed: rewriting every copy")
        } else if log.counters.bytes >= threshold, sinceLast >= Self.failedCompactionRetryMillis
            || persistence?.stats.compactionFailures == 0
        {
            compactLog(reason: Self.routineCompaction)
        }
        loop.schedule(afterMillis: Self.logTickMillis) { [self] in logTick() }
    }

    /// Starts a new segment (under the keyring's current key) after the appends handed over so far, and writes the
    /// copies held now as the snapshot, off the loop; then removes the older segments. Nothing is lost at any point
    /// of a crash: until the snapshot is renamed into place the old segments are still there, and replaying them
    /// over a newer snapshot changes nothing.
    func compactLog(reason: String) {
        guard let state = persistence, let log = state.log, !state.compacting, !stopping else { return }
        flushLog()
        persistence?.compacting = true
        persistence?.lastCompactionStart = EventLoop.monotonicMillis()
        let failuresAtStart = state.stats.logWriteFailures
        keepDamagedSegments()
        // Every change before this moment is in these copies or in a segment before the new one: the appends
        // handed over so far are written before the rotation.
        let held = node.replication.heldCopiesNow
        let keyring = cipher.keyring
        let (cluster, name, store) = (settings.cluster, settings.name, state.store)
        let started = EventLoop.monotonicMillis()
        let loop = self.loop
        let confined = LoopConfined(value: self)
        log.rotate(keyring: keyring) { rotated in
            let (rotatedFrom, removable): (UInt64, Int)
            switch rotated {
            case .success(let old): (rotatedFrom, removable) = old
            case .failure(let error):
                _ = loop.execute {
                    confined.value.persistence?.compacting = false
                    confined.value.noteLogFailure(error)
                }
                return
            }
            log.compactor.async {
                let now = EventLoop.wallMillis()
                let outcome: Result<Int, PersistenceError>
                do throws(PersistenceError) {
                    // Record by record: the file is never whole in memory (a million sessions: 1.1 GB).
                    let bytes = try SnapshotFile.write(
                        held.sessions(), to: store, keyring: keyring, cluster: cluster, node: name,
                        writtenAtMillis: now)
                    AppendLog.removeSegments(in: store.directory, through: rotatedFrom)
                    outcome = .success(bytes)
                } catch {
                    outcome = .failure(error)
                }
                _ = loop.execute {
                    confined.value.compactionEnded(
                        outcome, copies: held.count, removable: removable, started: started, at: now,
                        reason: reason, failuresCovered: failuresAtStart)
                }
            }
        }
    }

    private func compactionEnded(
        _ outcome: Result<Int, PersistenceError>, copies: Int, removable: Int, started: Int64, at now: Int64,
        reason: String, failuresCovered: Int
    ) {
        persistence?.compacting = false
        let took = EventLoop.monotonicMillis() - started
        switch outcome {
        case .success(let bytes):
            persistence?.log?.segmentsRemoved(bytes: removable)
            // Every copy held at the start is on disk now, including those whose appends had failed before it.
            let covered = max(persistence?.failuresCovered ?? 0, failuresCovered)
            persistence?.failuresCovered = covered
            persistence?.stats.compactions += 1
            persistence?.stats.lastCompactionMillis = took
            persistence?.stats.lastSnapshotMillis = now
            persistence?.stats.snapshotBytes = bytes
            persistence?.stats.sessionsWritten = copies
            let fields: LogFields = [
                ("reason", reason), ("sessions", "\(copies)"), ("bytes", "\(bytes)"), ("ms", "\(took)"),
            ]
            if reason != Self.routineCompaction {
                log(.info, "log compacted into a snapshot", fields)
            } else if let count = persistence?.compactionLog.admit(now: EventLoop.monotonicMillis()) {
                // Under heavy writes a routine compaction comes every second or two: one line a minute (the
                // metrics count every one).
                log(.info, "log compacted into a snapshot", fields + [("compactions_since_last_line", "\(count)")])
            } else {
                log(.debug, "log compacted into a snapshot", fields)
            }
        case .failure(let error):
            persistence?.stats.compactionFailures += 1
            log(.error, "log compaction failed; the log is kept", [("error", "\(error)")])
        }
    }

    /// Keeps the segments whose records did not check at start under `<segment>.unreadable-<ms>` (a hard link)
    /// before a compaction removes them.
    private func keepDamagedSegments() {
        guard let state = persistence, let log = state.log, !state.replayed.damaged.isEmpty else { return }
        persistence?.replayed.damaged = []
        for generation in state.replayed.damaged {
            let path = AppendLog.segmentPath(log.directory, generation: generation)
            if let kept = SnapshotStore.keepAside(path, now: Self.now().millis) {
                self.log(.warning, "log: the segment that did not check is kept", [("kept", kept)])
            }
        }
    }

    /// Logs what the log's segments held at start that did not check.
    func logReplayProblems(_ replayed: ReplayedLog) {
        for problem in replayed.problems.prefix(Self.maxProblemsLogged) {
            log(.warning, "log: skipped what does not check", [("problem", problem)])
        }
        if replayed.problems.count > Self.maxProblemsLogged {
            log(.warning, "log: more problems not logged", [("count", "\(replayed.problems.count - Self.maxProblemsLogged)")])
        }
        if replayed.tornTails > 0 {
            log(
                .info, "log: the last record was cut short (the node stopped during an append); its changes are lost",
                [("segments", "\(replayed.tornTails)")])
        }
    }

    func noteLogFailure(_ error: PersistenceError) {
        persistence?.stats.logWriteFailures += 1
        guard let count = persistence?.failureLog.admit(now: EventLoop.monotonicMillis()) else { return }
        log(
            .error, "append log not written: changes are in memory and on peers only",
            [("error", "\(error)"), ("count", "\(count)")])
    }
}
