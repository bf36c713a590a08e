import SessionClusterCore
import Testing

@Suite struct SessionIDTests {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    static func ids(_ count: Int, seed: UInt64 = 42) -> [SessionID] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in SessionID(using: &generator) }
    }

    @Test func encodedFormIs22URLSafeCharactersAndRoundTrips() throws {
        for id in Self.ids(200) {
            let text = id.encoded
            #expect(text.count == 22)
            #expect(text.allSatisfy { Self.alphabet.contains($0) })
            #expect(SessionID(cookieValue: text) == id)
            #expect(id.description == text)
        }
    }

    @Test func encodingMatchesRFC4648URLSafeWithoutPadding() {
        // base64url(00 01 02 … 0f) = "AAECAwQFBgcICQoLDA0ODw==" without the padding.
        let counting = SessionID(high: 0x0001_0203_0405_0607, low: 0x0809_0A0B_0C0D_0E0F)
        #expect(counting.bytes == Array(0..<16))
        #expect(counting.encoded == "AAECAwQFBgcICQoLDA0ODw")
        #expect(SessionID(high: 0, low: 0).encoded == "AAAAAAAAAAAAAAAAAAAAAA")
        #expect(SessionID(high: .max, low: .max).encoded == "_____________________w")
        #expect(SessionID(cookieValue: "_____________________w") == SessionID(high: .max, low: .max))
    }

    @Test func routeSuffixIsIgnoredByCookieParsing() {
        for id in Self.ids(20) {
            #expect(id.cookieValue(route: nil) == id.encoded)
            #expect(id.cookieValue(route: "") == id.encoded)
            #expect(id.cookieValue(route: "n1") == id.encoded + ".n1")
            #expect(SessionID(cookieValue: id.cookieValue(route: "n1")) == id)
            #expect(SessionID(cookieValue: id.encoded + ".node-7.extra") == id)
            #expect(SessionID(cookieValue: id.encoded + ".") == id)
            #expect(SessionID(cookieValue: id.encoded[...]) == id)
        }
    }

    @Test func garbageAndWrongLengthsAreRejected() {
        let valid = Self.ids(1)[0].encoded
        let rejected = [
            "", ".", "." + valid, "AAAA", String(valid.dropLast()), valid + "A", valid + "AA", valid + "AAA",
            String(repeating: "A", count: 24), String(valid.dropLast()) + "=", String(valid.dropLast()) + "+",
            String(valid.dropLast()) + "/", "AAAAAAAAAAAAAAAAAAAA A", "AAAAAAAAAAAAAAAAAAAAAé",
            "!!!!!!!!!!!!!!!!!!!!!!",
            "AAECAwQFBgcICQoLDA0ODw==",
        ]
        for text in rejected {
            #expect(SessionID(cookieValue: text) == nil, "accepted \(text)")
        }
    }

    @Test func nonZeroPaddingBitsAreRejected() {
        // 22 characters carry 132 bits: the last character's low 4 bits are padding and MUST be zero, so each
        // id has exactly one textual form.
        for id in Self.ids(20) {
            var characters = Array(id.encoded)
            let value = Self.alphabet.firstIndex(of: characters[21])!
            #expect(value & 0xF == 0)
            for bit in [1, 2, 4, 8] {
                characters[21] = Self.alphabet[value | bit]
                #expect(SessionID(cookieValue: String(characters)) == nil)
            }
        }
    }

    @Test func idsDrawnFromSplitMix64AreDistinctAndReplayBySeed() {
        let ids = Self.ids(5_000)
        #expect(Set(ids).count == ids.count)
        #expect(Set(ids.map(\.encoded)).count == ids.count)
        #expect(Self.ids(10, seed: 9) == Self.ids(10, seed: 9))
        #expect(Self.ids(10, seed: 9) != Self.ids(10, seed: 10))
    }

    @Test func orderingFollowsHighThenLowWord() {
        #expect(SessionID(high: 1, low: .max) < SessionID(high: 2, low: 0))
        #expect(SessionID(high: 1, low: 1) < SessionID(high: 1, low: 2))
        #expect(!(SessionID(high: 1, low: 1) < SessionID(high: 1, low: 1)))
    }
}
