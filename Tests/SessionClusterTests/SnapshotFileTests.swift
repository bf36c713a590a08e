import SessionClusterCore
import TestSupport
import Testing

@testable import SessionCluster

/// The snapshot file format: round trip, damage detected per record, wrong key, and a fuzzed decoder.
@Suite struct SnapshotFileTests {
    static let secret = "snapshot test secret of at least thirty-two bytes"
    static let keyring = try! Keyring(secret: secret)
    static let writer = NodeID(rawValue: 0xABCD)

    /// `count` sessions of about `valueBytes` each, every third one a tombstone (logged out).
    static func sessions(_ count: Int, valueBytes: Int = 100, seed: UInt64 = 1) -> [Session] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { index in
            let stamp = Stamp(time: HLCTimestamp(wall: 1_700_000_000_000 + Int64(index), logical: 0), node: writer)
            var content = SessionContent(
                createdAt: Timestamp(millis: 1_700_000_000_000), lastAccess: Timestamp(millis: 1_700_000_000_000),
                attributes: [
                    "user": AttributeSlot(value: Array("user-\(index)".utf8), stamp: stamp),
                    "blob": AttributeSlot(
                        value: [UInt8](repeating: UInt8(index % 251), count: valueBytes), stamp: stamp),
                ])
            if index % 3 == 2 { content.invalidation = Invalidation(stamp: stamp, reason: .logout) }
            return Session(
                id: SessionID(using: &random), content: content,
                version: VersionVector([(writer, UInt64(index + 1))]))
        }
    }

    static func encode(
        _ sessions: [Session], keyring: Keyring = keyring, node: String = "n1",
        recordBytes: Int = SnapshotFile.recordPlaintextBytes
    ) -> [UInt8] {
        try! SnapshotFile.encode(
            sessions, keyring: keyring, cluster: "test", node: node, writtenAtMillis: 1_700_000_001_000,
            recordBytes: recordBytes)
    }

    static func decode(_ file: [UInt8], keyring: Keyring = keyring, node: String = "n1") -> SnapshotFile.Contents {
        SnapshotFile.decode(file, keyring: keyring, cluster: "test", node: node)
    }

    /// Offsets where each record starts (after the header), and the end of the file.
    static func recordBoundaries(_ file: [UInt8]) -> [Int] {
        var offsets = [SnapshotFile.headerBytes]
        var offset = SnapshotFile.headerBytes
        while offset < file.count {
            let length = file[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
            offset += 4 + length
            offsets.append(offset)
        }
        return offsets
    }

    @Test func roundTripKeepsEverySessionAndTombstone() {
        let sessions = Self.sessions(3_000, valueBytes: 1_000)
        let file = Self.encode(sessions)
        let contents = Self.decode(file)
        #expect(contents.problems.isEmpty)
        #expect(contents.sessions == sessions)
        #expect(contents.recordsExpected > 2, "3 MB of sessions fill several records")
        #expect(contents.recordsValid == contents.recordsExpected)
        #expect(contents.sessionsExpected == 3_000)
        #expect(contents.writtenAtMillis == 1_700_000_001_000)
        // Sealed: no attribute value appears in the clear.
        #expect(!file.indices.dropLast(6).contains { Array(file[$0..<($0 + 6)]) == Array("user-1".utf8) })
    }

    @Test func emptySnapshotRoundTrips() {
        let contents = Self.decode(Self.encode([]))
        #expect(contents.problems.isEmpty && contents.sessions.isEmpty && contents.recordsExpected == 0)
    }

    @Test func truncationAtEveryRecordBoundaryKeepsTheRecordsBefore() {
        let sessions = Self.sessions(2_500, valueBytes: 1_000)
        let file = Self.encode(sessions)
        let boundaries = Self.recordBoundaries(file)
        let records = boundaries.count - 1
        for (kept, end) in boundaries.enumerated() {
            let contents = Self.decode(Array(file[0..<end]))
            #expect(contents.recordsValid == kept)
            #expect(contents.recordsSkipped == records - kept)
            #expect(contents.sessions == Array(sessions.prefix(contents.sessions.count)))
            #expect(contents.problems.isEmpty == (kept == records))
            if kept < records {
                // Mid-record: the record cut is lost, those before are kept.
                let middle = Self.decode(Array(file[0..<(end + 4 + (boundaries[kept + 1] - end) / 2)]))
                #expect(middle.recordsValid == kept)
                #expect(middle.recordsSkipped == records - kept)
                #expect(!middle.problems.isEmpty)
            }
        }
        // Inside the header: nothing, and said so.
        for end in [0, 7, 20, SnapshotFile.headerBytes - 1] {
            let contents = Self.decode(Array(file[0..<end]))
            #expect(contents.sessions.isEmpty && !contents.problems.isEmpty)
        }
    }

    @Test func aFlippedByteCostsOnlyItsRecord() {
        let sessions = Self.sessions(2_500, valueBytes: 1_000)
        let file = Self.encode(sessions)
        let boundaries = Self.recordBoundaries(file)
        #expect(boundaries.count >= 4)
        var damaged = file
        damaged[boundaries[1] + 100] ^= 0x01  // inside record 1's ciphertext
        let contents = Self.decode(damaged)
        #expect(contents.recordsValid == boundaries.count - 2)
        #expect(contents.recordsSkipped == 1)
        #expect(contents.problems.count == 1 && contents.problems[0].contains("record 1"))
        let all = Set(sessions)
        #expect(contents.sessions.allSatisfy(all.contains))
        #expect(contents.sessions.count < sessions.count && contents.sessions.count > sessions.count / 2)
        // A flipped header byte: no record authenticates.
        var header = file
        header[30] ^= 0x80
        let none = Self.decode(header)
        #expect(none.sessions.isEmpty && none.recordsSkipped == none.recordsExpected && !none.problems.isEmpty)
    }

    @Test func wrongSecretOrNodeRestoresNothingAndSaysWhy() throws {
        let file = Self.encode(Self.sessions(100))
        let other = try Keyring(secret: "another secret of at least thirty-two bytes!!")
        let contents = Self.decode(file, keyring: other)
        #expect(contents.sessions.isEmpty)
        #expect(contents.recordsSkipped == 1 && contents.problems.contains { $0.contains("does not authenticate") })
        // Another node's file (copied to the wrong directory) does not open either.
        #expect(Self.decode(file, node: "n2").sessions.isEmpty)
        // Sealed under key 2, which the reader lacks: said so without trying.
        var rotated = Self.keyring
        try rotated.install("the second key of at least thirty-two bytes long", id: 2)
        try rotated.use(2)
        let missing = Self.decode(Self.encode(Self.sessions(10), keyring: rotated))
        #expect(missing.sessions.isEmpty && missing.problems.contains { $0.contains("key id 2") })
        // The reader with both keys opens it.
        #expect(Self.decode(Self.encode(Self.sessions(10), keyring: rotated), keyring: rotated).sessions.count == 10)
    }

    /// 100,000 mutated files (flipped bytes, cut, spliced, lengths rewritten): no trap, bounded time.
    @Test func fuzzedDecoderNeverCrashes() async {
        #expect(Self.recordBoundaries(Self.encode(Self.sessions(6, valueBytes: 8), recordBytes: 200)).count >= 4)
        let findings = await onOwnThread { () -> Findings in
            var findings = Findings()
            var random = SplitMix64(seed: 0x5eed_f11e)
            // Small sessions in small records: each decode is cheap and meets several record boundaries.
            let base = Self.encode(Self.sessions(6, valueBytes: 8), recordBytes: 200)
            let boundaries = Self.recordBoundaries(base)
            let started = ContinuousClock.now
            for round in 0..<100_000 {
                var file = base
                switch random.next() % 5 {
                case 0:
                    for _ in 0..<(1 + random.next() % 4) {
                        file[Int(random.next() % UInt64(file.count))] ^= UInt8(1 << (random.next() % 8))
                    }
                case 1: file = Array(file.prefix(Int(random.next() % UInt64(file.count + 1))))
                case 2:
                    let at = Int(random.next() % UInt64(file.count))
                    file.insert(contentsOf: (0..<(random.next() % 16)).map { _ in UInt8(random.next() & 0xFF) }, at: at)
                case 3:
                    // A length field: the first record's, or one further on.
                    let at = boundaries[Int(random.next() % UInt64(boundaries.count - 1))] + Int(random.next() % 4)
                    if at + 4 <= file.count {
                        for index in 0..<4 { file[at + index] = UInt8(random.next() & 0xFF) }
                    }
                default: file = (0..<(random.next() % 200)).map { _ in UInt8(random.next() & 0xFF) }
                }
                let contents = Self.decode(file)
                findings.expect(contents.sessions.count <= 6, "round \(round): more sessions than written")
                findings.expect(contents.recordsValid <= contents.recordsExpected, "round \(round): counts")
                if ContinuousClock.now - started > .seconds(120) {
                    findings.fail("fuzzing took over 120 s at round \(round)")
                    break
                }
            }
            return findings
        }
        findings.record()
    }
}
