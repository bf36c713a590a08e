import Testing

@testable import SessionCluster

/// A Redis key's session id: the same on every node, never one a random session can have.
@Suite struct KeySessionIDTests {
    @Test func aKeyMapsToOneIdEverywhereAndKeysDoNotShareIds() {
        let id = SessionID(forKey: Array("session:abc".utf8))
        #expect(id == SessionID(forKey: Array("session:abc".utf8)))
        #expect(id != SessionID(forKey: Array("session:abd".utf8)))
        #expect(id != SessionID(forKey: Array("session:abc".utf8), database: 1))
        #expect(SessionID(forKey: []) != SessionID(forKey: [0]))
        // Pinned (computed independently with Python's hashlib): every node of every version must derive the same
        // id from the same key, or a rolling upgrade would split every key in two.
        #expect(id.isKeyID)
        #expect(id == SessionID(high: 0xfd1c_a131_81c4_be2f, low: 0x73c1_50a6_9715_5068))
    }

    @Test func randomIdsAreNeverKeyIds() {
        for _ in 0..<10_000 { #expect(!SessionID.random().isKeyID) }
        let keys = (0..<1_000).map { SessionID(forKey: Array("k\($0)".utf8)) }
        #expect(keys.allSatisfy { $0.isKeyID })
        #expect(Set(keys).count == 1_000)
    }
}
