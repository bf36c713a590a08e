import SessionClusterCore

/// The client's version token, as handed out with every answer and presented with the next request (e.g. in a
/// cookie). Opaque: the node authenticates it (see `VersionTokenSealer`); a token that does not authenticate
/// for its session is ignored — the request is served as if it had none.
public struct VersionToken: Hashable, Sendable, CustomStringConvertible {
    /// URL-safe base64 text, safe as a cookie value.
    public let text: String

    /// Most characters a token may have (64 writers' entries and the MAC); a longer text is refused.
    public static let maxTextCount =
        (1 + VersionVector.maxTokenPayloadBytes + VersionTokenSealer.macBytes) * 4 / 3 + 3

    /// The token in `text`, as the client presented it; nil when it cannot be a token (empty, too long, not
    /// URL-safe base64). Whether it authenticates is decided by the node.
    public init?(_ text: some StringProtocol) {
        guard !text.isEmpty, text.utf8.count <= Self.maxTextCount,
            text.utf8.allSatisfy({ Base64URL.value(of: $0) != nil })
        else { return nil }
        self.text = String(text)
    }

    init(sealed text: String) { self.text = text }

    public var description: String { text }
}

/// Seals version vectors into tokens and opens them, authenticated. Loop-confined (in `NodeRuntime`).
///
/// Token: `base64url(key id ‖ payload ‖ MAC)` where payload is `VersionVector.tokenPayload` and
/// `MAC = HMAC-SHA256(K[key id], "SessionCluster token 1" ‖ session id (16 bytes) ‖ key id ‖ payload)`
/// truncated to 12 bytes, `K[id] = HKDF-SHA256(secret[id], salt "SessionCluster/1", info "version-token" ‖ 0 ‖
/// cluster)`. Bound to the session id (route suffix aside): a token of one session means nothing on another.
/// Any key installed in the keyring opens, the current one seals: key rotation does not invalidate tokens
/// until their key is removed (then they are ignored: the client is served from the copy at hand, at worst
/// stale once, as if it had no cookie).
struct VersionTokenSealer {
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

    /// The token for `version` of session `id`.
    func seal(_ version: VersionVector, for id: SessionID) -> VersionToken {
        var bytes = [current] + version.tokenPayload
        guard let key = keys[current], let mac = mac(bytes[...], id: id, key: key) else {
            // libcrypto failed: a token that will not authenticate costs the client at most one stale read.
            return VersionToken(sealed: "")
        }
        bytes += mac
        return VersionToken(sealed: Base64URL.encode(bytes))
    }

    /// The version `token` names for session `id`; nil (counted) when it does not authenticate.
    mutating func open(_ token: VersionToken, for id: SessionID) -> VersionVector? {
        guard let bytes = Base64URL.decode(token.text), bytes.count > 1 + Self.macBytes, let key = keys[bytes[0]]
        else { return reject() }
        let signed = bytes[..<(bytes.count - Self.macBytes)]
        guard let expected = mac(signed, id: id, key: key),
            Self.constantTimeEqual(expected, bytes[(bytes.count - Self.macBytes)...]),
            let version = VersionVector(tokenPayload: signed.dropFirst())
        else { return reject() }
        return version
    }

    private func mac(_ signed: ArraySlice<UInt8>, id: SessionID, key: HMACKey) -> [UInt8]? {
        key.authenticate(Self.label + id.bytes + signed).map { Array($0.prefix(Self.macBytes)) }
    }

    private mutating func reject() -> VersionVector? {
        rejected += 1
        return nil
    }

    /// Compares without an early exit, so timing does not reveal how much of a guessed MAC was right.
    private static func constantTimeEqual(_ lhs: [UInt8], _ rhs: ArraySlice<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(lhs, rhs) { difference |= left ^ right }
        return difference == 0
    }
}
