import Testing

@testable import SessionCluster

/// Malformed JSON is refused with a line and column; well-formed JSON is read exactly.
@Suite struct ConfigurationSyntaxTests {
    /// The syntax error `text` causes, as "line:column message".
    private func syntaxError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationError? {
        syntaxError(Array(text.utf8), sourceLocation: sourceLocation)
    }

    private func syntaxError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationError?
    {
        let error = ConfigurationFixtures.error(bytes, sourceLocation: sourceLocation)
        #expect(error?.keyPath == "", sourceLocation: sourceLocation)
        #expect(error?.line != nil && error?.column != nil, sourceLocation: sourceLocation)
        return error
    }

    @Test func trailingCommaInObjectIsReportedAtTheComma() {
        let error = syntaxError("{\n  \"cluster\": \"x\",\n}")
        #expect(error?.description == "line 2, column 17: trailing comma before '}' is not allowed in JSON")
    }

    @Test func trailingCommaInArrayIsReportedAtTheComma() {
        let error = syntaxError("{\"nodes\": [1, 2 ,\n]}")
        #expect(error?.line == 1)
        #expect(error?.column == 17)
        #expect(error?.problem == "trailing comma before ']' is not allowed in JSON")
    }

    @Test func lineCommentIsRefused() {
        let error = syntaxError("{\n  // the demo cluster\n  \"cluster\": \"x\"\n}")
        #expect(error?.description == "line 2, column 3: comments are not allowed in JSON")
    }

    @Test func blockCommentAfterAValueIsRefused() {
        let error = syntaxError("{\"cluster\": \"x\" /* why */}")
        #expect(error?.line == 1)
        #expect(error?.column == 17)
        #expect(error?.problem == "comments are not allowed in JSON")
    }

    @Test func duplicateKeyIsNamedAtItsSecondOccurrence() {
        let error = syntaxError("{\"membership\": {\n  \"heartbeatMillis\": 500,\n  \"heartbeatMillis\": 250}}")
        #expect(error?.description == #"line 3, column 3: duplicate key "heartbeatMillis" in the same object"#)
    }

    @Test func unterminatedStringIsReportedWhereItOpens() {
        let error = syntaxError("{\n  \"cluster\": \"demo,\n  \"secret\": \"x\"\n}")
        #expect(error?.line == 2)
        #expect(error?.column == 14)
        #expect(error?.problem.hasPrefix("unterminated string") == true)
        let atEnd = syntaxError("{\"cluster\": \"demo")
        #expect(atEnd?.line == 1)
        #expect(atEnd?.column == 13)
    }

    @Test func nestingOneHundredLevelsIsRefusedAtLevelSixtyFive() {
        let text = "{\"cluster\": " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"
        let error = syntaxError(text)
        #expect(error?.problem == "arrays and objects are nested more than 64 levels deep")
        #expect(error?.line == 1)
        #expect(error?.column == 13 + 63)  // the 64th "[" opens level 65 (the object is level 1)
    }

    @Test func nestingOfExactlySixtyFourLevelsParses() throws {
        let text = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSONParser.parse(Array(text.utf8)) }
        let deeper = "[" + text + "]"
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(deeper.utf8)) }
    }

    @Test func inputOverOneMebibyteIsRefusedBeforeParsing() {
        var bytes = ConfigurationFixtures.document()
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 << 20))
        let error = syntaxError(bytes)
        #expect(error?.problem == "the document is \(bytes.count) bytes, more than the limit of 1048576 bytes")
        #expect(error?.line == 6)  // the limit falls in the padding after the 5-line document
    }

    @Test func inputOfExactlyOneMebibyteIsParsed() throws {
        var bytes = ConfigurationFixtures.document()
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (1 << 20) - bytes.count))
        #expect(throws: Never.self) { try ClusterConfiguration.parse(bytes) }
    }

    struct SyntaxCase: Sendable, CustomTestStringConvertible {
        let bytes: [UInt8]
        let line: Int
        let column: Int
        let problem: String
        var testDescription: String { problem }

        init(_ text: String, _ line: Int, _ column: Int, _ problem: String) {
            self.init(Array(text.utf8), line, column, problem)
        }

        init(_ bytes: [UInt8], _ line: Int, _ column: Int, _ problem: String) {
            self.bytes = bytes
            self.line = line
            self.column = column
            self.problem = problem
        }
    }

    static let syntaxCases: [SyntaxCase] = [
        .init("", 1, 1, "unexpected end of input; expected a value"),
        .init("  \n ", 2, 2, "unexpected end of input; expected a value"),
        .init("{} x", 1, 4, "unexpected content after the end of the JSON document"),
        .init("{}{}", 1, 3, "unexpected content after the end of the JSON document"),
        .init("{cluster: 1}", 1, 2, "unexpected 'c'; expected a key in double quotes"),
        .init("{'cluster': 1}", 1, 2, "unexpected '''; expected a key in double quotes"),
        .init("{“cluster”: 1}", 1, 2, "unexpected '“' (U+201C); expected a key in double quotes"),
        .init("{\"a\" 1}", 1, 6, "unexpected '1'; expected ':' after the key"),
        .init("{\"a\": 1 \"b\": 2}", 1, 9, "unexpected '\"'; expected ',' or '}'"),
        .init("[1 2]", 1, 4, "unexpected '2'; expected ',' or ']'"),
        .init("[1,,2]", 1, 4, "unexpected ','; expected a value"),
        .init("{\"a\": tru}", 1, 10, "unexpected '}'; expected true"),
        .init("{\"a\": nul", 1, 10, "unexpected end of input; expected null"),
        .init("{\"a\": True}", 1, 7, "unexpected 'T'; expected a value"),
        .init("{\"a\": 01}", 1, 7, "numbers must not have leading zeros"),
        .init("{\"a\": 1.}", 1, 9, "expected a digit after the decimal point"),
        .init("{\"a\": 1e}", 1, 9, "expected a digit after the exponent marker"),
        .init("{\"a\": -}", 1, 8, "unexpected '}'; expected a digit after '-'"),
        .init("{\"a\": +1}", 1, 7, "unexpected '+'; expected a value"),
        .init("{\"a\": .5}", 1, 7, "unexpected '.'; expected a value"),
        .init("{\"a\": NaN}", 1, 7, "unexpected 'N'; expected a value"),
        .init(
            "{\"a\": \"x\\qy\"}", 1, 9, "invalid escape \\q; JSON allows \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX"),
        .init("{\"a\": \"\\u12G4\"}", 1, 12, "\\u must be followed by four hexadecimal digits"),
        .init("{\"a\": \"\\uD800\"}", 1, 8, "\\uD800 is half of a UTF-16 surrogate pair without its other half"),
        .init("{\"a\": \"\\uDC00\\uD800\"}", 1, 8, "\\uDC00 is half of a UTF-16 surrogate pair without its other half"),
        .init("{\"a\": \"\\uD800\\u0041\"}", 1, 8, "\\uD800 is half of a UTF-16 surrogate pair without its other half"),
        .init("{\"a\": \"x\ty\"}", 1, 9, "control character U+0009 must be escaped inside a string"),
        .init("{\"a\": \"é\u{0}\"}", 1, 9, "control character U+0000 must be escaped inside a string"),
        .init([0x7B, 0x22, 0xC0, 0x80, 0x22, 0x3A, 0x31, 0x7D], 1, 3, "invalid UTF-8 byte sequence"),  // overlong NUL
        // An encoded surrogate, then a scalar above U+10FFFF.
        .init([0x7B, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x3A, 0x31, 0x7D], 1, 3, "invalid UTF-8 byte sequence"),
        .init([0x7B, 0x22, 0xF4, 0x90, 0x80, 0x80, 0x22, 0x3A, 0x31, 0x7D], 1, 3, "invalid UTF-8 byte sequence"),
        .init([0x7B, 0x22, 0xE2, 0x82, 0x22, 0x3A, 0x31, 0x7D], 1, 3, "invalid UTF-8 byte sequence"),  // truncated
        .init([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], 1, 3, "invalid UTF-8 byte sequence"),
        .init([0x7B, 0xFF, 0x7D], 1, 2, "unexpected byte 0xFF; expected a key in double quotes"),
        .init("{\"naïve\": [1,\n\"x\" \"y\"]}", 2, 5, "unexpected '\"'; expected ',' or ']'"),
        .init("{\"é\": 1,}", 1, 8, "trailing comma before '}' is not allowed in JSON"),  // columns count scalars
        .init("\u{FEFF}{,}", 1, 2, "unexpected ','; expected a key in double quotes"),  // the BOM is not a column
    ]

    @Test(arguments: syntaxCases)
    func malformedJSONIsReportedWithLineAndColumn(_ testCase: SyntaxCase) {
        let error = syntaxError(testCase.bytes)
        #expect(error?.problem == testCase.problem)
        #expect(error?.line == testCase.line)
        #expect(error?.column == testCase.column)
        #expect(error?.value == nil)
    }

    @Test func byteOrderMarkIsIgnored() throws {
        let bytes = [0xEF, 0xBB, 0xBF] + ConfigurationFixtures.document()
        #expect(try ClusterConfiguration.parse(bytes).cluster == "test")
    }

    @Test func integersStayExactAndOtherNumbersAreNotIntegers() throws {
        let value = try JSONParser.parse(
            Array("[47001, -0, 9223372036854775807, 9223372036854775808, 1.5, 1e400, 2E+3, -1e-2]".utf8))
        guard case .array(let elements) = value else {
            Issue.record("not an array: \(value)")
            return
        }
        let numbers = elements.compactMap { element -> JSONNumber? in
            if case .number(let number) = element { number } else { nil }
        }
        #expect(numbers.map(\.integer) == [47_001, 0, .max, nil, nil, nil, nil, nil])
        #expect(numbers.map(\.isIntegerLiteral) == [true, true, true, true, false, false, false, false])
        #expect(numbers.map(\.text)[5] == "1e400")
        #expect(numbers[6].double == 2_000)
    }

    @Test func escapesAndSurrogatePairsDecode() throws {
        let value = try JSONParser.parse(Array(#""\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00é😀""#.utf8))
        #expect(value == .string("\"\\/\u{8}\u{C}\n\r\tAé😀é😀"))
    }

    @Test func objectsKeepDocumentOrderAndAllKinds() throws {
        let value = try JSONParser.parse(Array(#" {"z": null, "a": [true, false, {}], "m": "", "n": -2} "#.utf8))
        let expected: JSONValue = .object([
            ("z", .null), ("a", .array([.bool(true), .bool(false), .object([])])), ("m", .string("")),
            ("n", .number(JSONNumber(text: "-2", isIntegerLiteral: true))),
        ])
        #expect(value == expected)
    }

    @Test func duplicateKeysInDifferentObjectsAreFine() throws {
        #expect(throws: Never.self) { try JSONParser.parse(Array(#"{"a": {"a": 1}, "b": {"a": 2}}"#.utf8)) }
    }
}
