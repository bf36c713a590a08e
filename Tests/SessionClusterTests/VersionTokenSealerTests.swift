import SessionClusterCore
import Testing

@testable import SessionCluster

@Suite struct VersionTokenSealerTests {
    static let secret = "token test secret of at least thirty-two bytes"
    let a = NodeID(rawValue: 0xA)
    let session = SessionID(high: 1, low: 2)
    let other = SessionID(high: 3, low: 4)

    /// A token with a well-formed payload and a MAC made up by someone without the secret.
    static func forged(_ version: VersionVector, keyID: UInt8 = 1) -> VersionToken {
        VersionToken(Base64URL.encode([keyID] + version.tokenPayload + [UInt8](repeating: 0x5A, count: 12)))!
    }

    @Test func hmacMatchesRFC4231() throws {
        // RFC 4231, test case 2.
        let key = try #require(HMACKey(Array("Jefe".utf8)))
        let mac = try #require(key.authenticate(Array("what do ya want for nothing?".utf8)))
        let hex = mac.map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined()
        #expect(hex == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // The keyed context is reusable: the same MAC again.
        #expect(key.authenticate(Array("what do ya want for nothing?".utf8)) == mac)
    }

    /// One sealer's HMAC context is re-initialised for every token: many seals and opens in a row, with forged
    /// and tampered tokens in between, give the same tokens as fresh sealers do.
    @Test func oneSealerSealsAndOpensManyInARowAfterForgedOnesToo() throws {
        var sealer = VersionTokenSealer(cluster: "c1", keyring: try Keyring(secret: Self.secret))
        for round in 0..<300 {
            let version = VersionVector([a: UInt64(round + 1), NodeID(rawValue: UInt64(0x100 + round % 5)): 9])
            let id = round % 2 == 0 ? session : other
            let token = sealer.seal(version, for: id)
            let fresh = VersionTokenSealer(cluster: "c1", keyring: try Keyring(secret: Self.secret))
            #expect(token == fresh.seal(version, for: id), "round \(round)")
            #expect(sealer.open(Self.forged(version), for: id) == nil)
            var bytes = try #require(Base64URL.decode(token.text))
            bytes[round % bytes.count] ^= 0x20
            #expect(sealer.open(VersionToken(Base64URL.encode(bytes))!, for: id) == nil)
            #expect(sealer.open(token, for: id) == version, "round \(round)")
            #expect(sealer.open(token, for: id == session ? other : session) == nil)
        }
        #expect(sealer.rejected == 900)
    }

    /// The token's own base64url (read and written in place) is the core's `Base64URL`, byte for byte, accepting
    /// and refusing the same texts.
    @Test func tokenBase64IsTheCoresBase64URL() {
        var generator = SystemRandomNumberGenerator()
        for count in Array(0...40) + [200, 1_000] {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = Base64URL.encode(bytes)
            #expect(TokenBase64.encode(bytes) == text, "\(count) bytes")
            #expect(TokenBase64.decode(text) == bytes, "\(count) bytes")
        }
        for text in [
            "", "A", "AB", "AC", "ABC", "ABD", "AAAA", "_-_-", "ab=", "a b", "é", "AQHgNxb2DSkMVAGrQ1ehw2jt8_yyZfE",
        ] {
            #expect(TokenBase64.decode(text) == Base64URL.decode(text), "\(text)")
        }
    }

    @Test func aTokenSealedLaterIsTheSameTokenFromAnyThread() async throws {
        var sealer = VersionTokenSealer(cluster: "c1", keyring: try Keyring(secret: Self.secret))
        let version = VersionVector([a: 7])
        let later = sealer.sealLater(version, for: session)
        #expect(later.unsealedVersion(for: session) == version)
        #expect(later.unsealedVersion(for: other) == nil)
        let now = sealer.seal(version, for: session)
        #expect(later.unsealedVersion(for: session) != nil && now.unsealedVersion(for: session) == nil)
        // Read from many tasks at once: sealed once, the same text everywhere.
        let texts = await withTaskGroup(of: String.self) { group in
            for _ in 0..<16 { group.addTask { later.text } }
            return await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(texts == [now.text])
        #expect(later == now && later.hashValue == now.hashValue)
        #expect(sealer.open(later, for: session) == version)
        // Key rotation after the token was made: it was sealed with the key current then, still installed.
        var rotated = try Keyring(secret: Self.secret)
        try rotated.install(Self.secret + " rotated", id: 2)
        try rotated.use(2)
        let pending = sealer.sealLater(version, for: session)
        sealer.install(rotated)
        #expect(sealer.open(pending, for: session) == version)
    }

    @Test func sealedTokensOpenForTheirSessionOnly() throws {
        var sealer = VersionTokenSealer(cluster: "c1", keyring: try Keyring(secret: Self.secret))
        let version = VersionVector([a: 7])
        let token = sealer.seal(version, for: session)
        #expect(token.text.count <= 40)
        #expect(VersionToken(token.text) == token)
        #expect(sealer.open(token, for: session) == version)
        // Replayed on another session, or sealed by another cluster: ignored, counted.
        #expect(sealer.open(token, for: other) == nil)
        let foreign = VersionTokenSealer(cluster: "c2", keyring: try Keyring(secret: Self.secret))
        #expect(sealer.open(foreign.seal(version, for: session), for: session) == nil)
        #expect(sealer.rejected == 2)
    }

    @Test func forgedTamperedAndMalformedTokensAreIgnored() throws {
        var sealer = VersionTokenSealer(cluster: "c1", keyring: try Keyring(secret: Self.secret))
        #expect(sealer.open(Self.forged(VersionVector([a: .max])), for: session) == nil)
        #expect(sealer.open(Self.forged(VersionVector([a: 1]), keyID: 9), for: session) == nil)
        let token = Array(Base64URL.decode(sealer.seal(VersionVector([a: 3]), for: session).text)!)
        for index in token.indices {
            var tampered = token
            tampered[index] ^= 0x01
            #expect(sealer.open(VersionToken(Base64URL.encode(tampered))!, for: session) == nil, "byte \(index)")
        }
        #expect(sealer.open(VersionToken("AAAA")!, for: session) == nil)
        #expect(sealer.rejected == 3 + token.count)
        #expect(VersionToken("") == nil && VersionToken("a b") == nil)
        #expect(VersionToken(String(repeating: "A", count: VersionToken.maxTextCount + 1)) == nil)
    }

    @Test func tokensOfEveryInstalledKeyOpenDuringRotation() throws {
        var keyring = try Keyring(secret: Self.secret)
        var sealer = VersionTokenSealer(cluster: "c1", keyring: keyring)
        let old = sealer.seal(VersionVector([a: 1]), for: session)
        try keyring.install("the next token secret, thirty-two bytes or more", id: 2)
        try keyring.use(2)
        sealer.install(keyring)
        let new = sealer.seal(VersionVector([a: 2]), for: session)
        // The key id leads the token.
        #expect(Base64URL.decode(old.text)?.first == 1 && Base64URL.decode(new.text)?.first == 2)
        #expect(sealer.open(old, for: session) == VersionVector([a: 1]))
        #expect(sealer.open(new, for: session) == VersionVector([a: 2]))
        try keyring.remove(1)
        sealer.install(keyring)
        #expect(sealer.open(old, for: session) == nil)
        #expect(sealer.open(new, for: session) == VersionVector([a: 2]))
    }

    /// Before tokens were authenticated, a forged token naming an unknown writer made the node pull the session
    /// from peers and fail the request (or report writes lost); now it is ignored and the copy at hand serves.
    @Test func nodeIgnoresAForgedTokenAndServesItsCopy() async throws {
        var settings = ClusterNodeSettings(cluster: "tokens", name: "n1")
        settings.secret = Self.secret
        settings.replication.accessWaitMillis = 300
        let node = try await ClusterNode.start(settings)
        let login = try await node.create { $0.set("user", "alice") }
        let forged = Self.forged(VersionVector([NodeID(rawValue: 0xDEAD): .max]))
        let seen = try await node.read(login.id, token: forged)
        #expect(seen.string("user") == "alice" && !seen.lostWrites)
        // A genuine token of another session is no good here either.
        let second = try await node.create { $0.set("user", "bob") }
        #expect(try await node.read(login.id, token: second.version).string("user") == "alice")
        #expect(try await node.read(login.id, token: login.version).string("user") == "alice")
        let stats = await node.stats()
        #expect(stats.tokensRejected == 2)
        #expect(stats.replication.fetchesSent == 0 && stats.replication.writesLost == 0)
        await node.shutdown()
    }
}
