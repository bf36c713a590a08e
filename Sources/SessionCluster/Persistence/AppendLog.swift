import Dispatch
import SessionClusterCore

#if canImport(Glibc)
    import Glibc
#endif

/// The node's append log on disk (persistence `log` mode): segments `sessions.log.<generation>` beside the
/// snapshot. The loop appends to the newest segment (`append`, a `write` into the page cache: a process killed
/// with `kill -9` loses nothing appended); `fsync` makes it durable against a power cut, on the loop (`always`) or
/// on the persistence queue (`everysec`). A compaction starts a new segment (`rotate`), writes a snapshot holding
/// everything, then removes the older segments (`removeSegments(in:through:)`).
///
/// Used on the loop thread only, except the file descriptors handed to `queue`, which closes them.
final class AppendLog {
    let directory: String
    /// The newest segment's generation (the one appended to).
    private(set) var generation: UInt64
    private var fd: Int32
    private var sealer: AppendLogFile.Sealer
    /// Records in the newest segment (the next one's index).
    private(set) var records = 0
    /// Bytes in the newest segment, and in the older segments not yet compacted away.
    private(set) var segmentBytes = 0
    private(set) var olderBytes = 0
    /// Whether bytes were appended since the last `fsync` began.
    private(set) var unsynced = false
    /// Runs background fsyncs and closes, in order (a descriptor is closed after its last fsync).
    let queue = DispatchQueue(label: "SessionCluster.persistence.log")
    /// Whether an fsync started by `fsyncInBackground` has not been reported back (`backgroundFsyncEnded`) yet:
    /// `everysec` skips a second while one is still running (a slow disk), as Redis does.
    private(set) var fsyncInFlight = false
    private(set) var keyring: Keyring
    let cluster: String
    let node: String

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

    /// Opens a new segment `generation` (created, header written) for appending. `olderBytes`: the segments left
    /// from before (replayed at start, removed by the next compaction).
    init(
        directory: String, generation: UInt64, olderBytes: Int, keyring: Keyring, cluster: String, node: String
    ) throws(PersistenceError) {
        self.directory = directory
        self.generation = generation
        self.olderBytes = olderBytes
        self.keyring = keyring
        self.cluster = cluster
        self.node = node
        (fd, sealer) = try Self.openSegment(
            directory, generation: generation, keyring: keyring, cluster: cluster, node: node)
        segmentBytes = sealer.header.count
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

    /// Appends `sessions` as records of about `SnapshotFile.recordPlaintextBytes` each, in one `write` (durable
    /// after the next `fsync`). Returns the number of records.
    @discardableResult
    func append(_ sessions: [Session]) throws(PersistenceError) -> Int {
        let path = Self.segmentPath(directory, generation: generation)
        var bytes = [UInt8]()
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
                bytes += try sealer.seal(Array(sessions[start..<end]), index: records + count)
                count += 1
                start = end
            }
        } catch {
            throw PersistenceError(path: path, operation: "cannot seal a record for", code: EINVAL)
        }
        do {
            try SnapshotStore.writeAll(fd, bytes, path: path, operation: "cannot append to")
        } catch {
            // A partial record (a full disk) would make every later one unreadable: cut it off.
            _ = ftruncate(fd, off_t(segmentBytes))
            throw error
        }
        records += count
        segmentBytes += bytes.count
        unsynced = true
        return count
    }

    /// Makes what was appended durable, on the calling thread; returns how long it took (µs).
    func fsyncNow() throws(PersistenceError) -> Int {
        unsynced = false
        let started = EventLoop.monotonicMicros()
        guard fdatasync(fd) == 0 else {
            throw PersistenceError(
                path: Self.segmentPath(directory, generation: generation), operation: "cannot fsync", code: errno)
        }
        return Int(EventLoop.monotonicMicros() - started)
    }

    /// Starts an fsync on `queue` unless one is still running; `finished` gets its duration (µs) or the error, on
    /// `queue`, and MUST lead to `backgroundFsyncEnded()` on the loop. Returns false when skipped.
    func fsyncInBackground(_ finished: @escaping @Sendable (Result<Int, PersistenceError>) -> Void) -> Bool {
        guard unsynced, !fsyncInFlight else { return false }
        unsynced = false
        fsyncInFlight = true
        let fd = self.fd
        let path = Self.segmentPath(directory, generation: generation)
        queue.async {
            let started = EventLoop.monotonicMicros()
            let failed = fdatasync(fd) == 0 ? nil : errno
            if let failed {
                finished(.failure(PersistenceError(path: path, operation: "cannot fsync", code: failed)))
            } else {
                finished(.success(Int(EventLoop.monotonicMicros() - started)))
            }
        }
        return true
    }

    /// The background fsync reported by `fsyncInBackground` is over (loop thread).
    func backgroundFsyncEnded() { fsyncInFlight = false }

    /// Starts segment `generation + 1` with the keyring's current key. The old segment is fsynced and closed on
    /// `queue`; it stays on disk (and counts in `olderBytes`) until `removeSegments(in:through:)`. Returns the old
    /// generation.
    func rotate(keyring: Keyring) throws(PersistenceError) -> UInt64 {
        let next = generation + 1
        let (newFD, newSealer) = try Self.openSegment(
            directory, generation: next, keyring: keyring, cluster: cluster, node: node)
        self.keyring = keyring
        let oldFD = fd
        queue.async {
            _ = fdatasync(oldFD)
            Glibc.close(oldFD)
        }
        let old = generation
        olderBytes += segmentBytes
        fd = newFD
        sealer = newSealer
        generation = next
        segmentBytes = newSealer.header.count
        records = 0
        unsynced = false
        return old
    }

    /// The older segments holding `bytes` were removed (a compaction's snapshot holds what they held).
    func segmentsRemoved(bytes: Int) {
        olderBytes = max(0, olderBytes - bytes)
    }

    /// Removes the segments of `directory` up to `generation` (any thread).
    static func removeSegments(in directory: String, through generation: UInt64) {
        for old in segments(in: directory) where old <= generation { unlink(segmentPath(directory, generation: old)) }
        syncDirectory(directory)
    }

    /// Fsyncs and closes the newest segment, waiting for `queue` to finish what it was given.
    func close() {
        let fd = self.fd
        self.fd = -1
        queue.sync {
            guard fd >= 0 else { return }
            _ = fdatasync(fd)
            Glibc.close(fd)
        }
    }

    static func syncDirectory(_ directory: String) {
        let directoryFD = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { return }
        _ = fsync(directoryFD)
        Glibc.close(directoryFD)
    }
}
