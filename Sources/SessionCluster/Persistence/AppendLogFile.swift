import SessionClusterCore

/// The format of one segment of a node's append log (persistence `log` mode): the copies that changed, batch after
/// batch, each batch sealed as it is appended.
///
/// ```
/// header  "SCSLOG\r\n" (8) ‖ version 1 (1) ‖ key id (1) ‖ salt (16) ‖ created at, ms (8) ‖ generation (8)
///                                                                                   — 42 bytes, big-endian
/// record  sealed length (4) ‖ AES-256-GCM(varint count ‖ Session…) ‖ tag (16)
/// ```
///
/// A record holds whole copies (the session's state after the change), not the change itself: replaying a segment
/// merges each copy as a peer's copy is merged (`ReplicationInstance.restore`), so a replay is idempotent, order does
/// not matter between segments and a snapshot, and a copy replayed over a newer one changes nothing.
///
/// Keys, nonces and associated data are the snapshot's (`SnapshotFile`): a key per file from its salt, the record's
/// index as the nonce, the header, cluster, node and index authenticated with every record — a record moved between
/// files, reordered or taken from another node does not authenticate.
///
/// `decode` never throws and never traps. A record cut short at the end is what a crash during an append leaves
/// (`tornTail`); a record that does not authenticate is skipped and the next one read.
enum AppendLogFile {
    static let magic = Array("SCSLOG\r\n".utf8)
    static let version: UInt8 = 1
    static let headerBytes = 42

    /// Seals batches for one segment (the writer's side).
    struct Sealer {
        let header: [UInt8]
        let key: [UInt8]
        let cluster: String
        let node: String

        /// A segment's header and key for `generation`, under the keyring's current key and a fresh salt.
        init(
            keyring: Keyring, cluster: String, node: String, generation: UInt64, createdAtMillis: Int64,
            salt: [UInt8]? = nil
        ) throws(CryptoError) {
            var random = SystemRandomNumberGenerator()
            let salt = salt ?? (0..<SnapshotFile.saltBytes).map { _ in UInt8.random(in: 0...255, using: &random) }
            var header = magic + [version, keyring.current] + salt
            SnapshotFile.append(UInt64(bitPattern: createdAtMillis), bytes: 8, to: &header)
            SnapshotFile.append(generation, bytes: 8, to: &header)
            self.header = header
            self.key = try SnapshotFile.deriveKey(
                keyring.secret(keyring.current) ?? [], keyID: keyring.current, salt: salt, cluster: cluster,
                node: node)
            self.cluster = cluster
            self.node = node
        }

        /// Appends record number `index` of the segment (0 first; its nonce), holding `sessions`, to `buffer`:
        /// encoded, sealed and framed in place, with no copy of the plaintext.
        func appendRecord(
            _ sessions: some Collection<Session>, index: Int, to buffer: inout [UInt8]
        ) throws(CryptoError) {
            let start = buffer.count
            buffer.append(contentsOf: [0, 0, 0, 0])
            WireCodec.encode(sessions: sessions, appendingTo: &buffer)
            do {
                try Crypto.sealInPlace(
                    key: key, nonce: SnapshotFile.nonce(index), &buffer, from: start + 4,
                    aad: SnapshotFile.associatedData(header, cluster: cluster, node: node, index: index))
            } catch {
                buffer.removeSubrange(start...)
                throw error
            }
            let sealedCount = UInt32(buffer.count - start - 4)
            for offset in 0..<4 { buffer[start + offset] = UInt8(truncatingIfNeeded: sealedCount >> (24 - 8 * offset)) }
        }
    }

    /// What `decode` found in a segment.
    struct Contents: Sendable {
        var sessions: [Session] = []
        var generation: UInt64?
        var recordsValid = 0
        /// Records that were there but did not authenticate or parse (not counting a torn tail).
        var recordsSkipped = 0
        /// Whether the segment ends in a record cut short (a crash during an append): its copies are lost.
        var tornTail = false
        /// What was skipped and why, one line each.
        var problems: [String] = []
    }

    /// Every session of every record that authenticates and parses, in order; the rest described in `problems`.
    static func decode(_ file: [UInt8], keyring: Keyring, cluster: String, node: String) -> Contents {
        var contents = Contents()
        guard file.count >= headerBytes, Array(file[0..<8]) == magic else {
            if !file.isEmpty {
                contents.problems.append("not a log segment (\(file.count) bytes, no valid header): nothing replayed")
                contents.recordsSkipped = 1
            }
            return contents
        }
        guard file[8] == version else {
            contents.problems.append("log format version \(file[8]) is not supported: nothing replayed")
            contents.recordsSkipped = 1
            return contents
        }
        let header = Array(file[0..<headerBytes])
        let keyID = file[9]
        let salt = Array(file[10..<26])
        contents.generation = SnapshotFile.read(file, at: 34, bytes: 8)
        guard let secret = keyring.secret(keyID),
            let key = try? SnapshotFile.deriveKey(secret, keyID: keyID, salt: salt, cluster: cluster, node: node)
        else {
            contents.problems.append("log sealed with key id \(keyID), which is not installed: nothing replayed")
            contents.recordsSkipped = 1
            return contents
        }
        var offset = headerBytes
        var index = 0
        while offset < file.count {
            guard file.count - offset >= 4 else {
                contents.tornTail = true
                break
            }
            let length = Int(SnapshotFile.read(file, at: offset, bytes: 4))
            guard length >= Crypto.tagBytes, length <= SnapshotFile.maximumRecordBytes else {
                contents.recordsSkipped += 1
                contents.problems.append(
                    "record \(index): length \(length) is impossible (corrupted); the rest of the segment "
                        + "(\(file.count - offset) bytes) is unreadable")
                break
            }
            guard length <= file.count - offset - 4 else {
                contents.tornTail = true
                break
            }
            let sealed = file[(offset + 4)..<(offset + 4 + length)]
            offset += 4 + length
            defer { index += 1 }
            guard
                let plaintext = Crypto.open(
                    key: key, nonce: SnapshotFile.nonce(index), sealed: sealed,
                    aad: SnapshotFile.associatedData(header, cluster: cluster, node: node, index: index))
            else {
                contents.recordsSkipped += 1
                contents.problems.append("record \(index): does not authenticate (corrupted), skipped")
                continue
            }
            do throws(WireError) {
                contents.sessions += try WireCodec.decodeSessions(plaintext)
                contents.recordsValid += 1
            } catch {
                contents.recordsSkipped += 1
                contents.problems.append("record \(index): does not parse (\(error)), skipped")
            }
        }
        return contents
    }
}
