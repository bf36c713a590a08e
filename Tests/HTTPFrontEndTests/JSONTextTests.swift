import HTTPFrontEnd
import Testing

/// JSON output is always well-formed, whatever the strings hold.
@Suite struct JSONTextTests {
    @Test func quotesAndBackslashesAreEscaped() {
        #expect(JSONText.quoted(#"say "hi" \ bye"#) == #""say \"hi\" \\ bye""#)
    }

    @Test func controlCharactersAreEscaped() {
        #expect(JSONText.quoted("a\nb\r\tc") == #""a\nb\r\tc""#)
        #expect(JSONText.quoted("\u{1}\u{0}\u{1F}\u{7F}") == "\"\\u0001\\u0000\\u001f\u{7F}\"")
    }

    @Test func nonASCIIIsKeptAsUTF8() {
        #expect(JSONText.quoted("caf\u{E9} \u{1F600} \u{2028}") == "\"caf\u{E9} \u{1F600} \u{2028}\"")
        #expect(JSONText.string("\u{E9}").utf8Bytes == [0x22, 0xC3, 0xA9, 0x22])
    }

    @Test func nestedObjectKeepsMemberOrderAndSortsDictionaries() {
        let json = JSONText.object([
            ("id", .string("s\"1")),
            ("attributes", .object(strings: ["b": "2", "a": "x\ny"])),
            ("count", .integer(3)),
            ("ratio", .number(0.5)),
            ("valid", .bool(true)),
            ("tags", .array([.string("t"), .null])),
            ("empty", .object([String: JSONText]())),
        ])
        #expect(
            json.text
                == #"{"id":"s\"1","attributes":{"a":"x\ny","b":"2"},"count":3,"ratio":0.5,"valid":true,"#
                + #""tags":["t",null],"empty":{}}"#)
    }

    @Test func nonFiniteNumbersBecomeNull() {
        #expect(JSONText.number(.nan).text == "null")
        #expect(JSONText.number(-.infinity).text == "null")
    }

    @Test func objectKeysAreEscapedToo() {
        #expect(JSONText.object([("k\"\u{1}", .raw("1"))]).text == "{\"k\\\"\\u0001\":1}")
    }
}
