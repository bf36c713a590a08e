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

    @Test func aCopyIsUnchangedByWritesToTheOriginal() {
        var original = AttributeMap()
        for name in ["a", "b", "c", "d"] { original[name] = slot(String(repeating: name, count: 40)) }
        let copy = original
        original["b"] = nil  // shrinks a shared buffer
        original["c"] = slot("short")
        original["e"] = slot(String(repeating: "e", count: 200))  // grows it
        #expect(copy.keys == ["a", "b", "c", "d"])
        let values = ["a", "b", "c", "d"].map { Array(String(repeating: $0, count: 40).utf8) }
        #expect(copy.values.map { $0.value! } == values)
        #expect(original.keys == ["a", "c", "d", "e"] && original["c"] == slot("short"))
        #expect(original["a"] == copy["a"] && original["d"] == copy["d"])
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
        #expect(map.keys.map { Array($0.utf8) } == [Array("cafe\u{301}".utf8)])
    }

    /// Two spellings of one name written concurrently on two nodes: whichever order the copies join them in, they
    /// end with the same bytes (the newest write's spelling), not only the same value.
    @Test func copiesJoiningTwoSpellingsInEitherOrderHoldTheSameBytes() {
        let older = SessionContent(attributes: ["caf\u{E9}": slot("from n1", 1)])
        let newer = SessionContent(attributes: ["cafe\u{301}": slot("from n3", 2)])
        var first = older
        first.join(newer)
        var second = newer
        second.join(older)
        #expect(first == second)
        #expect(first.attributes.keys.map { Array($0.utf8) } == second.attributes.keys.map { Array($0.utf8) })
        #expect(first.attributes.keys.map { Array($0.utf8) } == [Array("cafe\u{301}".utf8)])
    }

    @Test func laterPairsWinOnRepeatedNames() {
        let map = AttributeMap([("user", slot("alice")), ("user", slot("bob", 1))])
        #expect(map.count == 1 && map["user"] == slot("bob", 1))
    }

    // The map keeps every entry in one byte buffer: these check that the offsets stay right as entries are
    // inserted, replaced by larger or smaller values, turned into tombstones and removed, first, middle and last.

    @Test func emptyValuesEmptyNamesAndTombstonesRoundTrip() {
        var map = AttributeMap()
        map[""] = slot("")
        map["gone"] = slot(nil, 3)
        map["x"] = slot("")
        #expect(map.count == 3)
        #expect(map[""] == slot("") && map["gone"] == slot(nil, 3) && map["x"] == slot(""))
        #expect(map.map(\.key) == ["", "gone", "x"])
        map.removeValue(forKey: "")
        map.removeValue(forKey: "x")
        #expect(map.count == 1 && map.map(\.key) == ["gone"])
        map["gone"] = nil
        #expect(map.isEmpty && map.count == 0 && map == AttributeMap() && Array(map.keys).isEmpty)
        map["again"] = slot("1")
        #expect(map.map(\.key) == ["again"] && map["again"] == slot("1"))
    }

    /// Lengths and stamps are variable-length in the buffer: every boundary of their encodings reads back exactly.
    @Test func stampsAndLengthsAtEveryEncodingBoundaryRoundTrip() {
        let walls: [Int64] = [.min, .min + 1, -1_700_000_000_000, -65, -64, -1, 0, 1, 63, 64, 1_700_000_000_000, .max]
        let logicals: [UInt32] = [0, 1, 127, 128, 16_383, 16_384, .max]
        let nodes: [UInt64] = [0, 1, 0x8000_0000_0000_0000, .max]
        let lengths = [0, 1, 127, 128, 16_383, 16_384]
        var map = AttributeMap()
        var expected = [String: AttributeSlot]()
        var index = 0
        for wall in walls {
            for logical in logicals {
                let length = lengths[index % lengths.count]
                let name = String(repeating: "n", count: [1, 126, 127, 128, 200][index % 5]) + "\(index)"
                let value: [UInt8]? = index % 7 == 3 ? nil : [UInt8](repeating: UInt8(index & 0xFF), count: length)
                let node = NodeID(rawValue: nodes[index % nodes.count])
                let stamp = Stamp(time: HLCTimestamp(wall: wall, logical: logical), node: node)
                let slot = AttributeSlot(value: value, stamp: stamp)
                map[name] = slot
                expected[name] = slot
                index += 1
            }
        }
        #expect(map.count == expected.count)
        for (name, slot) in expected {
            #expect(map[name] == slot, "\(name.count)-byte name")
            #expect(map.stamp(of: name) == slot.stamp && map.hasLiveValue(named: name) == (slot.value != nil))
        }
        #expect(map.keys == expected.keys.sorted() && map == AttributeMap(expected))
    }

    @Test func largeValuesSurviveReplacementOfTheirNeighbours() {
        let large = [UInt8]((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        var map = AttributeMap()
        map["b"] = AttributeSlot(value: large, stamp: slot(nil).stamp)
        map["a"] = slot("first")
        map["c"] = slot("last")
        #expect(map["b"]?.value == large)
        map["a"] = slot(String(repeating: "grown", count: 1_000), 1)  // larger: everything after it moves
        #expect(map["b"]?.value == large && map["c"] == slot("last"))
        map["a"] = slot("s", 2)  // smaller
        #expect(map["b"]?.value == large && map["c"] == slot("last") && map["a"] == slot("s", 2))
        map["b"] = slot(nil, 4)  // the large value becomes a tombstone
        #expect(map["b"] == slot(nil, 4) && map["c"] == slot("last") && map.count == 3)
        map["d"] = slot("after last")  // the last entry's offset must have followed
        #expect(map.map(\.key) == ["a", "b", "c", "d"] && map["d"] == slot("after last"))
    }

    @Test func manyAttributesInAnyOrderMatchADictionary() {
        var generator = SplitMix64(seed: 42)
        var map = AttributeMap()
        var reference = [String: AttributeSlot]()
        for step in 0..<3_000 {
            let name = "k\(generator.next() % 400)"
            switch generator.next() % 4 {
            case 0:
                map[name] = nil
                reference[name] = nil
            case 1:
                map[name] = slot(nil, UInt32(step))
                reference[name] = slot(nil, UInt32(step))
            default:
                let value = String(repeating: "v", count: Int(generator.next() % 300))
                #expect(map.updateValue(slot(value, UInt32(step)), forKey: name) == reference[name])
                reference[name] = slot(value, UInt32(step))
            }
            #expect(map.count == reference.count)
        }
        #expect(map.map(\.key) == reference.keys.sorted())
        for (name, expected) in reference { #expect(map[name] == expected) }
        // Read in place (the RESP key walk): a value, not a tombstone nor an absent name.
        for index in 0..<400 {
            let name = "k\(index)"
            #expect(map.hasLiveValue(named: name) == (reference[name]?.value != nil), "\(name)")
        }
        #expect(map == AttributeMap(reference))
        // A wire round trip gives the same map back.
        let content = SessionContent(lastAccess: Timestamp(millis: 5), attributes: map)
        let session = Session(id: SessionID(high: 1, low: 2), content: content, version: VersionVector())
        let bytes = WireCodec.encode(.snapshot(session, nil))
        guard case .snapshot(let decoded, _) = try? WireCodec.decodeReplicationMessage(bytes) else {
            Issue.record("snapshot did not decode")
            return
        }
        #expect(decoded.content.attributes == map)
    }

    @Test func replacingOneAttributeKeepsTheOthersAndJoinsStillPickTheNewestStamp() {
        var content = SessionContent(attributes: ["user": slot("alice"), "data": slot("old")])
        content.join(SessionContent(attributes: ["data": slot("new", 5)]))
        content.join(SessionContent(attributes: ["data": slot("stale", 1)]))
        #expect(content.attributes["data"] == slot("new", 5) && content.attributes["user"] == slot("alice"))
        #expect(content.attributes.count == 2)
    }
    /// Random maps whose names overlap (two spellings of `é` among them), joined many-into-many (the one-pass
    /// merge) and few-into-many (one by one), against a dictionary doing what a join means: the newer stamp wins,
    /// spelled as its writer spelled it.
    @Test func joinsMatchANewestStampWinsDictionaryWhateverTheirSizes() {
        var generator = SplitMix64(seed: 7)
        let pool =
            ["a", "b", "caf\u{E9}", "cafe\u{301}", "z", "\u{1}k", "h-field", "\u{FF}x", ""]
            + (0..<40).map { "k\($0)" }
        func randomMap(_ entries: Int) -> (AttributeMap, [String: (spelling: String, slot: AttributeSlot)]) {
            var map = AttributeMap()
            var reference = [String: (spelling: String, slot: AttributeSlot)]()
            for _ in 0..<entries {
                let name = pool[Int(generator.next() % UInt64(pool.count))]
                let value: String? =
                    generator.next() % 5 == 0 ? nil : String(repeating: "v", count: Int(generator.next() % 90))
                let entry = AttributeSlot(
                    value: value.map { Array($0.utf8) },
                    stamp: Stamp(
                        time: HLCTimestamp(wall: Int64(generator.next() % 4), logical: UInt32(generator.next() % 3)),
                        node: NodeID(rawValue: 1 + generator.next() % 2)))
                map[name] = entry
                reference[name] = (name, entry)
            }
            return (map, reference)
        }
        for round in 0..<400 {
            var (mine, expected) = randomMap(Int(generator.next() % 30))
            let (theirs, theirReference) = randomMap(
                round % 2 == 0 ? Int(generator.next() % 4) : 5 + Int(generator.next() % 40))
            let before = mine
            let beforeEntries = Array(mine)
            mine.join(theirs)
            for (name, entry) in theirReference where expected[name].map({ entry.slot.stamp > $0.slot.stamp }) ?? true {
                expected[name] = entry
            }
            #expect(mine.count == expected.count, "round \(round)")
            #expect(
                mine.keys.map { Array($0.utf8) }
                    == expected.values.sorted { $0.spelling < $1.spelling }.map { Array($0.spelling.utf8) },
                "round \(round)")
            for (name, entry) in expected { #expect(mine[name] == entry.slot, "round \(round): \(name)") }
            // A map joined into is the only one changed; joining again changes nothing.
            #expect(before.elementsEqual(beforeEntries) { $0.key == $1.key && $0.value == $1.value })
            var again = mine
            again.join(theirs)
            #expect(again == mine)
            // A map from a wire round trip is the same map: entries in order, lengths right.
            var appended = AttributeMap()
            for (name, slot) in mine { appended[name] = slot }
            #expect(appended == mine)
        }
    }

    /// One request's many changes, stamped alike: the last write of a name wins, spelled as written last.
    @Test func manyPairsStampedAlikeKeepTheLastWriteOfEachName() {
        var pairs = [(name: String, slot: AttributeSlot)]()
        for index in 0..<30 { pairs.append(("f\(index % 12)", slot("\(index)"))) }
        pairs.append(("caf\u{E9}", slot("first")))
        pairs.append(("cafe\u{301}", slot("second")))
        pairs.append(("f3", slot(nil)))
        let map = AttributeMap(lastWins: pairs)
        #expect(map == AttributeMap(pairs.map { ($0.name, $0.slot) }))
        #expect(map.count == 13 && map["f3"] == slot(nil) && map["f5"] == slot("29"))
        #expect(map["caf\u{E9}"] == slot("second") && map.keys.contains { Array($0.utf8) == Array("cafe\u{301}".utf8) })
    }
    /// Whether two maps share a name whose stamps meet a condition, in one pass (many entries) or one by one (few),
    /// against a dictionary's answer.
    @Test func sharedNamesAreFoundWhateverTheMapsSizes() {
        var generator = SplitMix64(seed: 11)
        let pool = ["a", "caf\u{E9}", "cafe\u{301}", "\u{1}k", "z"] + (0..<30).map { "k\($0)" }
        func randomMap(_ entries: Int) -> AttributeMap {
            var map = AttributeMap()
            for _ in 0..<entries {
                map[pool[Int(generator.next() % UInt64(pool.count))]] = slot(
                    generator.next() % 4 == 0 ? nil : "v", UInt32(generator.next() % 3))
            }
            return map
        }
        for round in 0..<300 {
            let mine = randomMap(Int(generator.next() % 25))
            let theirs = randomMap(round % 2 == 0 ? Int(generator.next() % 5) : 5 + Int(generator.next() % 30))
            var shared = [(Stamp, Stamp)]()
            for (name, slot) in theirs { if let stamp = mine.stamp(of: name) { shared.append((stamp, slot.stamp)) } }
            #expect(mine.anySharedName(with: theirs) { _, _ in true } == !shared.isEmpty, "round \(round)")
            #expect(
                mine.anySharedName(with: theirs) { $0 > $1 } == shared.contains { $0.0 > $0.1 }, "round \(round)")
            #expect(
                mine.anySharedName(with: theirs) { $0 != $1 } == shared.contains { $0.0 != $0.1 }, "round \(round)")
        }
    }
}
