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
