import Testing

@testable import RESPFrontEnd

/// Replies in both protocol versions, byte for byte as Redis writes them.
@Suite struct RESPValueTests {
    private func text(_ value: RESPValue, _ version: Int) -> String {
        String(decoding: value.encoded(version: version), as: UTF8.self)
    }

    @Test func scalarsAreTheSameInBothVersions() {
        for version in [2, 3] {
            #expect(text(.ok, version) == "+OK\r\n")
            #expect(text(.err("unknown command"), version) == "-ERR unknown command\r\n")
            #expect(text(.integer(-42), version) == ":-42\r\n")
            #expect(text(.text("héllo"), version) == "$6\r\nhéllo\r\n")
            #expect(text(.bulk([]), version) == "$0\r\n\r\n")
        }
    }

    @Test func resp3TypesFallBackToTheirResp2Forms() {
        #expect(text(.null, 2) == "$-1\r\n")
        #expect(text(.null, 3) == "_\r\n")
        #expect(text(.nullArray, 2) == "*-1\r\n")
        #expect(text(.boolean(true), 2) == ":1\r\n")
        #expect(text(.boolean(false), 3) == "#f\r\n")
        #expect(text(.double(1.5), 2) == "$3\r\n1.5\r\n")
        #expect(text(.double(3), 3) == ",3\r\n")
        #expect(text(.double(-.infinity), 3) == ",-inf\r\n")
        let map = RESPValue.map([(.text("a"), .integer(1)), (.text("b"), .array([.text("c")]))])
        #expect(text(map, 2) == "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n*1\r\n$1\r\nc\r\n")
        #expect(text(map, 3) == "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n*1\r\n$1\r\nc\r\n")
        #expect(text(.set([.text("x")]), 2) == "*1\r\n$1\r\nx\r\n")
        #expect(text(.set([.text("x")]), 3) == "~1\r\n$1\r\nx\r\n")
    }

    @Test func lineBreaksInsideSimpleStringsAndErrorsCannotBreakTheFraming() {
        #expect(text(.error("ERR bad\r\nkey"), 2) == "-ERR bad  key\r\n")
        #expect(text(.simple("a\nb"), 3) == "+a b\r\n")
    }
}
