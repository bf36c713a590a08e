import SessionClusterCore
import Testing

@Suite struct VersionTokenTests {
    @Test func tokenRoundTripsAndIsCompact() throws {
        let vector = VersionVector([NodeID(rawValue: 0x0102_0304_0506_0708): 3, NodeID(rawValue: .max): 300])
        let token = vector.token
        #expect(token.count <= 2 + 2 * 14)
        #expect(token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(try #require(VersionVector(token: token)) == vector)
        #expect(VersionVector(token: VersionVector().token) == VersionVector())
    }

    @Test func coverCheckUsesTheParsedToken() throws {
        let a = NodeID(rawValue: 1)
        let b = NodeID(rawValue: 2)
        let token = try #require(VersionVector(token: VersionVector([a: 2, b: 1]).token))
        #expect(VersionVector([a: 2, b: 1]).covers(token))
        #expect(VersionVector([a: 3, b: 4]).covers(token))
        #expect(!VersionVector([a: 2]).covers(token))
    }

    @Test func malformedTokensAreRefused() {
        for bad in [
            "", "!!", "AA=", String(repeating: "A", count: 5_000), "AQ", "Ag" + String(repeating: "A", count: 12),
        ] {
            #expect(VersionVector(token: bad) == nil, "\(bad.prefix(20))")
        }
        // Unsorted or zero entries are not something `token` ever writes.
        var writer = [UInt8]([2, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1])
        #expect(VersionVector(token: base64url(writer)) == nil)
        writer = [1, 0, 0, 0, 0, 0, 0, 0, 1, 0]
        #expect(VersionVector(token: base64url(writer)) == nil)
    }

    private func base64url(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var out = ""
        var index = 0
        while index < bytes.count {
            let chunk = Array(bytes[index..<min(index + 3, bytes.count)])
            let value = chunk.enumerated().reduce(0) { $0 | Int($1.element) << (16 - 8 * $1.offset) }
            for position in 0...chunk.count { out.append(alphabet[(value >> (18 - 6 * position)) & 63]) }
            index += 3
        }
        return out
    }
}
