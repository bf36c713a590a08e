import Dispatch
import SessionClusterCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What the append log has done so far, for the stats (read on the loop while the writer thread goes on).
struct AppendLogCounters: Sendable {
    /// Bytes in the newest segment, and in the older segments not yet compacted away.
    var segmentBytes = 0
    var olderBytes = 0
    var recordsAppended = 0
    var sessionsAppended = 0
    /// The newest segment's generation (the one appended to).
    var generation: UInt64 = 0

    var bytes: Int { segmentBytes + olderBytes }
}

/// What one `append` did.
struct AppendOutcome: Sendable {
    var records = 0
    /// How long the fsync took (µs), when the append asked for one and there was something to sync.
    var fsyncMicros: Int?
}

/// The node's append log on disk (persistence `log` mode): segments `sessions.log.<generation>` beside the
/// snapshot.
///
/// The loop hands the copies that changed to `append`, and goes on: a thread of the log's own (`writer`, at a lower
/// CPU priority) encodes them, seals them and writes them into the page cache — from then on a process killed with
/// `kill -9` loses nothing of them. `fsync` makes them durable against a power cut: in the same job for `always`,
/// on `fsyncQueue` once a second for `everysec` (so a slow disk never holds the writes up). A compaction starts a
/// new segment (`rotate`), writes a snapshot holding everything on `compactor`, then removes the older segments
/// (`removeSegments(in:through:)`).
///
/// Threads: the methods are called on the loop; the segment's descriptor, sealer and record count belong to the
/// writer thread (touched only in its jobs), the counters are shared under a lock.
final class AppendLog: @unchecked Sendable {
    let directory: String
    let cluster: String
    let node: String
    /// Writes the records, in order.
    let writer: BackgroundThread
    /// Writes the compactions' snapshots (one at a time).
    let compactor: BackgroundThread
    /// Runs the background fsyncs and closes the older segments' descriptors, in the order the writer hands them
    /// over (a descriptor is closed after its last fsync).
    private let fsyncQueue = DispatchQueue(label: "SessionCluster.persistence.fsync")
    private let shared: Mutex<AppendLogCounters>
    /// Appends handed over so far (the loop's count) and done so far (the writer's), and when each of those not done
    /// yet was handed over (loop thread): how far behind the writer is, in time.
    private var handedOver = 0
    private let done = Atomic<Int>(0)
    private var handedOverAt: [(sequence: Int, millis: Int64)] = []
    private var handedOverHead = 0

    // The writer thread's own.
    private var fd: Int32
    private var sealer: AppendLogFile.Sealer
    /// Records in the newest segment (the next one's index).
    private var records = 0
    /// Whether bytes were appended since the last fsync began.
    private var unsynced = false
    /// The batch being encoded and sealed, kept between appends for its capacity.
    private var buffer: [UInt8] = []

    // The loop's own.
    /// Whether a background fsync has not been reported back (`backgroundFsyncEnded`) yet: `everysec` skips a
    /// second while one is still running (a slow disk), as Redis does.
    private(set) var fsyncInFlight = false
    private var closed = false

    /// What has been appended so far.
    var counters: AppendLogCounters { shared.withLock { $0 } }

    /// Appends handed over and not yet written (loop thread).
    var backlog: Int { handedOver - done.load(ordering: .acquiring) }

    /// How long ago the oldest append not yet written was handed over (ms; 0 when the writer is idle): what a
    /// `kill -9` now would lose on top of the 2 ms gathering. Loop thread.
    func lagMillis(now: Int64) -> Int64 {
        forgetWritten()
        guard handedOverHead < handedOverAt.count else { return 0 }
        return max(0, now - handedOverAt[handedOverHead].millis)
    }

    /// Drops the hand-over times of the appends written since (loop thread).
    private func forgetWritten() {
        let finished = done.load(ordering: .acquiring)
        while handedOverHead < handedOverAt.count, handedOverAt[handedOverHead].sequence <= finished {
            handedOverHead += 1
        }
        if handedOverHead >= 64, handedOverHead * 2 >= handedOverAt.count {
            handedOverAt.removeFirst(handedOverHead)
            handedOverHead = 0
        }
    }

    /// The path of segment `generation` in `directory`.
    static func segmentPath(_ directory: String, generation: UInt64) -> String {
        directory + "/sessions.log.\(generation)"
    }

    /// The generations of the segments in `directory`, oldest first.
    static func segments(in directory: String) -> [UInt64] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var found = [UInt64]()
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasPrefix("sessions.log."), let generation = UInt64(name.dropFirst("sessions.log.".count))
            else { continue }
            found.append(generation)
        }
        return found.sorted()
    }

    /// The CPU priority (`nice`) of the compactor, and of the writer unless answers wait for it.
    static let backgroundNice: Int32 = 10

    /// Opens a new segment `generation` (created, header written) for appending, and starts the log's threads.
    /// `olderBytes`: the segments left from before (replayed at start, removed by the next compaction).
    /// `writerNice`: the writer's CPU priority (0 for `always`, whose answers wait for it).
    init(
        directory: String, generation: UInt64, olderBytes: Int, keyring: Keyring, cluster: String, node: String,
        writerNice: Int32 = backgroundNice
    ) throws(PersistenceError) {
        self.directory = directory
        self.cluster = cluster
        self.node = node
        (fd, sealer) = try Self.openSegment(
            directory, generation: generation, keyring: keyring, cluster: cluster, node: node)
        shared = Mutex(
            AppendLogCounters(segmentBytes: sealer.header.count, olderBytes: olderBytes, generation: generation))
        writer = BackgroundThread(name: "log-writer-\(node)", nice: writerNice)
        compactor = BackgroundThread(name: "log-compactor-\(node)", nice: Self.backgroundNice)
    }

    private static func openSegment(
        _ directory: String, generation: UInt64, keyring: Keyring, cluster: String, node: String
    ) throws(PersistenceError) -> (Int32, AppendLogFile.Sealer) {
        let path = segmentPath(directory, generation: generation)
        let sealer: AppendLogFile.Sealer
        do {
            sealer = try AppendLogFile.Sealer(
                keyring: keyring, cluster: cluster, node: node, generation: generation,
                createdAtMillis: EventLoop.wallMillis())
        } catch {
            throw PersistenceError(path: path, operation: "cannot derive the log key for", code: EINVAL)
        }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw PersistenceError(path: path, operation: "cannot create", code: errno) }
        do {
            try SnapshotStore.writeAll(fd, sealer.header, path: path, operation: "cannot write")
        } catch {
            Glibc.close(fd)
            unlink(path)
            throw error
        }
        // The new segment's name must survive a power cut as well as its bytes.
        syncDirectory(directory)
        return (fd, sealer)
    }

    /// Queues `sessions` to be appended as records of about `SnapshotFile.recordPlaintextBytes` each, in one `write`
    /// (with `fsync`: then fsynced), on the writer thread; `finished` is called there with the outcome.
    func append(
        _ sessions: [Session], fsync: Bool,
        finished: @escaping @Sendable (Result<AppendOutcome, PersistenceError>) -> Void
    ) {
        forgetWritten()
        handedOver += 1
        let sequence = handedOver
        handedOverAt.append((sequence, EventLoop.monotonicMillis()))
        let accepted = writer.async { [self] in
            defer { done.store(sequence, ordering: .releasing) }
            var outcome = AppendOutcome()
            do throws(PersistenceError) {
                if !sessions.isEmpty { outcome.records = try write(sessions) }
                if fsync, unsynced { outcome.fsyncMicros = try fsyncNow() }
                finished(.success(outcome))
            } catch {
                finished(.failure(error))
            }
        }
        if !accepted {
            done.store(sequence, ordering: .releasing)
            finished(.failure(closedError()))
        }
    }

    /// Encodes, seals and writes `sessions` (writer thread).
    private func write(_ sessions: [Session]) throws(PersistenceError) -> Int {
        let path = Self.segmentPath(directory, generation: shared.withLock { $0.generation })
        buffer.removeAll(keepingCapacity: true)
        var count = 0
        var start = 0
        do {
            while start < sessions.count {
                var end = start
                var size = 0
                while end < sessions.count, size < SnapshotFile.recordPlaintextBytes {
                    size += sessions[end].estimatedBytes
                    end += 1
                }
                try sealer.appendRecord(sessions[start..<end], index: records + count, to: &buffer)
                count += 1
                start = end
            }
        } catch {
            throw PersistenceError(path: path, operation: "cannot seal a record for", code: EINVAL)
        }
        let before = shared.withLock { $0.segmentBytes }
        do throws(PersistenceError) {
            try SnapshotStore.writeAll(fd, buffer, path: path, operation: "cannot append to")
        } catch {
            // A partial record (a full disk) would make every later one unreadable: cut it off.
            _ = ftruncate(fd, off_t(before))
            throw error
        }
        records += count
        unsynced = true
        let written = buffer.count
        shared.withLock {
            $0.segmentBytes += written
            $0.recordsAppended += count
            $0.sessionsAppended += sessions.count
        }
        // A batch far larger than usual (a compaction's worth of changes) does not keep its memory.
        if buffer.capacity > 16 << 20 { buffer = [] }
        return count
    }

    /// Makes what was appended durable (writer thread); returns how long it took (µs).
    private func fsyncNow() throws(PersistenceError) -> Int {
        unsynced = false
        let started = EventLoop.monotonicMicros()
        guard fdatasync(fd) == 0 else {
            throw PersistenceError(
                path: Self.segmentPath(directory, generation: shared.withLock { $0.generation }),
                operation: "cannot fsync", code: errno)
        }
        return Int(EventLoop.monotonicMicros() - started)
    }

    /// Starts an fsync of what the writer has written by then, on `fsyncQueue`, unless one is still running;
    /// `finished` gets its duration (µs; nil when there was nothing to sync) or the error, on that queue, and MUST
    /// lead to `backgroundFsyncEnded()` on the loop. Returns false when skipped.
    func fsyncInBackground(_ finished: @escaping @Sendable (Result<Int?, PersistenceError>) -> Void) -> Bool {
        guard !fsyncInFlight, !closed else { return false }
        fsyncInFlight = true
        let queued = writer.async { [self] in
            guard unsynced else { return finished(.success(nil)) }
            unsynced = false
            let fd = self.fd
            let path = Self.segmentPath(directory, generation: shared.withLock { $0.generation })
            fsyncQueue.async {
                let started = EventLoop.monotonicMicros()
                if fdatasync(fd) == 0 {
                    finished(.success(Int(EventLoop.monotonicMicros() - started)))
                } else {
                    finished(.failure(PersistenceError(path: path, operation: "cannot fsync", code: errno)))
                }
            }
        }
        if !queued { finished(.failure(closedError())) }
        return true
    }

    /// The background fsync reported by `fsyncInBackground` is over (loop thread).
    func backgroundFsyncEnded() { fsyncInFlight = false }

    /// Queues the start of segment `generation + 1` under the keyring's current key, after the appends queued
    /// before. The old segment is fsynced and closed on `fsyncQueue`; it stays on disk (and counts in `olderBytes`)
    /// until `removeSegments(in:through:)`. `finished` (writer thread) gets the old generation and the bytes of
    /// every segment before the new one, or the error (the old segment is still the one appended to).
    func rotate(
        keyring: Keyring,
        finished: @escaping @Sendable (Result<(generation: UInt64, olderBytes: Int), PersistenceError>) -> Void
    ) {
        let queued = writer.async { [self] in
            let old = shared.withLock { $0.generation }
            let newFD: Int32
            let newSealer: AppendLogFile.Sealer
            do throws(PersistenceError) {
                (newFD, newSealer) = try Self.openSegment(
                    directory, generation: old + 1, keyring: keyring, cluster: cluster, node: node)
            } catch {
                return finished(.failure(error))
            }
            let oldFD = fd
            fsyncQueue.async {
                _ = fdatasync(oldFD)
                Glibc.close(oldFD)
            }
            fd = newFD
            sealer = newSealer
            records = 0
            unsynced = false
            let older = shared.withLock { counters in
                counters.olderBytes += counters.segmentBytes
                counters.segmentBytes = newSealer.header.count
                counters.generation = old + 1
                return counters.olderBytes
            }
            finished(.success((old, older)))
        }
        if !queued { finished(.failure(closedError())) }
    }

    /// The older segments holding `bytes` were removed (a compaction's snapshot holds what they held).
    func segmentsRemoved(bytes: Int) {
        shared.withLock { $0.olderBytes = max(0, $0.olderBytes - bytes) }
    }

    /// Every segment was removed (a graceful stop's snapshot holds everything).
    func allSegmentsRemoved() {
        shared.withLock {
            $0.olderBytes = 0
            $0.segmentBytes = 0
        }
    }

    /// Waits until every append, fsync and rotation queued so far has run (and a compaction it started is queued).
    func drain() {
        guard !closed else { return }
        writer.sync {}
    }

    private func closedError() -> PersistenceError {
        PersistenceError(path: directory, operation: "the append log is closed:", code: EBADF)
    }

    /// Removes the segments of `directory` up to `generation` (any thread).
    static func removeSegments(in directory: String, through generation: UInt64) {
        for old in segments(in: directory) where old <= generation { unlink(segmentPath(directory, generation: old)) }
        syncDirectory(directory)
    }

    /// Writes what is queued, waits for a compaction still running, fsyncs and closes the newest segment and ends
    /// the log's threads. Returns the newest segment's generation.
    @discardableResult
    func close() -> UInt64 {
        if !closed {
            closed = true
            writer.sync { [self] in
                _ = fdatasync(fd)
                Glibc.close(fd)
                fd = -1
            }
            writer.close()
            compactor.close()
            fsyncQueue.sync {}
        }
        return shared.withLock { $0.generation }
    }

    static func syncDirectory(_ directory: String) {
        let directoryFD = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { return }
        _ = fsync(directoryFD)
        Glibc.close(directoryFD)
    }
}
