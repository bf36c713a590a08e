import CCrypto

#if canImport(Glibc)
    import Glibc
#endif

/// An HMAC-SHA256 key set up once in libcrypto (`EVP_MAC`): each MAC copies the keyed context instead of
/// fetching the digest and hashing the key again — what the one-shot `HMAC()` does on every call.
/// Immutable once made: `authenticate` copies the keyed context, so any thread may call it.
final class HMACKey {
    private let context: OpaquePointer

    /// Nil only if libcrypto cannot set up HMAC-SHA256.
    init?(_ key: [UInt8]) {
        guard let mac = EVP_MAC_fetch(nil, "HMAC", nil) else { return nil }
        defer { EVP_MAC_free(mac) }
        guard let context = EVP_MAC_CTX_new(mac) else { return nil }
        let names = [OSSL_MAC_PARAM_DIGEST, "SHA256"].map { name in name.withCString { strdup($0)! } }
        defer { for name in names { free(name) } }
        var parameters = [OSSL_PARAM_construct_utf8_string(names[0], names[1], 0), OSSL_PARAM_construct_end()]
        guard EVP_MAC_init(context, key, key.count, &parameters) == 1 else {
            EVP_MAC_CTX_free(context)
            return nil
        }
        self.context = context
    }

    deinit { EVP_MAC_CTX_free(context) }

    /// HMAC-SHA256 of `message`: 32 bytes; nil only if libcrypto fails.
    func authenticate(_ message: [UInt8]) -> [UInt8]? {
        guard let copy = EVP_MAC_CTX_dup(context) else { return nil }
        defer { EVP_MAC_CTX_free(copy) }
        var output = [UInt8](repeating: 0, count: 32)
        var length = 0
        guard EVP_MAC_update(copy, message, message.count) == 1, EVP_MAC_final(copy, &output, &length, 32) == 1,
            length == 32
        else { return nil }
        return output
    }
}
