import SessionClusterCore
import Testing

/// Random patches as the replication layer produces them: a stamp identifies one write, so whatever a stamp
/// carries (an attribute value or tombstone, a max-inactive value, an invalidation) is a function of it. Small
/// ranges make equal stamps, equal wall times and ties on every field frequent.
struct PatchGenerator {
    var random: SplitMix64
    let nodes = (1...3).map { NodeID(rawValue: UInt64($0)) }
    let names = ["user", "cart", "theme", "csrf"]

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    mutating func below(_ bound: UInt64) -> UInt64 { random.next() % bound }

    mutating func stamp() -> Stamp {
        Stamp(
            time: HLCTimestamp(wall: 1_000 + Int64(below(6)), logical: UInt32(below(3))),
            node: nodes[Int(below(UInt64(nodes.count)))])
    }

    static func digest(_ tag: String, _ stamp: Stamp) -> UInt64 {
        StableHash.hash(
            Array(tag.utf8) + [UInt8(stamp.time.wall & 0xFF), UInt8(stamp.time.logical), UInt8(stamp.node.rawValue)])
    }

    mutating func patch() -> SessionContent {
        var patch = SessionContent(lastAccess: Timestamp(millis: 1_000 + Int64(below(50))))
        if below(3) == 0 { patch.createdAt = Timestamp(millis: 900 + Int64(below(50))) }
        if below(3) == 0 {
            let stamp = stamp()
            patch.maxInactive = Int64(Self.digest("maxInactive", stamp) % 3_600)
            patch.maxInactiveStamp = stamp
        }
        for name in names where below(2) == 0 {
            let stamp = stamp()
            let hash = Self.digest(name, stamp)
            let value: [UInt8]? =
                hash % 4 == 0 ? nil : [UInt8(truncatingIfNeeded: hash), UInt8(truncatingIfNeeded: hash >> 8)]
            patch.attributes[name] = AttributeSlot(value: value, stamp: stamp)
        }
        if below(5) == 0 {
            let stamp = stamp()
            let hash = Self.digest("invalidation", stamp)
            let reason = InvalidationReason(rawValue: UInt8(hash % 3) + 1)!
            patch.invalidation = Invalidation(
                stamp: stamp, reason: reason, renamedTo: reason == .renamed ? SessionID(high: hash, low: 1) : nil)
        }
        return patch
    }
}

func joined(_ contents: SessionContent...) -> SessionContent {
    var result = contents[0]
    for other in contents.dropFirst() { result.join(other) }
    return result
}

@Suite struct SessionContentTests {
    let n1 = NodeID(rawValue: 1)
    let n2 = NodeID(rawValue: 2)

    func stamp(_ wall: Int64, _ node: NodeID, logical: UInt32 = 0) -> Stamp {
        Stamp(time: HLCTimestamp(wall: wall, logical: logical), node: node)
    }

    func slot(_ value: String?, _ stamp: Stamp) -> AttributeSlot {
        AttributeSlot(value: value.map { Array($0.utf8) }, stamp: stamp)
    }

    @Test func joinIsCommutativeAssociativeAndIdempotentOverRandomPatches() {
        var generator = PatchGenerator(seed: 20_240_601)
        for _ in 0..<400 {
            let a = generator.patch()
            let b = generator.patch()
            let c = generator.patch()
            #expect(joined(a, b) == joined(b, a))
            #expect(joined(joined(a, b), c) == joined(a, joined(b, c)))
            #expect(joined(a, a) == a)
            #expect(joined(a, b, a) == joined(a, b))
            #expect(joined(a, b, c) == joined(c, b, a))
        }
    }

    @Test func anyDeliveryOrderOfPatchesGivesTheSameContent() {
        var generator = PatchGenerator(seed: 77)
        for _ in 0..<50 {
            let patches = (0..<6).map { _ in generator.patch() }
            let reference = patches.dropFirst().reduce(into: patches[0]) { $0.join($1) }
            for _ in 0..<10 {
                var order = patches
                order.shuffle(using: &generator.random)
                // Duplicated deliveries change nothing either.
                order.append(order[0])
                let result = order.dropFirst().reduce(into: order[0]) { $0.join($1) }
                #expect(result == reference)
            }
        }
    }

    @Test func attributesAreLastWriterWinsByStamp() {
        let base = SessionContent(attributes: ["user": slot("alice", stamp(10, n1)), "cart": slot("1", stamp(10, n1))])
        let later = SessionContent(attributes: ["user": slot("bob", stamp(11, n1))])
        let earlier = SessionContent(attributes: ["cart": slot("0", stamp(9, n2, logical: 7))])
        let result = joined(base, later, earlier)
        #expect(result.attributes["user"] == slot("bob", stamp(11, n1)))
        #expect(result.attributes["cart"] == slot("1", stamp(10, n1)))
        #expect(result.liveAttributes == ["user": Array("bob".utf8), "cart": Array("1".utf8)])
    }

    @Test func equalTimesAreDecidedByTheWritingNode() {
        let fromN1 = SessionContent(attributes: ["theme": slot("dark", stamp(10, n1))])
        let fromN2 = SessionContent(attributes: ["theme": slot("light", stamp(10, n2))])
        #expect(joined(fromN1, fromN2).attributes["theme"]?.value == Array("light".utf8))
        #expect(joined(fromN2, fromN1).attributes["theme"]?.value == Array("light".utf8))
    }

    @Test func tombstoneBeatsAnOlderValueAndLosesToANewerOne() {
        let value = SessionContent(attributes: ["cart": slot("3 items", stamp(10, n1))])
        let removal = SessionContent(attributes: ["cart": slot(nil, stamp(12, n2))])
        let removed = joined(value, removal)
        #expect(removed == joined(removal, value))
        #expect(removed.attributes["cart"] == slot(nil, stamp(12, n2)))
        #expect(removed.liveAttributes.isEmpty)
        #expect(removed.attributeBytes == 4)  // the name only: tombstones hold no value

        let readded = SessionContent(attributes: ["cart": slot("1 item", stamp(13, n1))])
        #expect(joined(removed, readded).liveAttributes == ["cart": Array("1 item".utf8)])
        #expect(joined(readded, removed).liveAttributes == ["cart": Array("1 item".utf8)])
    }

    @Test func maxInactiveIsLastWriterWinsByStamp() {
        let set60 = SessionContent(maxInactive: 60, maxInactiveStamp: stamp(20, n1))
        let set900 = SessionContent(maxInactive: 900, maxInactiveStamp: stamp(10, n2))
        #expect(joined(set60, set900).maxInactive == 60)
        #expect(joined(set900, set60).maxInactive == 60)
        #expect(joined(SessionContent(), set900).maxInactive == 900)
        // A patch that does not touch max-inactive leaves it alone.
        #expect(joined(set60, SessionContent(lastAccess: Timestamp(millis: 99))).maxInactive == 60)
    }

    @Test func earliestStampedInvalidationIsKeptAndSurvivesLaterJoins() {
        let logout = Invalidation(stamp: stamp(20, n2), reason: .logout)
        let expiry = Invalidation(stamp: stamp(25, n1), reason: .expired)
        var content = SessionContent(attributes: ["user": slot("alice", stamp(10, n1))])
        content.join(SessionContent(invalidation: expiry))
        content.join(SessionContent(invalidation: logout))
        #expect(content.invalidation == logout)
        // Later joins (a later invalidation, later writes) leave it in place.
        content.join(SessionContent(invalidation: Invalidation(stamp: stamp(30, n1), reason: .expired)))
        content.join(
            SessionContent(lastAccess: Timestamp(millis: 50), attributes: ["user": slot("eve", stamp(40, n2))]))
        #expect(content.invalidation == logout)
        // Same in the other order.
        var other = SessionContent(invalidation: logout)
        other.join(SessionContent(invalidation: expiry))
        #expect(other.invalidation == logout)
    }

    @Test func lastAccessIsTheMaximumAndCreatedAtTheMinimum() {
        let a = SessionContent(createdAt: Timestamp(millis: 500), lastAccess: Timestamp(millis: 900))
        let b = SessionContent(createdAt: Timestamp(millis: 400), lastAccess: Timestamp(millis: 700))
        let patch = SessionContent(lastAccess: Timestamp(millis: 1_000))  // no createdAt: leaves it alone
        for result in [joined(a, b, patch), joined(patch, b, a), joined(b, patch, a)] {
            #expect(result.createdAt == Timestamp(millis: 400))
            #expect(result.lastAccess == Timestamp(millis: 1_000))
        }
        #expect(joined(SessionContent(), a).createdAt == Timestamp(millis: 500))
    }

    @Test func conflictsAreAttributesWrittenOnBothSidesWithDifferentStamps() {
        let mine = SessionContent(
            attributes: ["user": slot("alice", stamp(10, n1)), "cart": slot("1", stamp(10, n1))])
        #expect(mine.conflicts(with: SessionContent(attributes: ["user": slot("bob", stamp(11, n2))])))
        #expect(!mine.conflicts(with: SessionContent(attributes: ["theme": slot("dark", stamp(11, n2))])))
        #expect(!mine.conflicts(with: mine))
    }
}
