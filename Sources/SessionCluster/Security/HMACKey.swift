import CCrypto
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An HMAC-SHA256 key set up once in libcrypto (`EVP_MAC`): each MAC re-initialises the one keyed context this
/// key owns (libcrypto restores the keyed state: no allocation, no digest fetch, no key hashing) instead of what
/// the one-shot `HMAC()` does on every call, or a copy of a keyed context per call.
///
/// The context belongs to this instance (each `VersionTokenSealer` makes its own keys: one per event loop), never
/// to a global. It is guarded by a lock all the same, because a token sealed later (`PendingSeal`) may be read on
/// any thread: uncontended, as it is on the loop, the lock costs far less than a context copy.
final class HMACKey: Sendable {
    /// The libcrypto context, keyed; used only under the lock.
    private struct Context: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private let context: Mutex<Context>

    /// MAC bytes: HMAC-SHA256 gives 32.
    static let macBytes = 32

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
        self.context = Mutex(Context(pointer: context))
    }

    deinit { context.withLock { EVP_MAC_CTX_free($0.pointer) } }

    /// HMAC-SHA256 of `message`: 32 bytes; nil only if libcrypto fails.
    func authenticate(_ message: [UInt8]) -> [UInt8]? {
        message.withUnsafeBytes { authenticate($0, UnsafeRawBufferPointer(start: nil, count: 0), []) }
    }

    /// HMAC-SHA256 of `first ‖ second ‖ third` (fed in pieces: the message is never copied together): 32 bytes;
    /// nil only if libcrypto fails.
    func authenticate(
        _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, _ third: ArraySlice<UInt8>
    ) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: Self.macBytes)
        let ok = context.withLock { context -> Bool in
            let context = context.pointer
            // A nil key re-initialises with the key already set.
            guard EVP_MAC_init(context, nil, 0, nil) == 1 else { return false }
            func update(_ part: UnsafeRawBufferPointer) -> Bool {
                part.count == 0
                    || EVP_MAC_update(context, part.baseAddress!.assumingMemoryBound(to: UInt8.self), part.count) == 1
            }
            guard update(first), update(second) else { return false }
            let thirdOK = third.withUnsafeBufferPointer { bytes in
                bytes.isEmpty || EVP_MAC_update(context, bytes.baseAddress, bytes.count) == 1
            }
            var length = 0
            return thirdOK && EVP_MAC_final(context, &output, &length, Self.macBytes) == 1 && length == Self.macBytes
        }
        return ok ? output : nil
    }
}
