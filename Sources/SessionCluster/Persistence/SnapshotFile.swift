import Dispatch
import Foundation
import SessionClusterCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The format of a node's snapshot file: every copy it held (valid sessions and tombstones), encrypted and
/// authenticated at rest, in records that are checked one by one.
///
/// ```
/// header  "SCSNAP\r\n" (8) ‖ version 1 (1) ‖ key id (1) ‖ salt (16) ‖ written at, ms (8) ‖ records (4)
///         ‖ sessions (8)                                                           — 46 bytes, big-endian
/// record  sealed length (4) ‖ AES-256-GCM(varint count ‖ Session…) ‖ tag (16)
/// ```
///
/// - Key: `HKDF-SHA256(secret[key id], salt, info: "SessionCluster persistence 1" ‖ 0 ‖ cluster ‖ 0 ‖ node ‖ key
///   id)`. The salt is fresh for every file, so every file has its own key, and the nonce (`0 0 0 0 ‖ record index`,
///   8 bytes big-endian) never repeats under one key. The label keeps the key apart from the traffic keys.
/// - Associated data: the whole header, the cluster and node names and the record's index — a record moved,
///   dropped, or taken from another node's or cluster's file does not authenticate.
/// - Records hold about `recordPlaintextBytes` (64 KiB) of sessions each (a larger session gets a record of its own), so
///   a corrupted byte costs one record, not the file; a truncation costs the records it cut.
///
/// `decode` never throws and never traps: what does not authenticate or parse is skipped and described.
enum SnapshotFile {
    static let magic = Array("SCSNAP\r\n".utf8)
    static let version: UInt8 = 1
    static let headerBytes = 46
    static let saltBytes = 16
    static let label = Array("SessionCluster persistence 1".utf8)
    /// Plaintext bytes a record is filled to (sessions are not split: one may exceed it). Small enough that a bad
    /// byte costs a few dozen 1 KB sessions, not a small node's every session; large enough that the 28 bytes a
    /// record adds and its one AES-GCM call per record cost nothing measurable.
    static let recordPlaintextBytes = 64 << 10
    /// The largest sealed record `decode` reads (a larger length field is corruption).
    static let maximumRecordBytes = 1 << 30

    /// What `decode` found in a file.
    struct Contents: Sendable {
        var sessions: [Session] = []
        /// When the file was written (ms since the epoch); nil when the header is unreadable.
        var writtenAtMillis: Int64?
        /// Records the header announces, and how many of them authenticated and parsed.
        var recordsExpected = 0
        var recordsValid = 0
        /// Sessions the header announces.
        var sessionsExpected = 0
        /// What was skipped and why, one line each (for the node's warning log).
        var problems: [String] = []

        /// Records announced but not restored (an unreadable header counts as one).
        var recordsSkipped: Int { max(0, recordsExpected - recordsValid) }
    }

    /// A snapshot of `sessions` produced record by record (`record(_:)`), so a large one is never whole in memory:
    /// the header, then records of about `recordBytes` (estimated) bytes of sessions each, sealed under the
    /// keyring's current key.
    struct Encoder {
        let header: [UInt8]
        private let sessions: [Session]
        /// Where each record's sessions end in `sessions`.
        private let ends: [Int]
        private let key: [UInt8]
        private let cluster: String
        private let node: String

        init(
            _ sessions: [Session], keyring: Keyring, cluster: String, node: String, writtenAtMillis: Int64,
            salt: [UInt8]? = nil, recordBytes: Int = SnapshotFile.recordPlaintextBytes
        ) throws(CryptoError) {
            var ends = [Int]()
            var bytes = 0
            for (index, session) in sessions.enumerated() {
                bytes += session.estimatedBytes
                if bytes >= recordBytes {
                    ends.append(index + 1)
                    bytes = 0
                }
            }
            if ends.last != sessions.count, !sessions.isEmpty { ends.append(sessions.count) }
            var random = SystemRandomNumberGenerator()
            let salt = salt ?? (0..<saltBytes).map { _ in UInt8.random(in: 0...255, using: &random) }
            var header = magic + [version, keyring.current] + salt
            append(UInt64(bitPattern: writtenAtMillis), bytes: 8, to: &header)
            append(UInt64(ends.count), bytes: 4, to: &header)
            append(UInt64(sessions.count), bytes: 8, to: &header)
            self.header = header
            self.key = try deriveKey(
                keyring.secret(keyring.current) ?? [], keyID: keyring.current, salt: salt, cluster: cluster, node: node)
            self.sessions = sessions
            self.ends = ends
            self.cluster = cluster
            self.node = node
        }

        /// How many records follow the header.
        var recordCount: Int { ends.count }

        /// Record `index`, length-prefixed, as it goes in the file.
        func record(_ index: Int) throws(CryptoError) -> [UInt8] {
            let start = index == 0 ? 0 : ends[index - 1]
            let plaintext = WireCodec.encode(sessions: sessions[start..<ends[index]])
            let sealed = try Crypto.seal(
                key: key, nonce: nonce(index), plaintext: plaintext,
                aad: associatedData(header, cluster: cluster, node: node, index: index))
            var record = [UInt8]()
            record.reserveCapacity(4 + sealed.count)
            append(UInt64(sealed.count), bytes: 4, to: &record)
            record += sealed
            return record
        }
    }

    /// The whole file for `sessions` (see `Encoder`).
    static func encode(
        _ sessions: [Session], keyring: Keyring, cluster: String, node: String, writtenAtMillis: Int64,
        salt: [UInt8]? = nil, recordBytes: Int = recordPlaintextBytes
    ) throws(CryptoError) -> [UInt8] {
        let encoder = try Encoder(
            sessions, keyring: keyring, cluster: cluster, node: node, writtenAtMillis: writtenAtMillis, salt: salt,
            recordBytes: recordBytes)
        var file = encoder.header
        for index in 0..<encoder.recordCount { file += try encoder.record(index) }
        return file
    }

    /// Writes the snapshot of `sessions` to `store`, record by record; returns the file's size.
    static func write(
        _ sessions: [Session], to store: SnapshotStore, keyring: Keyring, cluster: String, node: String,
        writtenAtMillis: Int64
    ) throws(PersistenceError) -> Int {
        let encoder: Encoder
        do {
            encoder = try Encoder(
                sessions, keyring: keyring, cluster: cluster, node: node, writtenAtMillis: writtenAtMillis)
        } catch {
            throw PersistenceError(path: store.path, operation: "cannot derive the snapshot key for", code: EINVAL)
        }
        return try store.write(parts: 1 + encoder.recordCount) { part throws(PersistenceError) in
            guard part > 0 else { return encoder.header }
            do {
                return try encoder.record(part - 1)
            } catch {
                throw PersistenceError(path: store.path, operation: "cannot seal a record of", code: EINVAL)
            }
        }
    }

    /// Every session of every record that authenticates and parses; the rest described in `problems`.
    static func decode(_ file: [UInt8], keyring: Keyring, cluster: String, node: String) -> Contents {
        var contents = Contents()
        guard file.count >= headerBytes, Array(file[0..<8]) == magic else {
            contents.problems.append("not a snapshot file (\(file.count) bytes, no valid header): nothing restored")
            contents.recordsExpected = 1
            return contents
        }
        guard file[8] == version else {
            contents.problems.append("snapshot format version \(file[8]) is not supported: nothing restored")
            contents.recordsExpected = 1
            return contents
        }
        let header = Array(file[0..<headerBytes])
        let keyID = file[9]
        let salt = Array(file[10..<26])
        contents.writtenAtMillis = Int64(bitPattern: read(file, at: 26, bytes: 8))
        contents.recordsExpected = Int(read(file, at: 34, bytes: 4))
        contents.sessionsExpected = Int(clamping: read(file, at: 38, bytes: 8))
        guard let secret = keyring.secret(keyID),
            let key = try? deriveKey(secret, keyID: keyID, salt: salt, cluster: cluster, node: node)
        else {
            contents.problems.append(
                "snapshot sealed with key id \(keyID), which is not installed: \(contents.recordsExpected) records "
                    + "skipped")
            return contents
        }
        // First where the records are (lengths only), then every record opened and parsed, on every core: a
        // million sessions are about 17,000 records, each independent of the others (its own nonce).
        var records = [Range<Int>]()
        var structural: String?
        var offset = headerBytes
        while offset < file.count {
            guard records.count < contents.recordsExpected else {
                structural = "\(file.count - offset) bytes after the last record ignored"
                break
            }
            guard file.count - offset >= 4 else {
                structural = "record \(records.count): truncated in its length"
                break
            }
            let length = Int(read(file, at: offset, bytes: 4))
            guard length >= Crypto.tagBytes, length <= maximumRecordBytes, length <= file.count - offset - 4 else {
                structural =
                    "record \(records.count): length \(length) but \(file.count - offset - 4) bytes left (truncated or "
                    + "corrupted); the rest of the file is unreadable"
                break
            }
            records.append((offset + 4)..<(offset + 4 + length))
            offset += 4 + length
        }
        let opened = openRecords(records, of: file, key: key, header: header, cluster: cluster, node: node)
        contents.sessions = opened.sessions
        contents.recordsValid = opened.valid
        contents.problems += opened.problems
        if let structural { contents.problems.append(structural) }
        if records.count < contents.recordsExpected {
            contents.problems.append(
                "\(contents.recordsExpected - records.count) of \(contents.recordsExpected) records missing (file "
                    + "truncated)")
        }
        return contents
    }

    /// Opens and parses `records` (byte ranges of `file`, record `i` at `records[i]`) in chunks on every core; the
    /// sessions and the problems come back in record order.
    private static func openRecords(
        _ records: [Range<Int>], of file: [UInt8], key: [UInt8], header: [UInt8], cluster: String, node: String
    ) -> (sessions: [Session], valid: Int, problems: [String]) {
        struct Chunk: Sendable {
            var sessions: [Session] = []
            var valid = 0
            var problems: [String] = []
        }
        let chunkCount = min(records.count, 4 * max(1, ProcessInfo.processInfo.activeProcessorCount))
        guard chunkCount > 0 else { return ([], 0, []) }
        let chunks = Mutex([Chunk](repeating: Chunk(), count: chunkCount))
        DispatchQueue.concurrentPerform(iterations: chunkCount) { chunkIndex in
            var chunk = Chunk()
            let first = records.count * chunkIndex / chunkCount
            let end = records.count * (chunkIndex + 1) / chunkCount
            for index in first..<end {
                guard
                    let plaintext = Crypto.open(
                        key: key, nonce: nonce(index), sealed: file[records[index]],
                        aad: associatedData(header, cluster: cluster, node: node, index: index))
                else {
                    chunk.problems.append(
                        "record \(index): does not authenticate (corrupted, or sealed under another secret), skipped")
                    continue
                }
                do throws(WireError) {
                    chunk.sessions += try WireCodec.decodeSessions(plaintext)
                    chunk.valid += 1
                } catch {
                    chunk.problems.append("record \(index): does not parse (\(error)), skipped")
                }
            }
            chunks.withLock { $0[chunkIndex] = chunk }
        }
        let done = chunks.withLock { $0 }
        var sessions = [Session]()
        sessions.reserveCapacity(done.reduce(0) { $0 + $1.sessions.count })
        for chunk in done { sessions += chunk.sessions }
        return (sessions, done.reduce(0) { $0 + $1.valid }, done.flatMap(\.problems))
    }

    static func deriveKey(
        _ secret: [UInt8], keyID: UInt8, salt: [UInt8], cluster: String, node: String
    ) throws(CryptoError) -> [UInt8] {
        let info = label + [0] + Array(cluster.utf8) + [0] + Array(node.utf8) + [keyID]
        return try Crypto.hkdf(secret: secret, salt: salt, info: info, count: Crypto.keyBytes)
    }

    static func associatedData(_ header: [UInt8], cluster: String, node: String, index: Int) -> [UInt8] {
        var aad = header + Array(cluster.utf8) + [0] + Array(node.utf8) + [0]
        append(UInt64(index), bytes: 4, to: &aad)
        return aad
    }

    static func nonce(_ index: Int) -> [UInt8] {
        var nonce: [UInt8] = [0, 0, 0, 0]
        append(UInt64(index), bytes: 8, to: &nonce)
        return nonce
    }

    static func append(_ value: UInt64, bytes: Int, to buffer: inout [UInt8]) {
        for shift in stride(from: (bytes - 1) * 8, through: 0, by: -8) {
            buffer.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    static func read(_ buffer: [UInt8], at offset: Int, bytes: Int) -> UInt64 {
        var value: UInt64 = 0
        for position in offset..<(offset + bytes) { value = value << 8 | UInt64(buffer[position]) }
        return value
    }
}
