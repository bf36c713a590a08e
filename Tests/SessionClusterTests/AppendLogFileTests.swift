import Dispatch
import Foundation
import Glibc
import SessionClusterCore
import Synchronization
import TestSupport
import Testing

@testable import SessionCluster

/// The append log's segment format: records appended one by one, a torn last record, a damaged record skipped while
/// the rest replay, wrong keys, and a fuzzed decoder.
@Suite struct AppendLogFileTests {
    static let keyring = SnapshotFileTests.keyring

    /// A segment of `batches` records of the given sessions.
    static func segment(_ batches: [[Session]], keyring: Keyring = keyring, node: String = "n1") -> [UInt8] {
        let sealer = try! AppendLogFile.Sealer(
            keyring: keyring, cluster: "test", node: node, generation: 7, createdAtMillis: 1_700_000_002_000)
        var file = sealer.header
        for (index, batch) in batches.enumerated() { try! sealer.appendRecord(batch, index: index, to: &file) }
        return file
    }

    static func decode(_ file: [UInt8], keyring: Keyring = keyring, node: String = "n1") -> AppendLogFile.Contents {
        AppendLogFile.decode(file, keyring: keyring, cluster: "test", node: node)
    }

    /// Offsets where each record starts, and the end.
    static func boundaries(_ file: [UInt8]) -> [Int] {
        var offsets = [AppendLogFile.headerBytes]
        var offset = AppendLogFile.headerBytes
        while offset < file.count {
            offset += 4 + file[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
            offsets.append(offset)
        }
        return offsets
    }

    static let batches: [[Session]] = {
        let sessions = SnapshotFileTests.sessions(60, valueBytes: 200)
        return stride(from: 0, to: 60, by: 6).map { Array(sessions[$0..<($0 + 6)]) }
    }()

    @Test func everyRecordReplaysInOrder() {
        let contents = Self.decode(Self.segment(Self.batches))
        #expect(contents.problems.isEmpty && !contents.tornTail)
        #expect(contents.recordsValid == 10 && contents.recordsSkipped == 0)
        #expect(contents.sessions == Self.batches.flatMap { $0 })
        #expect(contents.generation == 7)
        // A segment with only its header (a node that changed nothing) is valid and empty.
        let empty = Self.decode(Self.segment([]))
        #expect(empty.problems.isEmpty && empty.sessions.isEmpty && !empty.tornTail)
    }

    @Test func theWriterThreadAppendsInOrderCountsItsBacklogAndRotates() throws {
        let directory = PersistenceNodeTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try AppendLog(
            directory: directory, generation: 1, olderBytes: 0, keyring: Self.keyring, cluster: "test", node: "n1")
        // Hold the writer up: what is handed over meanwhile is its backlog.
        let gate = DispatchSemaphore(value: 0)
        log.writer.async { gate.wait() }
        let failures = Mutex(0)
        for batch in Self.batches {
            log.append(batch, fsync: false) { result in
                if case .failure = result { failures.withLock { $0 += 1 } }
            }
        }
        #expect(log.backlog == Self.batches.count)
        usleep(30_000)
        #expect(log.lagMillis(now: EventLoop.monotonicMillis()) >= 30)
        gate.signal()
        log.drain()
        #expect(log.backlog == 0 && failures.withLock { $0 } == 0)
        #expect(log.lagMillis(now: EventLoop.monotonicMillis()) == 0)
        let counters = log.counters
        #expect(counters.recordsAppended == Self.batches.count && counters.sessionsAppended == 60)
        let first = try [UInt8](Data(contentsOf: URL(fileURLWithPath: AppendLog.segmentPath(directory, generation: 1))))
        #expect(counters.segmentBytes == first.count)
        #expect(Self.decode(first).sessions == Self.batches.flatMap { $0 })
        // A rotation comes after what was handed over before it; what follows goes to the next segment.
        log.append(Self.batches[0], fsync: false) { _ in }
        let rotated = Mutex<(generation: UInt64, olderBytes: Int)?>(nil)
        log.rotate(keyring: Self.keyring) { result in rotated.withLock { $0 = try? result.get() } }
        log.append(Self.batches[1], fsync: true) { _ in }
        #expect(log.close() == 2)
        #expect(rotated.withLock { $0?.generation } == 1)
        let older = try [UInt8](Data(contentsOf: URL(fileURLWithPath: AppendLog.segmentPath(directory, generation: 1))))
        let newer = try [UInt8](Data(contentsOf: URL(fileURLWithPath: AppendLog.segmentPath(directory, generation: 2))))
        #expect(rotated.withLock { $0?.olderBytes } == older.count)
        #expect(Self.decode(older).sessions == Self.batches.flatMap { $0 } + Self.batches[0])
        #expect(Self.decode(newer).sessions == Self.batches[1] && Self.decode(newer).generation == 2)
        // Closed: an append is refused with an error, not lost silently.
        let refused = Mutex(false)
        log.append(Self.batches[2], fsync: false) { result in
            if case .failure = result { refused.withLock { $0 = true } }
        }
        #expect(refused.withLock { $0 } && log.backlog == 0)
    }

    @Test func aCutAnywhereLosesOnlyTheRecordItCut() {
        let file = Self.segment(Self.batches)
        let boundaries = Self.boundaries(file)
        // Every byte position inside the records: what a crash during an append leaves.
        for end in AppendLogFile.headerBytes..<file.count {
            let contents = Self.decode(Array(file[0..<end]))
            let whole = boundaries.filter { $0 <= end }.count - 1
            #expect(contents.recordsValid == whole, "cut at \(end)")
            #expect(contents.tornTail == !boundaries.contains(end), "cut at \(end)")
            #expect(contents.recordsSkipped == 0 && contents.problems.isEmpty, "cut at \(end)")
            #expect(contents.sessions == Array(Self.batches.prefix(whole).joined()), "cut at \(end)")
        }
    }

    @Test func aDamagedRecordIsSkippedAndTheNextOnesReplay() {
        let file = Self.segment(Self.batches)
        let boundaries = Self.boundaries(file)
        var damaged = file
        damaged[boundaries[3] + 30] ^= 0x04
        let contents = Self.decode(damaged)
        #expect(contents.recordsValid == 9 && contents.recordsSkipped == 1 && !contents.tornTail)
        #expect(contents.problems.count == 1 && contents.problems[0].contains("record 3"))
        #expect(contents.sessions == Self.batches.enumerated().filter { $0.offset != 3 }.flatMap { $0.element })
        // Records swapped: neither authenticates at the other's index.
        let swapped =
            Array(file[0..<boundaries[1]]) + Array(file[boundaries[2]..<boundaries[3]])
            + Array(file[boundaries[1]..<boundaries[2]]) + Array(file[boundaries[3]...])
        #expect(Self.decode(swapped).recordsSkipped == 2)
        // An impossible length: the rest is unreadable, said so.
        var length = file
        length[boundaries[5]] = 0xFF
        let cut = Self.decode(length)
        #expect(cut.recordsValid == 5 && cut.recordsSkipped == 1 && cut.problems[0].contains("impossible"))
    }

    @Test func anotherSecretNodeOrFormatReplaysNothing() throws {
        let file = Self.segment(Self.batches)
        let other = try Keyring(secret: "another secret of at least thirty-two bytes!!")
        #expect(Self.decode(file, keyring: other).recordsValid == 0)
        #expect(Self.decode(file, node: "n2").recordsValid == 0)
        // A snapshot is not a log segment, and a log record cannot pass for a snapshot's.
        let snapshot = SnapshotFileTests.encode(SnapshotFileTests.sessions(5))
        #expect(Self.decode(snapshot).sessions.isEmpty && !Self.decode(snapshot).problems.isEmpty)
        #expect(SnapshotFileTests.decode(file).sessions.isEmpty)
        var rotated = Self.keyring
        try rotated.install("the second key of at least thirty-two bytes long", id: 2)
        try rotated.use(2)
        let missing = Self.decode(Self.segment(Self.batches, keyring: rotated))
        #expect(missing.sessions.isEmpty && missing.problems.contains { $0.contains("key id 2") })
        #expect(Self.decode(Self.segment(Self.batches, keyring: rotated), keyring: rotated).recordsValid == 10)
    }

    /// 100,000 mutated segments (flipped bytes, cut, spliced, lengths rewritten, noise): no trap, bounded time.
    @Test func fuzzedDecoderNeverCrashes() async {
        let findings = await onOwnThread { () -> Findings in
            var findings = Findings()
            var random = SplitMix64(seed: 0x10f_f11e)
            let small = SnapshotFileTests.sessions(6, valueBytes: 8)
            let base = Self.segment([Array(small[0..<2]), Array(small[2..<4]), Array(small[4..<6])])
            let boundaries = Self.boundaries(base)
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
                    let at = boundaries[Int(random.next() % UInt64(boundaries.count - 1))] + Int(random.next() % 4)
                    if at + 4 <= file.count {
                        for index in 0..<4 { file[at + index] = UInt8(random.next() & 0xFF) }
                    }
                default: file = (0..<(random.next() % 200)).map { _ in UInt8(random.next() & 0xFF) }
                }
                let contents = Self.decode(file)
                findings.expect(contents.sessions.count <= 6, "round \(round): more sessions than written")
                findings.expect(contents.recordsValid <= 3, "round \(round): more records than written")
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
