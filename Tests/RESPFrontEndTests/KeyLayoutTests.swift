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
