import SessionClusterCore

#if canImport(Glibc)
    import Glibc
#endif

/// Where each shard of a node served by several loops keeps its snapshot and log, and how a node directory moves
/// from one number of loops to another.
///
/// Shard 0 uses the node directory itself (so a directory written with one loop is shard 0's as it is), shard `k`
/// the subdirectory `shard-<k>`; each shard persists exactly as a one-loop node does. The number of loops the files
/// were written with is in `<node directory>/loops` (absent: 1).
///
/// A start with another number rewrites the directory before the node serves, without a moment where a crash could
/// lose a session: every copy is read and routed to its new shard; each new shard's snapshot is written beside the
/// old files as `sessions.snapshot.next-<loops>`; the new number is written to `loops` (the commit); then each new
/// shard's old segments are removed and its `.next` file renamed into place, and the directories of shards that no
/// longer exist removed. A start that finds `.next` files of the recorded number finishes that last step; `.next`
/// files of another number (a rewrite cut short before its commit) are removed, and the rewrite starts over from
/// the old files, which are all still there.
enum ShardLayout {
    /// The directory of shard `shard` of the node whose directory is `node`.
    static func directory(_ node: String, shard: Int) -> String {
        shard == 0 ? node : node + "/shard-\(shard)"
    }

    /// The number of loops the node directory's files were written with (1 when unrecorded).
    static func recordedLoops(_ node: String) -> Int {
        guard let bytes = try? SnapshotStore.read(node + "/loops"),
            let loops = Int(String(decoding: bytes.filter { (0x30...0x39).contains($0) }, as: UTF8.self)),
            (1...PeerHello.maxShards).contains(loops)
        else { return 1 }
        return loops
    }

    /// Whether `directory` exists.
    static func exists(_ directory: String) -> Bool {
        guard let stream = opendir(directory) else { return false }
        closedir(stream)
        return true
    }

    /// The name of a new shard snapshot written for `loops` loops, not yet committed.
    static func nextName(loops: Int) -> String { "sessions.snapshot.next-\(loops)" }

    /// What a rewrite did, for the start's log.
    struct Rewrite: Sendable {
        var from = 1
        var to = 1
        var sessions = 0
        var millis: Int64 = 0
        /// Shards the directory recorded whose directories were gone (deleted by hand?): nothing of theirs could be
        /// carried over.
        var missing: [Int] = []
    }

    /// Makes the node directory hold `loops` shards' files (the caller holds the node directory's lock). Nil when it
    /// did already; what was done otherwise.
    static func prepare(
        _ node: String, loops: Int, keyring: Keyring, cluster: String, name: String
    ) throws(PersistenceError) -> Rewrite? {
        var recorded = recordedLoops(node)
        finishCommitted(node, loops: recorded)
        let missing = (1..<max(1, recorded)).filter { !exists(directory(node, shard: $0)) }
        let highest = existingShards(node).max() ?? 0
        // A one-loop node that never had more has nothing to rewrite (nor does a directory already in shape).
        if recorded == loops && highest < loops { return nil }
        if recorded != loops || highest >= loops {
            recorded = max(recorded, highest + 1)
        }
        let started = EventLoop.monotonicMillis()
        if !(0..<recorded).contains(where: { hasFiles(directory(node, shard: $0)) }) {
            // Nothing written yet (a first start): the shards' directories are made and the number recorded.
            for shard in 1..<max(1, loops) { try makeDirectory(directory(node, shard: shard)) }
            try SnapshotStore(directory: node, fileName: "loops").write(Array("\(loops)\n".utf8))
            return nil
        }
        // 1. Every copy of every old shard, routed to its new shard.
        var routed = [[Session]](repeating: [], count: loops)
        var sessions = 0
        for shard in 0..<recorded {
            let directory = directory(node, shard: shard)
            for copy in try readAll(directory, keyring: keyring, cluster: cluster, name: name) {
                routed[Shards.shard(of: copy.id, count: loops)].append(copy)
                sessions += 1
            }
        }
        // 2. Each new shard's snapshot beside the old files.
        let now = EventLoop.wallMillis()
        for shard in 0..<loops {
            let directory = directory(node, shard: shard)
            try makeDirectory(directory)
            _ = try SnapshotFile.write(
                routed[shard], to: SnapshotStore(directory: directory, fileName: nextName(loops: loops)),
                keyring: keyring, cluster: cluster, node: name, writtenAtMillis: now)
        }
        // 3. The commit.
        try SnapshotStore(directory: node, fileName: "loops").write(Array("\(loops)\n".utf8))
        // 4. The new files in place, the old ones gone.
        finishCommitted(node, loops: loops)
        return Rewrite(
            from: recorded, to: loops, sessions: sessions, millis: EventLoop.monotonicMillis() - started,
            missing: missing)
    }

    /// Puts the committed `.next` snapshots of `loops` in place (removing their shard's old segments), removes
    /// uncommitted ones of other numbers, and the directories of shards past `loops` once nothing is pending.
    private static func finishCommitted(_ node: String, loops: Int) {
        var shards = Set(existingShards(node))
        shards.insert(0)
        for shard in shards.sorted() {
            let directory = directory(node, shard: shard)
            for name in files(in: directory) where name.hasPrefix("sessions.snapshot.next-") {
                let path = directory + "/" + name
                guard name == nextName(loops: loops), shard < loops else {
                    unlink(path)
                    continue
                }
                AppendLog.removeSegments(in: directory, through: UInt64.max)
                if rename(path, directory + "/sessions.snapshot") == 0 { AppendLog.syncDirectory(directory) }
            }
        }
        // Shards past the committed number: their copies are in the new shards' snapshots now.
        guard recordedLoops(node) == loops else { return }
        for shard in shards where shard >= loops {
            let directory = directory(node, shard: shard)
            for name in files(in: directory) { unlink(directory + "/" + name) }
            rmdir(directory)
        }
        AppendLog.syncDirectory(node)
    }

    /// The shard numbers (≥ 1) with a `shard-<k>` directory.
    static func existingShards(_ node: String) -> [Int] {
        files(in: node).compactMap { name in
            guard name.hasPrefix("shard-"), let shard = Int(name.dropFirst(6)), shard >= 1 else { return nil }
            return shard
        }
    }

    /// Every copy in `directory`'s snapshot and segments, the segments' after the snapshot's (a session may be in
    /// several: each is merged like a peer's copy at restore, the newest state wins). What does not check is kept
    /// aside (`.unreadable-<ms>` links), never dropped silently.
    private static func readAll(
        _ directory: String, keyring: Keyring, cluster: String, name: String
    ) throws(PersistenceError) -> [Session] {
        var sessions = [Session]()
        let snapshot = directory + "/sessions.snapshot"
        let now = EventLoop.wallMillis()
        if let bytes = try SnapshotStore.read(snapshot) {
            let contents = SnapshotFile.decode(bytes, keyring: keyring, cluster: cluster, node: name)
            if !contents.problems.isEmpty { _ = SnapshotStore.keepAside(snapshot, now: now) }
            sessions += contents.sessions
        }
        for generation in AppendLog.segments(in: directory) {
            let path = AppendLog.segmentPath(directory, generation: generation)
            guard let bytes = try SnapshotStore.read(path) else { continue }
            let contents = AppendLogFile.decode(bytes, keyring: keyring, cluster: cluster, node: name)
            if contents.recordsSkipped > 0 { _ = SnapshotStore.keepAside(path, now: now) }
            sessions += contents.sessions
        }
        return sessions
    }

    /// Whether `directory` holds a snapshot or a segment.
    private static func hasFiles(_ directory: String) -> Bool {
        files(in: directory).contains { $0 == "sessions.snapshot" || $0.hasPrefix("sessions.log.") }
    }

    private static func makeDirectory(_ directory: String) throws(PersistenceError) {
        if mkdir(directory, 0o700) != 0, errno != EEXIST {
            throw PersistenceError(path: directory, operation: "cannot create directory", code: errno)
        }
    }

    /// The names in `directory` (none when it cannot be read).
    private static func files(in directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names = [String]()
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
