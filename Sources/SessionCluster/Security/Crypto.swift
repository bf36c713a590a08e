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
