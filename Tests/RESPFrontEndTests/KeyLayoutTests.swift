import SessionCluster
import Testing

@testable import RESPFrontEnd

/// How hash fields become attribute names: byte-exact, as Redis keeps them.
@Suite struct KeyLayoutTests {
    @Test func everyFieldRoundTripsAndDistinctBytesStayDistinct() {
        let fields: [[UInt8]] = [
            Array("user".utf8), Array("é".utf8), Array("e\u{301}".utf8), Array("\u{2126}".utf8),
            Array("\u{3A9}".utf8), [0xFF, 0x00], [], [0], Array("h".utf8), Array("H41".utf8),
        ]
        let names = fields.map(KeyLayout.attribute(forField:))
        for (field, name) in zip(fields, names) { #expect(KeyLayout.field(ofAttribute: name) == field) }
        // Attribute names compare as Swift strings (canonical equivalence): distinct fields must not meet.
        for i in names.indices {
            for j in names.indices where i != j { #expect(names[i] != names[j], "\(fields[i]) vs \(fields[j])") }
        }
        #expect(names[0] == "huser")  // ASCII stays readable
    }
}

/// A command naming many fields of a hash (looked up through an index, not a scan per field) answers as Redis does.
@Suite struct KeyModelFieldsTests {
    func field(_ index: Int) -> [UInt8] { Array("f\(index)".utf8) }

    func hash(_ count: Int) -> [String: [UInt8]] {
        var attributes = [KeyLayout.name: Array("h".utf8)]
        for index in 0..<count { attributes[KeyLayout.attribute(forField: field(index))] = Array("old".utf8) }
        return attributes
    }

    @Test func manyFieldsSetAtOnceCountOnlyTheNewOnesAndTheLastValueOfARepeatedField() {
        var model = KeyModel(key: Array("h".utf8), attributes: hash(20), now: 1_000)
        // 10 existing fields, 15 new ones, and 5 of the new ones named again with another value.
        var pairs = (10..<35).map { (field: field($0), value: Array("v\($0)".utf8)) }
        pairs += (20..<25).map { (field: field($0), value: Array("again".utf8)) }
        #expect(model.setFields(pairs) == 15)
        let fields = model.state?.fields ?? []
        #expect(fields.count == 35)
        #expect(model.state?.field(field(3)) == Array("old".utf8) && model.state?.field(field(12)) == Array("v12".utf8))
        #expect(
            model.state?.field(field(22)) == Array("again".utf8) && model.state?.field(field(34)) == Array("v34".utf8))
        #expect(Set(fields.map(\.field)).count == fields.count)
    }

    @Test func manyFieldsRemovedAtOnceCountEachExistingFieldOnce() {
        var model = KeyModel(key: Array("h".utf8), attributes: hash(20), now: 1_000)
        // 12 existing (3 of them twice) and 4 absent.
        let named = (5..<17).map(field) + (5..<8).map(field) + (40..<44).map(field)
        #expect(model.removeFields(named) == 12)
        #expect(
            model.state?.fields.map(\.field).sorted { $0.lexicographicallyPrecedes($1) }
                == ((0..<5).map(field) + (17..<20).map(field)).sorted { $0.lexicographicallyPrecedes($1) })
        #expect(model.removeFields((0..<20).map(field) + (0..<20).map(field)) == 8)
        #expect(model.state == nil)
    }
    @Test func manyFieldsReadAtOnceAnswerInTheirOrderWithAbsentOnesNil() {
        let model = KeyModel(key: Array("h".utf8), attributes: hash(20), now: 1_000)
        let named = (15..<25).map(field) + [field(3), field(3), field(99)]
        let values = model.state?.fields(named: named) ?? []
        let expected: [[UInt8]?] =
            (15..<25).map { $0 < 20 ? Array("old".utf8) : nil } + [Array("old".utf8), Array("old".utf8), nil]
        #expect(values == expected)
        #expect(model.state?.fields(named: [field(1), field(40)]) == [Array("old".utf8), nil])
    }
}

/// A read sees a key alike whether it reads the held copy in place (`KeyView(held:)`, on the key's loop: only what
/// the command asks for is copied out) or the state a model decoded from every attribute (`KeyState`).
@Suite struct KeyViewTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Keys as the layout stores them, including the awkward ones: expired, a string beside concurrent hash
    /// fields, a hash whose every field was removed (tombstones only), non-ASCII fields, a malformed `H` name.
    var cases: [(String, [String: [UInt8]?])] {
        let now: Int64 = 1_000_000
        let name = (KeyLayout.name, Optional(bytes("k")))
        var big: [String: [UInt8]?] = [KeyLayout.name: bytes("big")]
        for index in 0..<300 { big[KeyLayout.attribute(forField: bytes("f\(index)"))] = bytes("v\(index)") }
        let expiry = KeyLayout.expiry
        return [
            ("absent", [:]),
            ("string", [name.0: name.1, KeyLayout.string: bytes("hello")]),
            ("string with expiry", [name.0: name.1, KeyLayout.string: bytes("x"), expiry: bytes("\(now + 5_000)")]),
            ("expired string", [name.0: name.1, KeyLayout.string: bytes("x"), expiry: bytes("\(now)")]),
            ("string wins over fields", [name.0: name.1, KeyLayout.string: bytes("s"), "hf": bytes("1")]),
            (
                "hash",
                [
                    name.0: name.1, "ha": bytes("1"), "hb": bytes("2"),
                    KeyLayout.attribute(forField: [0xFF, 0]): bytes("3"),
                ]
            ),
            ("hash with expiry", [name.0: name.1, "ha": bytes("1"), expiry: bytes("\(now + 1)")]),
            ("expired hash", [name.0: name.1, "ha": bytes("1"), expiry: bytes("\(now - 1)")]),
            ("removed fields only", [name.0: nil, "ha": nil, "hb": nil]),
            ("removed and live fields", [name.0: name.1, "ha": nil, "hb": bytes("2")]),
            ("name only", [name.0: name.1]),
            ("malformed H name only", [name.0: name.1, "Hzz": bytes("1"), "H4": bytes("1")]),
            ("empty field", [name.0: name.1, "h": bytes("empty field name")]),
            ("big hash", big),
        ]
    }

    @Test func aHeldCopyReadInPlaceAnswersAsTheDecodedState() {
        let now: Int64 = 1_000_000
        let probes = [bytes("a"), bytes("b"), bytes("f"), [0xFF, 0], bytes("f17"), bytes("f299"), bytes("none"), []]
        for (label, attributes) in cases {
            let held = KeyView(held: SessionView(attributes: attributes), now: now)
            let live = attributes.compactMapValues { $0 }
            let decoded = KeyView(state: KeyState(attributes: live, now: now), now: now)
            #expect(held.kind == decoded.kind, "\(label): kind")
            #expect(held.typeName == decoded.typeName, "\(label): type")
            #expect(held.expiresAt == decoded.expiresAt, "\(label): expiry")
            #expect(held.string == decoded.string, "\(label): string")
            #expect(held.fieldCount == decoded.fieldCount, "\(label): field count")
            #expect(held.sortedFields.map(\.field) == decoded.sortedFields.map(\.field), "\(label): fields")
            #expect(held.sortedFields.map(\.value) == decoded.sortedFields.map(\.value), "\(label): values")
            for probe in probes { #expect(held.field(probe) == decoded.field(probe), "\(label): field \(probe)") }
            // Few names are looked up one by one, many through an index: both agree with the decoded state.
            for names in [Array(probes.prefix(3)), probes + probes] {
                #expect(held.fields(named: names) == decoded.fields(named: names), "\(label): \(names.count) names")
            }
        }
    }
}
