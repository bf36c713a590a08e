import Testing

@testable import RESPFrontEnd

/// The RESP request parser: both command forms, pipelining, arbitrary read boundaries, Redis's protocol errors,
/// and the limits that keep a client from making the node buffer much.
@Suite struct RESPCommandParserTests {
    private func words(_ strings: String...) -> [[UInt8]] { strings.map { Array($0.utf8) } }

    /// Every command in `input`, fed in one piece.
    private func parse(_ input: String, limits: RESPLimits = RESPLimits()) throws -> [[[UInt8]]] {
        var parser = RESPCommandParser(limits: limits)
        parser.append(Array(input.utf8))
        var commands = [[[UInt8]]]()
        while let command = try parser.next() { commands.append(command) }
        return commands
    }

    private func failure(_ input: String, limits: RESPLimits = RESPLimits(), authenticated: Bool = true) -> String? {
        var parser = RESPCommandParser(limits: limits, authenticated: authenticated)
        parser.append(Array(input.utf8))
        do {
            while try parser.next() != nil {}
            return nil
        } catch {
            #expect(parser.isFailed)
            return error.message
        }
    }

    @Test func multibulkCommandsComeOutPipelinedAndInOrder() throws {
        let input = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n"
        #expect(try parse(input) == [words("GET", "k"), words("SET", "k", ""), words("PING")])
    }

    @Test func bulkStringsAreBinarySafe() throws {
        var parser = RESPCommandParser()
        let value: [UInt8] = [0, 13, 10, 255, 36, 42]
        parser.append(Array("*2\r\n$3\r\nSET\r\n$6\r\n".utf8) + value + [13, 10])
        #expect(try parser.next() == [Array("SET".utf8), value])
        #expect(parser.isIdle)
    }

    @Test func everySplitOfTheInputGivesTheSameCommands() throws {
        let input = Array("*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\nPING\r\nSET a \"b c\"\n*0\r\n*1\r\n$4\r\nQUIT\r\n".utf8)
        let expected = [words("ECHO", "hello"), words("PING"), words("SET", "a", "b c"), words("QUIT")]
        for cut in 0...input.count {
            var parser = RESPCommandParser()
            var commands = [[[UInt8]]]()
            parser.append(input[..<cut])
            while let command = try parser.next() { commands.append(command) }
            parser.append(input[cut...])
            while let command = try parser.next() { commands.append(command) }
            #expect(commands == expected, "split at \(cut)")
        }
        // One byte at a time.
        var parser = RESPCommandParser()
        var commands = [[[UInt8]]]()
        for byte in input {
            parser.append([byte])
            while let command = try parser.next() { commands.append(command) }
        }
        #expect(commands == expected)
    }

    @Test func inlineCommandsSplitLikeRedis() throws {
        #expect(try parse("set k v\r\n") == [words("set", "k", "v")])
        #expect(try parse("  GET   spaced  \n") == [words("GET", "spaced")])
        #expect(try parse("SET k \"a\\nb\\x41\\\"\"\r\n") == [words("SET", "k", "a\nbA\"")])
        #expect(try parse("SET k 'it\\'s'\r\n") == [words("SET", "k", "it's")])
        #expect(try parse("SET k \"\"\r\n") == [words("SET", "k", "")])
        #expect(try parse("\r\n\r\nPING\r\n") == [words("PING")], "empty lines are skipped")
    }

    @Test func emptyAndNegativeMultibulksAreSkipped() throws {
        #expect(try parse("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n") == [words("PING")])
    }

    @Test func malformedInputGetsRedisProtocolErrors() {
        #expect(failure("*x\r\n") == "invalid multibulk length")
        #expect(failure("*1\r\n+PING\r\n") == "expected '$', got '+'")
        #expect(failure("*1\r\n$x\r\n") == "invalid bulk length")
        #expect(failure("*1\r\n$-1\r\n") == "invalid bulk length")
        #expect(failure("SET k \"unterminated\r\n") == "unbalanced quotes in request")
        #expect(failure("SET k \"a\"b\r\n") == "unbalanced quotes in request")
        #expect(failure("*3000000000\r\n") == "invalid multibulk length")
    }

    @Test func limitsFailBeforeTheBytesArrive() {
        var limits = RESPLimits()
        limits.maxArguments = 4
        limits.maxBulkBytes = 10
        limits.maxInlineBytes = 32
        #expect(failure("*5\r\n", limits: limits) == "invalid multibulk length")
        limits.maxSkippedBulkBytes = 20
        #expect(failure("*1\r\n$21\r\n", limits: limits) == "invalid bulk length")
        #expect(failure(String(repeating: "a", count: 40), limits: limits) == "too big inline request")
        #expect(failure("*" + String(repeating: "1", count: 40), limits: limits) == "too big mbulk count string")
        #expect(failure("*1\r\n$" + String(repeating: "1", count: 40), limits: limits) == "too big bulk count string")
    }

    @Test func oneCommandHoldsAtMostMaxCommandBytes() throws {
        var limits = RESPLimits()
        limits.maxCommandBytes = 100
        // 3 + 1 + 50 + 46 = 100 bytes of arguments: taken.
        let fits =
            "*4\r\n$3\r\nDEL\r\n$1\r\na\r\n$50\r\n\(String(repeating: "b", count: 50))\r\n$46\r\n"
            + String(repeating: "c", count: 46) + "\r\n"
        #expect(try parse(fits + fits, limits: limits).count == 2)
        // One byte more fails at the header that announces it, before its bytes arrive.
        #expect(
            failure(
                "*4\r\n$3\r\nDEL\r\n$1\r\na\r\n$50\r\n\(String(repeating: "b", count: 50))\r\n$47\r\n", limits: limits)
                == "command of more than 100 bytes")
    }

    @Test func integersAreReadAsRedisReadsThem() {
        func integer(_ text: String) -> Int? { RESPCommandParser.integer(Array(text.utf8)[...]) }
        #expect(integer("0") == 0 && integer("7") == 7 && integer("-12") == -12)
        #expect(integer("9223372036854775807") == .max)
        for bad in ["01", "-0", "-", "", "+1", " 1", "1 ", "9223372036854775808", "1e3"] {
            #expect(integer(bad) == nil, "\(bad)")
        }
        #expect(failure("*01\r\n$4\r\nPING\r\n") == "invalid multibulk length")
        #expect(failure("*1\r\n$04\r\nPING\r\n") == "invalid bulk length")
    }

    @Test func anOversizedArgumentIsReadPastAndItsCommandRefused() throws {
        var limits = RESPLimits()
        limits.maxBulkBytes = 10
        limits.maxSkippedBulkBytes = 1_000
        var parser = RESPCommandParser(limits: limits)
        let big = String(repeating: "v", count: 500)
        let input = Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500\r\n\(big)\r\n*1\r\n$4\r\nPING\r\n".utf8)
        var items = [RESPCommandParser.Item]()
        // In small pieces: the skipped bytes are never held.
        for start in stride(from: 0, to: input.count, by: 7) {
            parser.append(input[start..<min(start + 7, input.count)])
            while let item = try parser.nextItem() { items.append(item) }
            #expect(parser.bufferedByteCount <= 7 + 16)
        }
        #expect(items == [.tooLarge(bytes: 500), .command(words("PING"))])
        #expect(parser.isIdle)
        // `next()` passes over the refused command.
        var plain = RESPCommandParser(limits: limits)
        plain.append(input)
        #expect(try plain.next() == words("PING"))
        // Before authentication the small limit still closes the connection.
        #expect(failure("*2\r\n$4\r\nAUTH\r\n$16385\r\n", authenticated: false) == "unauthenticated bulk length")
    }

    @Test func unauthenticatedClientsGetTheSmallLimits() {
        #expect(failure("*11\r\n", authenticated: false) == "unauthenticated multibulk length")
        #expect(failure("*2\r\n$4\r\nAUTH\r\n$16385\r\n", authenticated: false) == "unauthenticated bulk length")
        #expect(failure("*11\r\n", authenticated: true) == nil)
    }

    @Test func aFailedParserStaysFailedAndDropsItsBuffer() {
        var parser = RESPCommandParser()
        parser.append(Array("*1\r\n$x\r\n".utf8))
        #expect(throws: RESPProtocolError.self) { try parser.next() }
        parser.append(Array("*1\r\n$4\r\nPING\r\n".utf8))
        #expect(throws: RESPProtocolError("invalid bulk length")) { try parser.next() }
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func consumedBytesAreCompactedAway() throws {
        var parser = RESPCommandParser()
        let command = Array("*1\r\n$4\r\nPING\r\n".utf8)
        for _ in 0..<10_000 {
            parser.append(command)
            #expect(try parser.next() != nil)
        }
        #expect(parser.bufferedByteCount == 0)
        #expect(parser.isIdle)
    }
}

/// Random bytes and mutated valid streams: the parser never traps, and never holds much more than one
/// argument's limit plus what was appended last.
@Suite struct RESPCommandParserFuzzTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func hundredThousandInputsNeverTrapAndStayBounded() {
        var random = Generator(state: 0x5E55_1011)
        var limits = RESPLimits()
        limits.maxBulkBytes = 64
        limits.maxInlineBytes = 64
        limits.maxArguments = 16
        let samples = [
            "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "SET a \"b\\x41\" 'c'\r\n", "*1\r\n$4\r\nPING\r\n", "*-1\r\n",
            "$5\r\nhello\r\n", "\"\\x4", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\n",
        ].map { Array($0.utf8) }
        let alphabet = Array("*$\r\n-0123456789 \"'\\xabGETSET".utf8)
        var commands = 0
        var failures = 0
        for _ in 0..<100_000 {
            var input = samples[Int.random(in: 0..<samples.count, using: &random)]
            for _ in 0..<Int.random(in: 0...4, using: &random) {
                let byte =
                    Bool.random(using: &random)
                    ? alphabet[Int.random(in: 0..<alphabet.count, using: &random)]
                    : UInt8.random(in: 0...255, using: &random)
                let at = Int.random(in: 0...input.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: input.insert(byte, at: at)
                case 1 where at < input.count: input[at] = byte
                default: if at < input.count { input.remove(at: at) }
                }
            }
            var parser = RESPCommandParser(limits: limits, authenticated: Bool.random(using: &random))
            var offset = 0
            feeding: while offset < input.count {
                let step = Int.random(in: 1...max(1, input.count - offset), using: &random)
                parser.append(input[offset..<offset + step])
                offset += step
                do {
                    while let command = try parser.next() {
                        #expect(!command.isEmpty)
                        commands += 1
                    }
                } catch {
                    failures += 1
                    break feeding
                }
                #expect(parser.bufferedByteCount <= 64 + 2 + 64 + step + 32)
            }
        }
        #expect(commands > 10_000)
        #expect(failures > 10_000)
    }
}
