#if canImport(Glibc)
    import Glibc
#endif

/// Why the persistence directory or file cannot be used.
struct PersistenceError: Error, CustomStringConvertible {
    var path: String
    var operation: String
    var code: Int32

    var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
}

/// An exclusive `flock` on `<node directory>/lock`, held while the node runs: two nodes (processes, or nodes in one
/// process) given the same directory would overwrite each other's snapshot and log.
final class DirectoryLock: @unchecked Sendable {
    private var fd: Int32

    init(_ directory: String) throws(PersistenceError) {
        let path = directory + "/lock"
        fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw PersistenceError(path: path, operation: "cannot create", code: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw PersistenceError(
                path: directory,
                operation: code == EWOULDBLOCK ? "another running node holds the lock on" : "cannot lock", code: code)
        }
    }

    /// Releases the lock (idempotent; also on deinit).
    func release() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }

    deinit { release() }
}

/// The node's snapshot file on disk: `<node directory>/sessions.snapshot`, replaced atomically.
struct SnapshotStore {
    let directory: String
    /// Held from `prepare` until the node stops.
    var lock: DirectoryLock?
    /// The file's name in `directory` (another for a shard snapshot not yet committed, `ShardLayout`).
    var fileName = "sessions.snapshot"
    var path: String { directory + "/" + fileName }
    private var temporaryPath: String { path + ".tmp" }

    init(directory: String, lock: DirectoryLock? = nil, fileName: String = "sessions.snapshot") {
        self.directory = directory
        self.lock = lock
        self.fileName = fileName
    }

    /// Creates the directory (and its parents, mode 0700) if missing, and checks a file can be created in it.
    static func prepare(_ directory: String) throws(PersistenceError) -> SnapshotStore {
        var partial = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            partial += "/" + component
            if mkdir(partial, 0o700) != 0, errno != EEXIST {
                throw PersistenceError(path: partial, operation: "cannot create directory", code: errno)
            }
        }
        // The node's own directory holds its sessions (sealed, but still): nobody else needs to list or read it.
        _ = chmod(directory, 0o700)
        let store = SnapshotStore(directory: directory, lock: try DirectoryLock(directory))
        let probe = directory + "/.write-probe"
        let fd = Glibc.open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw PersistenceError(path: directory, operation: "cannot write in", code: errno) }
        close(fd)
        unlink(probe)
        return store
    }

    /// Writes `bytes` to a temporary file, fsyncs it, renames it over the snapshot and fsyncs the directory: after
    /// a crash at any point the snapshot is either the previous one or this one, whole.
    func write(_ bytes: [UInt8]) throws(PersistenceError) {
        try write(parts: 1) { _ throws(PersistenceError) in bytes }
    }

    /// `write`, with the file produced part by part (`part(0)`, `part(1)`, …): never whole in memory. Returns its
    /// size. A part that throws abandons the file (the previous snapshot stays).
    @discardableResult
    func write(parts: Int, _ part: (Int) throws(PersistenceError) -> [UInt8]) throws(PersistenceError) -> Int {
        let fd = Glibc.open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw PersistenceError(path: temporaryPath, operation: "cannot create", code: errno) }
        var total = 0
        for index in 0..<parts {
            let bytes: [UInt8]
            do {
                bytes = try part(index)
            } catch {
                close(fd)
                unlink(temporaryPath)
                throw error
            }
            do {
                try Self.writeAll(fd, bytes, path: temporaryPath, operation: "cannot write")
            } catch {
                close(fd)
                unlink(temporaryPath)
                throw error
            }
            total += bytes.count
        }
        guard fsync(fd) == 0 else {
            let code = errno
            close(fd)
            unlink(temporaryPath)
            throw PersistenceError(path: temporaryPath, operation: "cannot fsync", code: code)
        }
        close(fd)
        guard rename(temporaryPath, path) == 0 else {
            let code = errno
            unlink(temporaryPath)
            throw PersistenceError(path: path, operation: "cannot rename over", code: code)
        }
        let directoryFD = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
        return total
    }

    /// Writes all of `bytes` to `fd` (retrying short writes and EINTR, at most 16 MiB per call).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String, operation: String) throws(PersistenceError) {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress! + written, min(bytes.count - written, 1 << 24))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw PersistenceError(path: path, operation: operation, code: errno)
            }
            written += count
        }
    }

    /// Keeps the current snapshot under `sessions.snapshot.unreadable-<millis>` (a hard link: the bytes stay where
    /// they are) so the next graceful stop, which replaces `sessions.snapshot`, does not destroy what this start
    /// could not read (a changed secret, another node's file, damage). Returns the kept path; nil when it could not.
    func keepAside(now millis: Int64) -> String? {
        Self.keepAside(path, now: millis)
    }

    /// Keeps file `path` also under `<path>.unreadable-<millis>` (a hard link); the kept path, or nil.
    static func keepAside(_ path: String, now millis: Int64) -> String? {
        let kept = path + ".unreadable-\(millis)"
        return link(path, kept) == 0 ? kept : nil
    }

    /// The snapshot's bytes; nil when there is none (a first start).
    func read() throws(PersistenceError) -> [UInt8]? {
        try Self.read(path)
    }

    /// The bytes of file `path`; nil when there is none.
    static func read(_ path: String) throws(PersistenceError) -> [UInt8]? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw PersistenceError(path: path, operation: "cannot open", code: errno)
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw PersistenceError(path: path, operation: "cannot stat", code: errno) }
        let size = Int(status.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var filled = 0
        while filled < size {
            let count = bytes.withUnsafeMutableBytes { raw in
                Glibc.read(fd, raw.baseAddress! + filled, size - filled)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw PersistenceError(path: path, operation: "cannot read", code: errno)
            }
            if count == 0 { break }
            filled += count
        }
        return filled == size ? bytes : Array(bytes[0..<filled])
    }
}
