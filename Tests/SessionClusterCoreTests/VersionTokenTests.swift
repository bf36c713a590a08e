import SessionClusterCore
import Testing

@Suite struct VersionTokenTests {
    @Test func tokenPayloadRoundTripsAndIsCompact() throws {
        let vector = VersionVector([NodeID(rawValue: 0x0102_0304_0506_0708): 3, NodeID(rawValue: .max): 300])
        let payload = vector.tokenPayload
        #expect(payload.count <= 1 + 2 * 10)
        #expect(try #require(VersionVector(tokenPayload: payload[...])) == vector)
        #expect(VersionVector(tokenPayload: VersionVector().tokenPayload[...]) == VersionVector())
    }

    @Test func coverCheckUsesTheParsedToken() throws {
        let a = NodeID(rawValue: 1)
        let b = NodeID(rawValue: 2)
        let token = try #require(VersionVector(tokenPayload: VersionVector([a: 2, b: 1]).tokenPayload[...]))
        #expect(VersionVector([a: 2, b: 1]).covers(token))
        #expect(VersionVector([a: 3, b: 4]).covers(token))
        #expect(!VersionVector([a: 2]).covers(token))
    }

    @Test func malformedPayloadsAreRefused() {
        for bad: [UInt8] in [
            [], [0x80], [65], [1, 0, 0, 0, 0, 0, 0, 0, 1], [UInt8](repeating: 0, count: 5_000),
            [2] + [UInt8](repeating: 0, count: 12),
        ] {
            #expect(VersionVector(tokenPayload: bad[...]) == nil, "\(bad.prefix(20))")
        }
        // Unsorted or zero entries are not something `tokenPayload` ever writes.
        var writer = [UInt8]([2, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1])
        #expect(VersionVector(tokenPayload: writer[...]) == nil)
        writer = [1, 0, 0, 0, 0, 0, 0, 0, 1, 0]
        #expect(VersionVector(tokenPayload: writer[...]) == nil)
    }

    @Test func base64URLRoundTrips() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.decode("!!") == nil)
    }
}
