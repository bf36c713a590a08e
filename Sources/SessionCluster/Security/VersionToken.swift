import SessionClusterCore
import Synchronization

/// The client's version token, as handed out with every answer and presented with the next request (e.g. in a
/// cookie). Opaque: the node authenticates it (see `VersionTokenSealer`); a token that does not authenticate
/// for its session is ignored — the request is served as if it had none.
///
/// A token the node hands out is sealed when its `text` is first read: a caller that never reads it (the Redis
/// front end; the snapshot an `update` body gets) costs no MAC.
public struct VersionToken: Hashable, Sendable, CustomStringConvertible {
    private let storage: Storage

    private enum Storage: Sendable {
        case text(String)
        case pending(PendingSeal)
    }

    /// URL-safe base64 text, safe as a cookie value.
    public var text: String {
        switch storage {
        case .text(let text): text
        case .pending(let pending): pending.text
        }
    }

    /// Most characters a token may have (64 writers' entries and the MAC); a longer text is refused.
    public static let maxTextCount =
        (1 + VersionVector.maxTokenPayloadBytes + VersionTokenSealer.macBytes) * 4 / 3 + 3

    /// The token in `text`, as the client presented it; nil when it cannot be a token (empty, too long, not
    /// URL-safe base64). Whether it authenticates is decided by the node.
    public init?(_ text: some StringProtocol) {
        guard !text.isEmpty, text.utf8.count <= Self.maxTextCount,
            text.utf8.allSatisfy({ Base64URL.value(of: $0) != nil })
        else { return nil }
        storage = .text(String(text))
    }

    /// `init?(_:)` on the text's UTF-8 bytes (a cookie value read in place).
    init?(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        guard !bytes.isEmpty, bytes.count <= Self.maxTextCount, bytes.allSatisfy({ Base64URL.value(of: $0) != nil })
        else { return nil }
        storage = .text(String(decoding: bytes, as: UTF8.self))
    }

    init(sealed text: String) { storage = .text(text) }

    init(pending: PendingSeal) { storage = .pending(pending) }

    public var description: String { text }

    /// The version this node handed out for session `id`, when this token is one it made in this process (no
    /// MAC to check: it did not come from a client); nil otherwise.
    func unsealedVersion(for id: SessionID) -> VersionVector? {
        guard case .pending(let pending) = storage, pending.id == id else { return nil }
        return pending.version
    }

    /// Two tokens are equal when their texts are.
    public static func == (lhs: VersionToken, rhs: VersionToken) -> Bool { lhs.text == rhs.text }

    public func hash(into hasher: inout Hasher) { hasher.combine(text) }
}

/// A token to be sealed when first read, once. Holds a copy of the sealer (its keys are shared, immutable
/// objects), so it may be read from any thread, after any key rotation.
final class PendingSeal: Sendable {
    private let sealer: VersionTokenSealer
    let version: VersionVector
    let id: SessionID
    private let sealed = Mutex<String?>(nil)

    init(sealer: VersionTokenSealer, version: VersionVector, id: SessionID) {
        self.sealer = sealer
        self.version = version
        self.id = id
    }

    var text: String {
        sealed.withLock { text in
            if let text { return text }
            let made = sealer.seal(version, for: id).text
            text = made
            return made
        }
    }
}

/// Seals version vectors into tokens and opens them, authenticated. Loop-confined (in `NodeRuntime`), except
/// that a copy, never mutated, seals from any thread (`PendingSeal`): `seal` only reads, and
/// `HMACKey.authenticate` runs its own keyed context under a lock. Each instance makes its own keys (and so its
/// own libcrypto contexts): one per event loop.
///
/// Token: `base64url(key id ‖ payload ‖ MAC)` where payload is `VersionVector.tokenPayload` and
/// `MAC = HMAC-SHA256(K[key id], "SessionCluster token 1" ‖ session id (16 bytes) ‖ key id ‖ payload)`
/// truncated to 12 bytes, `K[id] = HKDF-SHA256(secret[id], salt "SessionCluster/1", info "version-token" ‖ 0 ‖
/// cluster)`. Bound to the session id (route suffix aside): a token of one session means nothing on another.
/// Any key installed in the keyring opens, the current one seals: key rotation does not invalidate tokens
/// until their key is removed (then they are ignored: the client is served from the copy at hand, at worst
/// stale once, as if it had no cookie).
struct VersionTokenSealer: @unchecked Sendable {
    /// MAC bytes kept: 96 bits — forging one is 2^96 work online against a node that counts failures.
    static let macBytes = 12
    private static let salt = Array("SessionCluster/1".utf8)
    private static let label = Array("SessionCluster token 1".utf8)

    private let cluster: [UInt8]
    private var keys: [UInt8: HMACKey] = [:]
    private var current: UInt8 = 1
    /// Tokens ignored because they did not authenticate (unknown key, bad MAC, malformed).
    private(set) var rejected = 0

    init(cluster: String, keyring: Keyring) {
        self.cluster = Array(cluster.utf8)
        install(keyring)
    }

    /// Derives the token keys of every key in `keyring` (key rotation).
    mutating func install(_ keyring: Keyring) {
        keys = [:]
        for id in keyring.ids {
            guard let secret = keyring.secret(id),
                let derived = try? Crypto.hkdf(
                    secret: secret, salt: Self.salt, info: Array("version-token".utf8) + [0] + cluster, count: 32),
                let key = HMACKey(derived)
            else { continue }
            keys[id] = key
        }
        current = keyring.current
    }

    /// The token for `version` of session `id`, sealed when its text is first read.
    func sealLater(_ version: VersionVector, for id: SessionID) -> VersionToken {
        VersionToken(pending: PendingSeal(sealer: self, version: version, id: id))
    }

    /// The token for `version` of session `id`.
    func seal(_ version: VersionVector, for id: SessionID) -> VersionToken {
        var bytes = version.tokenPayload(afterByte: current, reserving: Self.macBytes)
        guard let key = keys[current], let mac = mac(bytes[...], id: id, key: key) else {
            // libcrypto failed: a token that will not authenticate costs the client at most one stale read.
            return VersionToken(sealed: "")
        }
        bytes += mac[..<Self.macBytes]
        return VersionToken(sealed: TokenBase64.encode(bytes))
    }

    /// The version `token` names for session `id`; nil (counted) when it does not authenticate.
    mutating func open(_ token: VersionToken, for id: SessionID) -> VersionVector? {
        guard let bytes = TokenBase64.decode(token.text), bytes.count > 1 + Self.macBytes, let key = keys[bytes[0]]
        else { return reject() }
        let signed = bytes[..<(bytes.count - Self.macBytes)]
        guard let expected = mac(signed, id: id, key: key),
            Self.constantTimeEqual(expected[..<Self.macBytes], bytes[(bytes.count - Self.macBytes)...]),
            let version = VersionVector(tokenPayload: signed.dropFirst())
        else { return reject() }
        return version
    }

    /// The full HMAC (32 bytes; the token keeps the first `macBytes`) of `label ‖ session id ‖ signed`.
    private func mac(_ signed: ArraySlice<UInt8>, id: SessionID, key: HMACKey) -> [UInt8]? {
        withUnsafeBytes(of: (id.high.bigEndian, id.low.bigEndian)) { idBytes in
            Self.label.withUnsafeBytes { label in key.authenticate(label, idBytes, signed) }
        }
    }

    private mutating func reject() -> VersionVector? {
        rejected += 1
        return nil
    }

    /// Compares without an early exit, so timing does not reveal how much of a guessed MAC was right.
    private static func constantTimeEqual(_ lhs: ArraySlice<UInt8>, _ rhs: ArraySlice<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(lhs, rhs) { difference |= left ^ right }
        return difference == 0
    }
}
