import CCrypto
import SessionClusterCore

extension SessionID {
    /// The session that holds a named key (the RESP front end: a Redis key is a session): the first 128 bits of
    /// SHA-256 over a domain tag, the database number and the key's bytes. Every node derives the same id, so a key
    /// written on any node lands in one session cluster-wide. A key's id cannot be turned back into its name, and
    /// no key can be chosen to hit a given random session id: a key's id has the top bit set (`isKeyID`), a
    /// random one (`ClusterNode.create`) has it clear, so the two never meet, and the HTTP front end refuses
    /// cookies naming a key's session.
    public init(forKey key: [UInt8], database: Int = 0) {
        var message = Array("SessionCluster/key/1\u{0}".utf8)
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: database).bigEndian) { message += $0 }
        message += key
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = EVP_Digest(message, message.count, &digest, &length, EVP_sha256(), nil)
        // libcrypto's SHA-256 does not fail on memory it was given; a failure here is a broken installation.
        precondition(ok == 1 && length == 32, "libcrypto SHA-256 failed")
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<8 {
            high = high << 8 | UInt64(digest[index])
            low = low << 8 | UInt64(digest[index + 8])
        }
        self.init(high: high | Self.keyBit, low: low)
    }

    /// Whether this is the id of a named key (`init(forKey:)`), not of a random session.
    public var isKeyID: Bool { high & Self.keyBit != 0 }

    /// A fresh random session id from the system CSPRNG: 127 random bits, the key bit clear.
    public static func random() -> SessionID {
        var generator = SystemRandomNumberGenerator()
        let id = SessionID(using: &generator)
        return SessionID(high: id.high & ~keyBit, low: id.low)
    }

    private static let keyBit: UInt64 = 1 << 63
}
