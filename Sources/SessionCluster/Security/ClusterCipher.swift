import SessionClusterCore

#if canImport(Glibc)
    import Glibc
#endif

/// Seals every datagram and frame a node sends, and opens (authenticates, decrypts, de-duplicates) what it
/// receives — before any other parsing. Loop-confined.
///
/// Envelope: `"SE" ‖ version 1 ‖ channel ‖ key id ‖ sender id (8) ‖ counter (8) ‖ AES-256-GCM(ciphertext ‖ tag)`.
/// - Key: `HKDF-SHA256(secret[key id], salt "SessionCluster/1", info: cluster ‖ key id ‖ sender id)` — every
///   sender (incarnation) has its own key, so its nonce, `channel ‖ 0 0 0 ‖ counter`, never repeats under one key.
///   A node served by several loops seals on each with a cipher of its own: shard k's counters start at k · 2⁴⁸,
///   so the shards of one sender never share a counter (2⁴⁸ envelopes each, per channel).
/// - Associated data: the envelope header and the cluster name: another cluster's traffic never authenticates.
/// - Replay: stream frames strictly increasing per sender and shard (the counter's top 16 bits). A datagram's
///   counter carries its send time: below the shard bits, milliseconds since 2024-01-01 (41 bits, until 2093) and 7
///   bits counting within the millisecond (a 129th datagram in one ms borrows the next). Datagrams are accepted
///   each once, in any order, among the last 128 a sender's shard had accepted — and only while their send time
///   is within `maxDatagramAgeMillis` of the receiver's clock, either way. Without the time, a recording of a
///   node that no longer runs, replayed to a node that never heard it (one restarted since), showed the gone node
///   as a member; now a recording is good for that long at most. The bound allows for clocks that disagree
///   (`maxClockDriftMillis`).
/// - Tables per sender (derived keys, replay windows) hold only senders whose envelope authenticated, at most
///   `maxSenders` each, least recently heard evicted first: forged sender ids cost a key derivation each but
///   never grow a table nor push a real peer's entry out.
final class ClusterCipher {
    enum Channel: UInt8 {
        case datagram = 1
        case stream = 2
    }

    /// Why an envelope was dropped (counted, exported in metrics).
    enum Rejection: String, CaseIterable {
        case malformed, unknownKey, unauthenticated, replayed
        /// A datagram sent longer ago than `maxDatagramAgeMillis`, or dated further ahead than that (by its
        /// counter's time and this node's clock).
        case stale
    }

    static let headerBytes = 21
    static let overhead = headerBytes + Crypto.tagBytes
    private static let salt = Array("SessionCluster/1".utf8)

    private let cluster: [UInt8]
    private let me: NodeID
    private(set) var keyring: Keyring
    private var counters: [Channel: UInt64] = [.datagram: 0, .stream: 0]
    /// The shard's counter bits (`shard << 48`).
    private let shardBits: UInt64
    /// Datagrams sent longer ago than this (ms) are dropped as stale.
    let maxDatagramAgeMillis: Int64
    /// Unix time in ms (the wall clock; a test's own).
    private let clock: @Sendable () -> Int64
    /// The latest stale datagram's sender and age (ms; negative: dated ahead of this node's clock), for the shell
    /// to log.
    private(set) var lastStale: (sender: NodeID, ageMillis: Int64)?
    /// Keys of senders that authenticated (and our own).
    private var senderKeys: RecentTable<KeyName, [UInt8]>
    private var windows: RecentTable<WindowName, ReplayWindow>
    /// This instance's AES-GCM contexts, set up once (loop-confined like the instance); nil only if libcrypto
    /// cannot make them, and then nothing is sealed or opened.
    private let gcm = try? GCMContext()
    /// The nonce of the message being sealed or opened, rewritten in place for each.
    private var nonce = [UInt8](repeating: 0, count: Crypto.nonceBytes)
    private(set) var rejected: [Rejection: Int] = [:]
    private(set) var opened = 0
    /// HKDF derivations done (diagnostics: a cached sender costs none).
    private(set) var derivations = 0
    /// Most senders (incarnations) whose keys and replay windows are kept. Far above any cluster's members
    /// times their restarts within the time an entry stays useful.
    static let maxSenders = 1_024

    /// Entries in the per-sender tables (keys, replay windows), for tests of their bounds.
    var senderTableCounts: (keys: Int, windows: Int) { (senderKeys.count, windows.count) }

    private struct KeyName: Hashable {
        var key: UInt8
        var sender: NodeID
    }

    private struct WindowName: Hashable {
        var sender: NodeID
        var channel: Channel
        /// The sending shard (`counter >> 48`): each of a sender's shards counts on its own.
        var shard: UInt64
    }

    /// The cipher of shard `shard` (of a node served by several loops) of node `me`.
    init(
        cluster: String, me: NodeID, keyring: Keyring, shard: Int = 0, maxDatagramAgeMillis: Int64 = 70_000,
        clock: @escaping @Sendable () -> Int64 = ClusterCipher.wallMillis
    ) {
        self.cluster = Array(cluster.utf8)
        self.me = me
        self.keyring = keyring
        self.maxDatagramAgeMillis = maxDatagramAgeMillis
        self.clock = clock
        let base = UInt64(shard) << 48
        shardBits = base
        counters = [.datagram: base, .stream: base]
        senderKeys = RecentTable(capacity: Self.maxSenders)
        windows = RecentTable(capacity: 2 * Self.maxSenders)
    }

    /// Replaces the keyring (key rotation): new keys decrypt at once, sealing uses its current key.
    func install(_ keyring: Keyring) {
        self.keyring = keyring
        senderKeys.removeAll()
    }

    /// The key of `sender` under key `id`: cached, or derived (then the caller caches it once it authenticated).
    private func key(_ id: UInt8, sender: NodeID) -> (key: [UInt8], cached: Bool)? {
        let name = KeyName(key: id, sender: sender)
        if let cached = senderKeys.use(name) { return (cached, true) }
        guard let secret = keyring.secret(id) else { return nil }
        var info = cluster
        info.append(id)
        for shift in stride(from: 56, through: 0, by: -8) {
            info.append(UInt8(truncatingIfNeeded: sender.rawValue >> UInt64(shift)))
        }
        guard let derived = try? Crypto.hkdf(secret: secret, salt: Self.salt, info: info, count: Crypto.keyBytes) else {
            return nil
        }
        derivations += 1
        return (derived, false)
    }

    /// Writes `channel ‖ 0 0 0 ‖ counter` into `nonce`.
    private func setNonce(_ channel: Channel, _ counter: UInt64) {
        nonce[0] = channel.rawValue
        for index in 0..<8 { nonce[4 + index] = UInt8(truncatingIfNeeded: counter >> UInt64(56 - 8 * index)) }
    }

    /// Unix time in ms from the system's wall clock.
    @Sendable static func wallMillis() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// The low 48 bits of a counter: the shard's own count.
    private static let countBits: UInt64 = 1 << 48 - 1

    /// A datagram counter's send time (Unix ms).
    static func sentMillis(ofDatagram counter: UInt64) -> Int64 {
        Int64((counter & countBits) >> 7) + NodeID.epochMillis
    }

    /// Encrypts `plaintext` for `channel`.
    func seal(_ plaintext: [UInt8], channel: Channel) -> [UInt8] {
        var counter = counters[channel, default: 0] + 1
        if channel == .datagram {
            // The send time, unless an earlier datagram already used it (or the clock stepped back): then the next.
            let sent = UInt64(max(0, clock() - NodeID.epochMillis)) << 7 & Self.countBits
            counter = max(counter, shardBits | sent)
        }
        counters[channel] = counter
        let id = keyring.current
        var sealed: [UInt8] = []
        sealed.reserveCapacity(Self.headerBytes + plaintext.count + Crypto.tagBytes)
        sealed.append(contentsOf: [0x53, 0x45, 1, channel.rawValue, id])
        withUnsafeBytes(of: me.rawValue.bigEndian) { sealed.append(contentsOf: $0) }
        withUnsafeBytes(of: counter.bigEndian) { sealed.append(contentsOf: $0) }
        sealed += plaintext
        setNonce(channel, counter)
        guard let gcm, let (key, cached) = key(id, sender: me),
            (try? gcm.seal(key: key, nonce: nonce, &sealed, from: Self.headerBytes, moreAAD: cluster)) != nil
        else {
            // libcrypto failing to encrypt is not recoverable in a meaningful way: send nothing.
            return []
        }
        if !cached { senderKeys.set(KeyName(key: id, sender: me), key) }
        return sealed
    }

    /// Authenticates and decrypts one envelope; nil (counted by reason) for anything else.
    func open(_ envelope: ArraySlice<UInt8>, channel: Channel) -> (sender: NodeID, plaintext: [UInt8])? {
        guard envelope.count >= Self.overhead else { return reject(.malformed) }
        let start = envelope.startIndex
        guard envelope[start] == 0x53, envelope[start + 1] == 0x45, envelope[start + 2] == 1,
            envelope[start + 3] == channel.rawValue
        else { return reject(.malformed) }
        let id = envelope[start + 4]
        var sender: UInt64 = 0
        var counter: UInt64 = 0
        for index in 0..<8 { sender = sender << 8 | UInt64(envelope[start + 5 + index]) }
        for index in 0..<8 { counter = counter << 8 | UInt64(envelope[start + 13 + index]) }
        let senderID = NodeID(rawValue: sender)
        guard let (key, cached) = key(id, sender: senderID) else { return reject(.unknownKey) }
        setNonce(channel, counter)
        guard
            let plaintext = gcm?.open(
                key: key, nonce: nonce, sealed: envelope[(start + Self.headerBytes)...],
                aad: envelope[start..<start + Self.headerBytes], moreAAD: cluster)
        else { return reject(.unauthenticated) }
        // Only authentic envelopes touch the per-sender tables: a forger can neither advance a window nor fill
        // a table. (An evicted window is the least recently heard sender's: a past incarnation, normally.)
        if !cached { senderKeys.set(KeyName(key: id, sender: senderID), key) }
        if channel == .datagram {
            // Too old, or dated too far ahead: a bound one way only would let a node whose clock runs ahead hear
            // nobody while everyone hears it (and keep its recordings replayable for as long as it is ahead).
            let age = clock() &- Self.sentMillis(ofDatagram: counter)
            if age > maxDatagramAgeMillis || age < -maxDatagramAgeMillis {
                lastStale = (senderID, age)
                return reject(.stale)
            }
        }
        let name = WindowName(sender: senderID, channel: channel, shard: counter >> 48)
        var window = windows.use(name) ?? ReplayWindow(strict: channel == .stream)
        guard window.accept(counter) else { return reject(.replayed) }
        windows.set(name, window)
        opened += 1
        return (senderID, plaintext)
    }

    private func reject<T>(_ reason: Rejection) -> T? {
        rejected[reason, default: 0] += 1
        return nil
    }
}

/// Remembers which counters of one sender (and channel and shard) were accepted: each at most once.
/// - Strict (streams, in order): only a counter above the highest accepted.
/// - Otherwise (datagrams, in any order): one not accepted yet, above the lowest of the last `kept` accepted once
///   that many were. A datagram's counter moves 128 per millisecond (it carries its send time), so a window of
///   counters would take datagrams reordered by only 2 ms for old ones; the last 128 accepted cover seconds of a
///   sender's membership traffic.
struct ReplayWindow {
    static let kept = 128
    let strict: Bool
    /// Strict: the highest accepted. Otherwise the last `kept` accepted, ascending.
    private var highest: UInt64 = 0
    private var recent: [UInt64] = []

    init(strict: Bool) { self.strict = strict }

    mutating func accept(_ counter: UInt64) -> Bool {
        guard counter > 0 else { return false }
        if strict {
            guard counter > highest else { return false }
            highest = counter
            return true
        }
        if recent.count == Self.kept, counter <= recent[0] { return false }
        // Where `counter` goes in ascending order (usually the end: datagrams mostly arrive in order).
        var low = 0
        var high = recent.count
        while low < high {
            let middle = (low + high) / 2
            if recent[middle] < counter { low = middle + 1 } else { high = middle }
        }
        if low < recent.count, recent[low] == counter { return false }
        recent.insert(counter, at: low)
        if recent.count > Self.kept { recent.removeFirst() }
        return true
    }
}

/// The cluster's shared secrets by key id. The current key seals; every installed key opens — so a new key can be
/// installed everywhere first, then made current, then the old one removed, without downtime (memberlist's way).
public struct Keyring: Sendable, Equatable {
    private var secrets: [UInt8: [UInt8]]
    /// The key id used to seal.
    public private(set) var current: UInt8

    /// A keyring with one secret (key id 1). The secret MUST be at least 32 bytes.
    public init(secret: String) throws(KeyringError) {
        try Self.check(secret)
        secrets = [1: Array(secret.utf8)]
        current = 1
    }

    /// Installs `secret` under `id` (it opens messages at once).
    public mutating func install(_ secret: String, id: UInt8) throws(KeyringError) {
        try Self.check(secret)
        secrets[id] = Array(secret.utf8)
    }

    /// Makes `id` the sealing key.
    public mutating func use(_ id: UInt8) throws(KeyringError) {
        guard secrets[id] != nil else { throw KeyringError(problem: "key \(id) is not installed") }
        current = id
    }

    /// Removes key `id` (never the current one).
    public mutating func remove(_ id: UInt8) throws(KeyringError) {
        guard id != current else { throw KeyringError(problem: "key \(id) is the current key; switch first") }
        secrets[id] = nil
    }

    /// Installed key ids.
    public var ids: [UInt8] { secrets.keys.sorted() }

    func secret(_ id: UInt8) -> [UInt8]? { secrets[id] }

    private static func check(_ secret: String) throws(KeyringError) {
        guard secret.utf8.count >= 32 else {
            throw KeyringError(
                problem: "the cluster secret has \(secret.utf8.count) bytes; at least 32 are required "
                    + "(it keys AES-256-GCM for all cluster traffic)")
        }
    }
}

/// A keyring operation that cannot be done.
public struct KeyringError: Error, Equatable, CustomStringConvertible {
    /// What is wrong, e.g. `key 3 is not installed`.
    public let problem: String
    public var description: String { problem }
}
