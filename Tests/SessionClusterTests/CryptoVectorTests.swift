import Testing

@testable import SessionCluster

/// Published known-answer vectors: the AES-256 cases of the GCM specification (McGrew & Viega, test cases
/// 13, 14 and 16) and RFC 5869 test case 1 for HKDF-SHA256.
@Suite struct CryptoVectorTests {
    static func hex(_ text: String) -> [UInt8] {
        var bytes = [UInt8]()
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    @Test func aes256GCMTestCase13EmptyPlaintext() throws {
        let sealed = try Crypto.seal(
            key: [UInt8](repeating: 0, count: 32), nonce: [UInt8](repeating: 0, count: 12), plaintext: [], aad: [])
        #expect(sealed == Self.hex("530f8afbc74536b9a963b4f1c4cb738b"))
    }

    @Test func aes256GCMTestCase14() throws {
        let sealed = try Crypto.seal(
            key: [UInt8](repeating: 0, count: 32), nonce: [UInt8](repeating: 0, count: 12),
            plaintext: [UInt8](repeating: 0, count: 16), aad: [])
        #expect(sealed == Self.hex("cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919"))
    }

    @Test func sealingInPlaceGivesTheKnownAnswerAndLeavesTheBytesBeforeAlone() throws {
        // Test case 16 again, sealed in place after a prefix that must stay as it is (the append log's framing).
        let key = Self.hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
        let nonce = Self.hex("cafebabefacedbaddecaf888")
        let plaintext = Self.hex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
        )
        let aad = Self.hex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
        let prefix: [UInt8] = [0xAA, 0xBB, 0xCC, 0xDD, 0xEE]
        var buffer = prefix + plaintext
        try Crypto.sealInPlace(key: key, nonce: nonce, &buffer, from: prefix.count, aad: aad)
        #expect(Array(buffer[..<prefix.count]) == prefix)
        #expect(Array(buffer[prefix.count...]) == (try Crypto.seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)))
        // Nothing after the prefix: the tag alone (test case 13's shape).
        var empty = prefix
        try Crypto.sealInPlace(
            key: [UInt8](repeating: 0, count: 32), nonce: [UInt8](repeating: 0, count: 12), &empty, from: prefix.count,
            aad: [])
        #expect(Array(empty[prefix.count...]) == Self.hex("530f8afbc74536b9a963b4f1c4cb738b"))
    }

    @Test func aes256GCMTestCase16WithAssociatedData() throws {
        let key = Self.hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
        let nonce = Self.hex("cafebabefacedbaddecaf888")
        let plaintext = Self.hex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
        )
        let aad = Self.hex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
        let expected = Self.hex(
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
                + "76fc6ece0f4e1768cddf8853bb2d551b")
        let sealed = try Crypto.seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
        #expect(sealed == expected)
        #expect(Crypto.open(key: key, nonce: nonce, sealed: sealed[...], aad: aad) == plaintext)
        // Any change to ciphertext, tag, associated data, nonce or key fails authentication.
        var flipped = sealed
        flipped[3] ^= 1
        #expect(Crypto.open(key: key, nonce: nonce, sealed: flipped[...], aad: aad) == nil)
        flipped = sealed
        flipped[flipped.count - 1] ^= 0x80
        #expect(Crypto.open(key: key, nonce: nonce, sealed: flipped[...], aad: aad) == nil)
        #expect(Crypto.open(key: key, nonce: nonce, sealed: sealed[...], aad: aad + [0]) == nil)
        #expect(
            Crypto.open(key: key, nonce: Self.hex("cafebabefacedbaddecaf889"), sealed: sealed[...], aad: aad) == nil)
        var otherKey = key
        otherKey[0] ^= 1
        #expect(Crypto.open(key: otherKey, nonce: nonce, sealed: sealed[...], aad: aad) == nil)
        #expect(Crypto.open(key: key, nonce: nonce, sealed: sealed.prefix(15), aad: aad) == nil)
    }

    @Test func hkdfSHA256RFC5869TestCase1() throws {
        let okm = try Crypto.hkdf(
            secret: [UInt8](repeating: 0x0b, count: 22), salt: Self.hex("000102030405060708090a0b0c"),
            info: Self.hex("f0f1f2f3f4f5f6f7f8f9"), count: 42)
        #expect(okm == Self.hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"))
    }

    /// One `GCMContext` (reused libcrypto contexts, re-keyed only when the key changes) gives the known answers
    /// message after message, across key changes, and after opening a forged message.
    @Test func aReusedGCMContextGivesTheKnownAnswersAgainAndAgain() throws {
        let key = Self.hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
        let nonce = Self.hex("cafebabefacedbaddecaf888")
        let plaintext = Self.hex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
        )
        let aad = Self.hex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
        let expected = try Crypto.seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
        let zeros = [UInt8](repeating: 0, count: 32)
        let zeroNonce = [UInt8](repeating: 0, count: 12)
        let gcm = try GCMContext()
        for round in 0..<50 {
            // Associated data in two pieces: the bytes before the plaintext, then more.
            var buffer = Array(aad.prefix(7)) + plaintext
            try gcm.seal(key: key, nonce: nonce, &buffer, from: 7, moreAAD: Array(aad.dropFirst(7)))
            #expect(Array(buffer.dropFirst(7)) == expected, "round \(round)")
            #expect(gcm.open(key: key, nonce: nonce, sealed: buffer.dropFirst(7), aad: aad[...]) == plaintext)
            var forged = Array(buffer.dropFirst(7))
            forged[round % forged.count] ^= 0x10
            #expect(gcm.open(key: key, nonce: nonce, sealed: forged[...], aad: aad[...]) == nil)
            // Another key in between (test case 13 and 14), on both contexts.
            var empty: [UInt8] = []
            try gcm.seal(key: zeros, nonce: zeroNonce, &empty, from: 0)
            #expect(empty == Self.hex("530f8afbc74536b9a963b4f1c4cb738b"))
            var block = [UInt8](repeating: 0, count: 16)
            try gcm.seal(key: zeros, nonce: zeroNonce, &block, from: 0)
            #expect(block == Self.hex("cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919"))
            #expect(
                gcm.open(key: zeros, nonce: zeroNonce, sealed: block[...], aad: []) == [UInt8](repeating: 0, count: 16))
            #expect(gcm.open(key: zeros, nonce: zeroNonce, sealed: empty[...], aad: [1]) == nil)
        }
    }
}
