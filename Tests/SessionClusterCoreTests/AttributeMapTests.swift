import SessionClusterCore
import Testing

@Suite struct AttributeMapTests {
    let n1 = NodeID(rawValue: 1)

    func slot(_ text: String?, _ logical: UInt32 = 0) -> AttributeSlot {
        AttributeSlot(
            value: text.map { Array($0.utf8) }, stamp: Stamp(time: HLCTimestamp(wall: 1, logical: logical), node: n1))
    }

    @Test func behavesLikeADictionaryKeyedByName() {
        var map = AttributeMap()
        #expect(map.isEmpty && map["user"] == nil)
        map["user"] = slot("alice")
        map["cart"] = slot("1")
        map["theme"] = slot(nil)
        #expect(map.count == 3)
        #expect(map["user"] == slot("alice") && map["theme"] == slot(nil) && map["csrf"] == nil)
        #expect(map.updateValue(slot("bob", 1), forKey: "user") == slot("alice"))
        #expect(map["user"] == slot("bob", 1) && map.count == 3)
        map["cart"] = nil
        #expect(map["cart"] == nil && map.count == 2)
        #expect(map.removeValue(forKey: "cart") == nil)
    }

    @Test func iteratesInAscendingNameOrderWhateverTheInsertionOrder() {
        let names = ["user", "a", "zeta", "cart", "Z", "theme", "b2", "b10"]
        var map = AttributeMap()
        for (index, name) in names.enumerated() { map[name] = slot(name, UInt32(index)) }
        #expect(Array(map.keys) == names.sorted())
        #expect(map.map(\.key) == names.sorted())
        #expect(map.values.map { $0.value! } == names.sorted().map { Array($0.utf8) })
        let reversed = AttributeMap(names.reversed().enumerated().map { ($1, slot($1, UInt32(names.count - 1 - $0))) })
        #expect(reversed == map)
        #expect(reversed.hashValue == map.hashValue)
    }

    @Test func canonicallyEquivalentNamesAreOneEntry() {
        var map: AttributeMap = ["caf\u{E9}": slot("precomposed")]
        map["cafe\u{301}"] = slot("decomposed", 1)
        #expect(map.count == 1)
        #expect(map["caf\u{E9}"] == slot("decomposed", 1))
    }

    @Test func laterPairsWinOnRepeatedNames() {
        let map = AttributeMap([("user", slot("alice")), ("user", slot("bob", 1))])
        #expect(map.count == 1 && map["user"] == slot("bob", 1))
    }
}
