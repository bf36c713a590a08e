import SessionClusterCore
import TestSupport
import Testing

@testable import SessionCluster

@Suite struct ClusterCipherTests {
    static let secret = "a shared secret of at least thirty-two bytes"
    static let a = NodeID(rawValue: 0xA)
    static let b = NodeID(rawValue: 0xB)

    static func pair(cluster: String = "c1", secret: String = secret) throws -> (ClusterCipher, ClusterCipher) {
        (
            ClusterCipher(cluster: cluster, me: a, keyring: try Keyring(secret: secret)),
            ClusterCipher(cluster: cluster, me: b, keyring: try Keyring(secret: Self.secret))
        )
    }

    @Test func sealedEnvelopesOpenOnceWithTheSenderAuthenticated() throws {
        let (sender, receiver) = try Self.pair()
        let message = Array("attribute value: blue".utf8)
        let envelope = sender.seal(message, channel: .datagram)
        #expect(envelope.count == message.count + ClusterCipher.overhead)
        #expect(!envelope.containsSubsequence(message))
        let opened = try #require(receiver.open(envelope[...], channel: .datagram))
        #expect(opened.sender == Self.a && opened.plaintext == message)
        #expect(receiver.open(envelope[...], channel: .datagram) == nil)  // replayed
        #expect(receiver.rejected[.replayed] == 1)
    }

    @Test func wrongKeyWrongClusterTamperingAndGarbageAreRejected() throws {
        let (sender, _) = try Self.pair()
        let envelope = sender.seal(Array("x".utf8), channel: .stream)
        let otherCluster = ClusterCipher(cluster: "c2", me: Self.b, keyring: try Keyring(secret: Self.secret))
        #expect(otherCluster.open(envelope[...], channel: .stream) == nil)
        let otherKey = ClusterCipher(
            cluster: "c1", me: Self.b, keyring: try Keyring(secret: "another secret of at least 32 bytes!!"))
        #expect(otherKey.open(envelope[...], channel: .stream) == nil)
        let receiver = ClusterCipher(cluster: "c1", me: Self.b, keyring: try Keyring(secret: Self.secret))
        for index in envelope.indices {
            var tampered = envelope
            tampered[index] ^= 0x01
            #expect(receiver.open(tampered[...], channel: .stream) == nil, "byte \(index)")
        }
        #expect(receiver.open([1, 2, 3][...], channel: .stream) == nil)
        #expect(receiver.open(envelope[...], channel: .datagram) == nil)  // another channel's envelope
        #expect(receiver.rejected[.unauthenticated, default: 0] > 0 && receiver.rejected[.malformed, default: 0] > 0)
        #expect(receiver.open(envelope[...], channel: .stream) != nil)  // the untouched one still opens
    }

    /// The cipher keeps its libcrypto contexts from message to message: many seals and opens in a row by one
    /// pair of instances, in both directions, with tampered envelopes in between, all round-trip.
    @Test func oneInstanceSealsAndOpensManyInARowAfterTamperedOnesToo() throws {
        let (a, b) = try Self.pair()
        let c = ClusterCipher(cluster: "c1", me: NodeID(rawValue: 0xC), keyring: try Keyring(secret: Self.secret))
        for round in 0..<300 {
            let message = Array("round \(round) ".utf8) + [UInt8](repeating: UInt8(round % 251), count: round % 97)
            let channel: ClusterCipher.Channel = round % 3 == 0 ? .datagram : .stream
            let (sender, receiver) = round % 2 == 0 ? (a, b) : (b, a)
            var envelope = sender.seal(message, channel: channel)
            if round % 5 == 0 {
                var tampered = envelope
                tampered[ClusterCipher.headerBytes + round % (tampered.count - ClusterCipher.headerBytes)] ^= 0x04
                #expect(receiver.open(tampered[...], channel: channel) == nil, "round \(round)")
            }
            if round % 7 == 0 {
                // Sealed by a third node: the receiver's context takes another key, then goes back.
                #expect(receiver.open(c.seal(message, channel: channel)[...], channel: channel)?.plaintext == message)
            }
            let opened = receiver.open(envelope[...], channel: channel)
            #expect(
                opened?.plaintext == message && opened?.sender == (round % 2 == 0 ? Self.a : Self.b), "round \(round)")
            envelope[envelope.count - 1] ^= 1
            #expect(receiver.open(envelope[...], channel: channel) == nil)
        }
        #expect(a.rejected[.replayed] == nil && b.rejected[.replayed] == nil)
    }

    @Test func replayWindowAcceptsReorderingOnceAndRefusesTooOld() {
        var window = ReplayWindow(strict: false)
        let datagrams: [(UInt64, Bool)] = [
            (500, true), (300, true), (400, true), (400, false), (500, false), (30_000, true), (40, true),
            (29_999, true), (29_999, false), (0, false),
        ]
        for (counter, expected) in datagrams {
            let accepted = window.accept(counter)
            #expect(accepted == expected, "datagram counter \(counter)")
        }
        // Once the window holds its last `kept`, a counter below the lowest of them is refused, one above is not.
        func take(_ counter: UInt64) -> Bool { window.accept(counter) }
        for counter in UInt64(100_000)..<UInt64(100_000 + ReplayWindow.kept) { #expect(take(counter)) }
        #expect(!take(99_999) && !take(40) && !take(100_000))
        #expect(take(100_000 + UInt64(ReplayWindow.kept) + 5))  // the lowest kept is now 100,001
        #expect(!take(100_001))
        var stream = ReplayWindow(strict: true)
        for (counter, expected) in [(1, true), (2, true), (2, false), (1, false), (10, true)] as [(UInt64, Bool)] {
            let accepted = stream.accept(counter)
            #expect(accepted == expected, "stream counter \(counter)")
        }
    }

    /// A settable wall clock for ciphers under test (Unix ms).
    final class TestClock: @unchecked Sendable {
        var now: Int64
        init(_ now: Int64) { self.now = now }
    }

    static func counter(of envelope: [UInt8]) -> UInt64 {
        envelope[13..<21].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// The ghost of a gone node: its datagrams, recorded and replayed to a node that never heard them (restarted
    /// since), are taken only while younger than the bound; streams carry no time and are not judged by it.
    @Test func aDatagramCarriesItsSendTimeAndAStaleOneIsDropped() throws {
        let start: Int64 = 1_780_000_000_000
        let senderClock = TestClock(start)
        let sender = ClusterCipher(
            cluster: "c1", me: Self.a, keyring: try Keyring(secret: Self.secret), clock: { senderClock.now })
        let recording = (0..<3).map { sender.seal(Array("beacon \($0)".utf8), channel: .datagram) }
        #expect(ClusterCipher.sentMillis(ofDatagram: Self.counter(of: recording[0])) == start)
        let stream = sender.seal(Array("frame".utf8), channel: .stream)
        let receiverClock = TestClock(start + 69_000)
        func restartedReceiver() throws -> ClusterCipher {
            ClusterCipher(
                cluster: "c1", me: Self.b, keyring: try Keyring(secret: Self.secret), maxDatagramAgeMillis: 70_000,
                clock: { receiverClock.now })
        }
        let young = try restartedReceiver()
        #expect(young.open(recording[0][...], channel: .datagram) != nil)
        receiverClock.now = start + 70_001
        let late = try restartedReceiver()
        for envelope in recording { #expect(late.open(envelope[...], channel: .datagram) == nil) }
        #expect(late.rejected[.stale] == 3 && late.rejected[.replayed] == nil)
        #expect(late.lastStale?.sender == Self.a && late.lastStale?.ageMillis == 70_001)
        #expect(late.open(stream[...], channel: .stream) != nil)
        // The sender's next datagram is fresh again.
        senderClock.now = receiverClock.now
        #expect(late.open(sender.seal(Array("now".utf8), channel: .datagram)[...], channel: .datagram) != nil)
        // Dated ahead: within the bound taken, beyond it dropped too (a clock ahead is off either way).
        senderClock.now = receiverClock.now + 69_000
        #expect(late.open(sender.seal(Array("ahead".utf8), channel: .datagram)[...], channel: .datagram) != nil)
        senderClock.now = receiverClock.now + 70_001
        #expect(late.open(sender.seal(Array("far".utf8), channel: .datagram)[...], channel: .datagram) == nil)
        #expect(late.rejected[.stale] == 4 && late.lastStale?.ageMillis == -70_001)
    }

    /// Counters never repeat nor go back: more datagrams in one millisecond than its 128 counts borrow the next
    /// ones, and a clock stepped back changes nothing; every one opens once, whatever the order it arrives in.
    @Test func datagramCountersStayDistinctAndRisingWhateverTheClockDoes() throws {
        let clock = TestClock(1_780_000_000_000)
        let sender = ClusterCipher(
            cluster: "c1", me: Self.a, keyring: try Keyring(secret: Self.secret), shard: 1, clock: { clock.now })
        let receiver = ClusterCipher(
            cluster: "c1", me: Self.b, keyring: try Keyring(secret: Self.secret), clock: { clock.now })
        var envelopes = (0..<300).map { _ in sender.seal([1], channel: .datagram) }
        clock.now -= 5_000
        envelopes += (0..<10).map { _ in sender.seal([2], channel: .datagram) }
        clock.now += 5_010
        envelopes += (0..<10).map { _ in sender.seal([3], channel: .datagram) }
        let counters = envelopes.map(Self.counter(of:))
        #expect(zip(counters, counters.dropFirst()).allSatisfy { $0 < $1 })
        #expect(counters.allSatisfy { $0 >> 48 == 1 })  // the shard's bits
        #expect(ClusterCipher.sentMillis(ofDatagram: counters.last!) == clock.now)
        // Delivered in reverse within the last 128: each opens once.
        for envelope in envelopes.suffix(ReplayWindow.kept).reversed() {
            #expect(receiver.open(envelope[...], channel: .datagram) != nil)
        }
        for envelope in envelopes.suffix(ReplayWindow.kept) {
            #expect(receiver.open(envelope[...], channel: .datagram) == nil)
        }
        #expect(receiver.rejected[.replayed] == ReplayWindow.kept && receiver.rejected[.stale] == nil)
    }

    @Test func keyRotationWithoutDowntime() throws {
        var old = try Keyring(secret: Self.secret)
        let sender = ClusterCipher(cluster: "c1", me: Self.a, keyring: old)
        let receiver = ClusterCipher(cluster: "c1", me: Self.b, keyring: old)
        // 1. Install the new key everywhere: both keys open.
        var both = old
        try both.install("the next secret, also thirty-two bytes or more", id: 2)
        receiver.install(both)
        #expect(receiver.open(sender.seal([1], channel: .datagram)[...], channel: .datagram) != nil)
        // 2. Switch the sender to the new key.
        try both.use(2)
        sender.install(both)
        #expect(receiver.open(sender.seal([2], channel: .datagram)[...], channel: .datagram) != nil)
        // 3. Remove the old key: old-key traffic no longer opens, new-key traffic does.
        let stale = ClusterCipher(cluster: "c1", me: NodeID(rawValue: 0xC), keyring: old)
        try both.remove(1)
        receiver.install(both)
        #expect(receiver.open(stale.seal([3], channel: .datagram)[...], channel: .datagram) == nil)
        #expect(receiver.rejected[.unknownKey] == 1)
        #expect(receiver.open(sender.seal([4], channel: .datagram)[...], channel: .datagram) != nil)
        #expect(throws: KeyringError.self) { try both.remove(2) }
        #expect(throws: KeyringError.self) { try old.use(9) }
    }

    @Test func floodOfForgedSendersNeitherGrowsTheTablesNorEvictsARealPeer() throws {
        let (sender, receiver) = try Self.pair()
        #expect(receiver.open(sender.seal([1], channel: .stream)[...], channel: .stream) != nil)
        let derivedForThePeer = receiver.derivations
        // 10,000 envelopes from distinct forged senders: well-formed headers, garbage ciphertext.
        var random = SplitMix64(seed: 10)
        for index in 0..<10_000 {
            var forged: [UInt8] = [0x53, 0x45, 1, ClusterCipher.Channel.stream.rawValue, 1]
            let forger = 0x1000 + UInt64(index)
            for shift in stride(from: 56, through: 0, by: -8) {
                forged.append(UInt8(truncatingIfNeeded: forger >> UInt64(shift)))
            }
            forged += [0, 0, 0, 0, 0, 0, 0, 1]
            forged += (0..<24).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            #expect(receiver.open(forged[...], channel: .stream) == nil)
        }
        #expect(receiver.rejected[.unauthenticated] == 10_000)
        #expect(receiver.senderTableCounts.keys <= 2 && receiver.senderTableCounts.windows <= 2)
        // The real peer's next frame opens from the cached key: no new derivation for it.
        let before = receiver.derivations
        #expect(receiver.open(sender.seal([2], channel: .stream)[...], channel: .stream) != nil)
        #expect(receiver.derivations == before)
        #expect(before - derivedForThePeer == 10_000)
    }

    @Test func authenticSendersBeyondTheCapEvictTheLeastRecentlyHeard() throws {
        let secret = try Keyring(secret: Self.secret)
        let receiver = ClusterCipher(cluster: "c1", me: Self.b, keyring: secret)
        let peer = ClusterCipher(cluster: "c1", me: Self.a, keyring: secret)
        for index in 0..<(ClusterCipher.maxSenders + 200) {
            let stranger = ClusterCipher(cluster: "c1", me: NodeID(rawValue: 0x10_000 + UInt64(index)), keyring: secret)
            #expect(receiver.open(stranger.seal([1], channel: .datagram)[...], channel: .datagram) != nil)
            // The real peer keeps talking: it stays among the most recently heard.
            if index % 100 == 0 {
                #expect(receiver.open(peer.seal([2], channel: .datagram)[...], channel: .datagram) != nil)
            }
        }
        #expect(receiver.senderTableCounts.keys == ClusterCipher.maxSenders)
        #expect(receiver.senderTableCounts.windows <= 2 * ClusterCipher.maxSenders)
        let before = receiver.derivations
        #expect(receiver.open(peer.seal([3], channel: .datagram)[...], channel: .datagram) != nil)
        #expect(receiver.derivations == before)
    }

    @Test func shortSecretIsRefusedWithAClearMessage() {
        #expect(throws: KeyringError.self) { try Keyring(secret: "too short") }
        do {
            _ = try Keyring(secret: "too short")
        } catch {
            #expect(error.description.contains("at least 32"))
        }
    }
}

extension Array where Element == UInt8 {
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<$0 + needle.count]) == needle }
    }
}

/// Deterministic mutation fuzzing of the envelope opener, the first thing every received byte meets. The rounds run
/// on a thread of their own (`onOwnThread`), not on the cooperative pool the suites with real nodes need.
@Suite struct ClusterCipherFuzzTests {
    @Test func mutatedEnvelopesNeverTrapAndNeverAuthenticate() async throws {
        let (accepted, rejected) = try await onOwnThread { try Self.openMutants() }
        #expect(accepted == 0)
        #expect(rejected == 100_000)
    }

    /// Opens 100,000 mutated envelopes: how many authenticated, how many the receiver counted as rejected.
    static func openMutants() throws -> (accepted: Int, rejected: Int) {
        let sender = ClusterCipher(
            cluster: "c1", me: NodeID(rawValue: 1), keyring: try Keyring(secret: ClusterCipherTests.secret))
        let receiver = ClusterCipher(
            cluster: "c1", me: NodeID(rawValue: 2), keyring: try Keyring(secret: ClusterCipherTests.secret))
        var random = SplitMix64(seed: 2026)
        let samples = (0..<20).map { index in
            sender.seal(
                [UInt8](repeating: UInt8(index), count: index * 13), channel: index % 2 == 0 ? .datagram : .stream)
        }
        var accepted = 0
        for round in 0..<100_000 {
            var bytes = samples[round % samples.count]
            switch random.next() % 4 {
            case 0 where !bytes.isEmpty:
                bytes[Int(random.next() % UInt64(bytes.count))] ^= UInt8(1 + random.next() % 255)
            case 1: bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count))))  // strictly shorter
            case 2:
                bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: Int(random.next() % UInt64(bytes.count + 1)))
            default: bytes = (0..<Int(random.next() % 80)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            }
            if receiver.open(bytes[...], channel: round % 2 == 0 ? .datagram : .stream) != nil { accepted += 1 }
        }
        return (accepted, receiver.rejected.values.reduce(0, +))
    }
}
