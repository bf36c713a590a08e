import CCrypto

#if canImport(Glibc)
    import Glibc
#endif

/// A failure of the system crypto library (not of authentication: that is `open` returning nil).
package struct CryptoError: Error, Equatable, CustomStringConvertible {
    package let operation: String
    package var description: String { "libcrypto \(operation) failed" }
}

/// AES-256-GCM and HKDF-SHA256 from the system's libcrypto. Keys are 32 bytes, nonces 12, tags 16.
enum Crypto {
    static let keyBytes = 32
    static let nonceBytes = 12
    static let tagBytes = 16

    /// Encrypts `plaintext` and appends the 16-byte tag. `nonce` MUST never repeat under `key`.
    static func seal(key: [UInt8], nonce: [UInt8], plaintext: [UInt8], aad: [UInt8]) throws(CryptoError) -> [UInt8] {
        var sealed = plaintext
        sealed.reserveCapacity(plaintext.count + tagBytes)
        try sealInPlace(key: key, nonce: nonce, &sealed, from: 0, aad: aad)
        return sealed
    }

    /// Encrypts `buffer[from...]` in place and appends the 16-byte tag: `seal` without copying the plaintext (the
    /// append log seals a whole batch in the buffer it was encoded into). `nonce` MUST never repeat under `key`.
    static func sealInPlace(
        key: [UInt8], nonce: [UInt8], _ buffer: inout [UInt8], from start: Int, aad: [UInt8]
    ) throws(CryptoError) {
        precondition(key.count == keyBytes && nonce.count == nonceBytes && start <= buffer.count)
        guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError(operation: "EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        let plaintextCount = buffer.count - start
        buffer.append(contentsOf: repeatElement(0, count: tagBytes))
        var length: Int32 = 0
        guard EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, key, nonce) == 1 else {
            throw CryptoError(operation: "EVP_EncryptInit_ex")
        }
        if !aad.isEmpty {
            guard EVP_EncryptUpdate(context, nil, &length, aad, Int32(aad.count)) == 1 else {
                throw CryptoError(operation: "EVP_EncryptUpdate(aad)")
            }
        }
        let ok = buffer.withUnsafeMutableBufferPointer { all -> Bool in
            let text = all.baseAddress! + start
            var written: Int32 = 0
            // GCM is a stream mode: libcrypto encrypts with input and output the same bytes.
            if plaintextCount > 0 {
                guard EVP_EncryptUpdate(context, text, &written, text, Int32(plaintextCount)) == 1 else { return false }
            }
            var final: Int32 = 0
            guard EVP_EncryptFinal_ex(context, text + Int(written), &final) == 1 else { return false }
            return EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(tagBytes), text + plaintextCount) == 1
        }
        guard ok else {
            buffer.removeSubrange(start...)
            throw CryptoError(operation: "EVP_Encrypt")
        }
    }

    /// Decrypts `sealed` (ciphertext ‖ tag); nil when it does not authenticate under `key`, `nonce`, `aad`.
    static func open(key: [UInt8], nonce: [UInt8], sealed: ArraySlice<UInt8>, aad: [UInt8]) -> [UInt8]? {
        guard key.count == keyBytes, nonce.count == nonceBytes, sealed.count >= tagBytes,
            let context = EVP_CIPHER_CTX_new()
        else { return nil }
        defer { EVP_CIPHER_CTX_free(context) }
        let cipherCount = sealed.count - tagBytes
        var output = [UInt8](repeating: 0, count: max(1, cipherCount))
        var length: Int32 = 0
        guard EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, key, nonce) == 1 else { return nil }
        if !aad.isEmpty, EVP_DecryptUpdate(context, nil, &length, aad, Int32(aad.count)) != 1 { return nil }
        let ok = sealed.withUnsafeBufferPointer { input -> Bool in
            output.withUnsafeMutableBufferPointer { out -> Bool in
                var written: Int32 = 0
                if cipherCount > 0 {
                    guard
                        EVP_DecryptUpdate(context, out.baseAddress, &written, input.baseAddress, Int32(cipherCount))
                            == 1
                    else { return false }
                }
                var tag = Array(input[cipherCount...])
                guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(tagBytes), &tag) == 1 else {
                    return false
                }
                var final: Int32 = 0
                return EVP_DecryptFinal_ex(context, out.baseAddress! + Int(written), &final) == 1
            }
        }
        guard ok else { return nil }
        return Array(output.prefix(cipherCount))
    }

    /// HKDF-SHA256 (RFC 5869) of `count` bytes.
    static func hkdf(secret: [UInt8], salt: [UInt8], info: [UInt8], count: Int) throws(CryptoError) -> [UInt8] {
        guard let kdf = EVP_KDF_fetch(nil, "HKDF", nil) else { throw CryptoError(operation: "EVP_KDF_fetch(HKDF)") }
        defer { EVP_KDF_free(kdf) }
        guard let context = EVP_KDF_CTX_new(kdf) else { throw CryptoError(operation: "EVP_KDF_CTX_new") }
        defer { EVP_KDF_CTX_free(context) }
        var output = [UInt8](repeating: 0, count: count)
        var secret = secret
        var salt = salt
        var info = info
        // OSSL_PARAM keeps pointers to the names and values: they need storage that outlives the derive call.
        let names = [OSSL_KDF_PARAM_DIGEST, OSSL_KDF_PARAM_KEY, OSSL_KDF_PARAM_SALT, OSSL_KDF_PARAM_INFO, "SHA256"]
            .map { name in name.withCString { strdup($0)! } }
        defer { for name in names { free(name) } }
        let result = secret.withUnsafeMutableBytes { secretBytes in
            salt.withUnsafeMutableBytes { saltBytes in
                info.withUnsafeMutableBytes { infoBytes in
                    var parameters = [
                        OSSL_PARAM_construct_utf8_string(names[0], names[4], 0),
                        OSSL_PARAM_construct_octet_string(names[1], secretBytes.baseAddress, secretBytes.count),
                        OSSL_PARAM_construct_octet_string(names[2], saltBytes.baseAddress, saltBytes.count),
                        OSSL_PARAM_construct_octet_string(names[3], infoBytes.baseAddress, infoBytes.count),
                        OSSL_PARAM_construct_end(),
                    ]
                    return EVP_KDF_derive(context, &output, count, &parameters)
                }
            }
        }
        guard result == 1 else { throw CryptoError(operation: "EVP_KDF_derive") }
        return output
    }
}

/// AES-256-GCM with libcrypto's set-up done once: the cipher fetched and one encryption and one decryption
/// context made when the owner is made, then only re-keyed (when the key differs from the last call's) and given
/// the nonce per message — instead of a new context and an implicit cipher fetch for every message.
///
/// Not thread-safe: each owner (a `ClusterCipher`, confined to its event loop) holds its own. Never share one
/// between threads, never make one global.
final class GCMContext {
    private let cipher: OpaquePointer
    private let encryptor: OpaquePointer
    private let decryptor: OpaquePointer
    /// The key each context holds; empty when none (or after a failure: the next call sets it up afresh).
    private var encryptKey: [UInt8] = []
    private var decryptKey: [UInt8] = []
    /// Whether each context has the cipher set (it is given once).
    private var encryptStarted = false
    private var decryptStarted = false

    /// Fetches AES-256-GCM and makes both contexts.
    init() throws(CryptoError) {
        guard let cipher = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil) else {
            throw CryptoError(operation: "EVP_CIPHER_fetch(AES-256-GCM)")
        }
        guard let encryptor = EVP_CIPHER_CTX_new() else {
            EVP_CIPHER_free(cipher)
            throw CryptoError(operation: "EVP_CIPHER_CTX_new")
        }
        guard let decryptor = EVP_CIPHER_CTX_new() else {
            EVP_CIPHER_CTX_free(encryptor)
            EVP_CIPHER_free(cipher)
            throw CryptoError(operation: "EVP_CIPHER_CTX_new")
        }
        self.cipher = cipher
        self.encryptor = encryptor
        self.decryptor = decryptor
    }

    deinit {
        EVP_CIPHER_CTX_free(encryptor)
        EVP_CIPHER_CTX_free(decryptor)
        EVP_CIPHER_free(cipher)
    }

    /// `Crypto.sealInPlace`: encrypts `buffer[from...]` in place and appends the 16-byte tag. The associated data
    /// is the bytes before `start` (an envelope's header), then `moreAAD`. `nonce` MUST never repeat under `key`.
    func seal(
        key: [UInt8], nonce: [UInt8], _ buffer: inout [UInt8], from start: Int, moreAAD: [UInt8] = []
    ) throws(CryptoError) {
        precondition(key.count == Crypto.keyBytes && nonce.count == Crypto.nonceBytes && start <= buffer.count)
        let plaintextCount = buffer.count - start
        buffer.append(contentsOf: repeatElement(0, count: Crypto.tagBytes))
        let context = encryptor
        let ok = buffer.withUnsafeMutableBufferPointer { all -> Bool in
            guard begin(context, encrypting: true, key: key, nonce: nonce),
                Self.addAAD(context, encrypting: true, UnsafeBufferPointer(start: all.baseAddress, count: start)),
                Self.addAAD(context, encrypting: true, moreAAD)
            else { return false }
            let text = all.baseAddress! + start
            var written: Int32 = 0
            // GCM is a stream mode: libcrypto encrypts with input and output the same bytes.
            if plaintextCount > 0 {
                guard EVP_EncryptUpdate(context, text, &written, text, Int32(plaintextCount)) == 1 else { return false }
            }
            var final: Int32 = 0
            guard EVP_EncryptFinal_ex(context, text + Int(written), &final) == 1 else { return false }
            return EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(Crypto.tagBytes), text + plaintextCount)
                == 1
        }
        guard ok else {
            encryptKey = []
            buffer.removeSubrange(start...)
            throw CryptoError(operation: "EVP_Encrypt")
        }
    }

    /// `Crypto.open`: decrypts `sealed` (ciphertext ‖ tag); nil when it does not authenticate under `key`,
    /// `nonce` and the associated data `aad ‖ moreAAD`.
    func open(
        key: [UInt8], nonce: [UInt8], sealed: ArraySlice<UInt8>, aad: ArraySlice<UInt8>, moreAAD: [UInt8] = []
    ) -> [UInt8]? {
        guard key.count == Crypto.keyBytes, nonce.count == Crypto.nonceBytes, sealed.count >= Crypto.tagBytes else {
            return nil
        }
        let context = decryptor
        let cipherCount = sealed.count - Crypto.tagBytes
        var output = [UInt8](repeating: 0, count: max(1, cipherCount))
        let ok = sealed.withUnsafeBufferPointer { input -> Bool in
            output.withUnsafeMutableBufferPointer { out -> Bool in
                guard begin(context, encrypting: false, key: key, nonce: nonce),
                    aad.withUnsafeBufferPointer({ Self.addAAD(context, encrypting: false, $0) }),
                    Self.addAAD(context, encrypting: false, moreAAD)
                else { return false }
                var written: Int32 = 0
                if cipherCount > 0 {
                    guard
                        EVP_DecryptUpdate(context, out.baseAddress, &written, input.baseAddress, Int32(cipherCount))
                            == 1
                    else { return false }
                }
                // SET_TAG copies the tag: the pointer is only read.
                let tag = UnsafeMutableRawPointer(mutating: input.baseAddress! + cipherCount)
                guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(Crypto.tagBytes), tag) == 1 else {
                    return false
                }
                var final: Int32 = 0
                return EVP_DecryptFinal_ex(context, out.baseAddress! + Int(written), &final) == 1
            }
        }
        guard ok else {
            // A forged or damaged message: set the context up from scratch next time, whatever state it is in.
            decryptKey = []
            return nil
        }
        output.removeLast(output.count - cipherCount)
        return output
    }

    /// Starts a message: the cipher on first use, the key when it differs from the last message's, the nonce
    /// always (libcrypto keeps the key schedule when only a nonce is given).
    private func begin(_ context: OpaquePointer, encrypting: Bool, key: [UInt8], nonce: [UInt8]) -> Bool {
        let current = encrypting ? encryptKey : decryptKey
        let rekey = current != key
        let first = encrypting ? !encryptStarted : !decryptStarted
        let result = key.withUnsafeBufferPointer { keyBytes in
            nonce.withUnsafeBufferPointer { nonceBytes in
                let keyPointer = rekey ? keyBytes.baseAddress : nil
                let cipherPointer = first ? cipher : nil
                return encrypting
                    ? EVP_EncryptInit_ex(context, cipherPointer, nil, keyPointer, nonceBytes.baseAddress)
                    : EVP_DecryptInit_ex(context, cipherPointer, nil, keyPointer, nonceBytes.baseAddress)
            }
        }
        if encrypting {
            encryptStarted = encryptStarted || result == 1
            encryptKey = result == 1 ? key : []
        } else {
            decryptStarted = decryptStarted || result == 1
            decryptKey = result == 1 ? key : []
        }
        return result == 1
    }

    private static func addAAD(_ context: OpaquePointer, encrypting: Bool, _ aad: [UInt8]) -> Bool {
        aad.withUnsafeBufferPointer { addAAD(context, encrypting: encrypting, $0) }
    }

    private static func addAAD(_ context: OpaquePointer, encrypting: Bool, _ aad: UnsafeBufferPointer<UInt8>) -> Bool {
        guard aad.count > 0 else { return true }
        var length: Int32 = 0
        return encrypting
            ? EVP_EncryptUpdate(context, nil, &length, aad.baseAddress, Int32(aad.count)) == 1
            : EVP_DecryptUpdate(context, nil, &length, aad.baseAddress, Int32(aad.count)) == 1
    }
}
