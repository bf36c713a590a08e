import Testing

@testable import SessionCluster

/// Random damage to real configuration files never traps the parser: every mutant parses or is refused with a
/// `ConfigurationError` whose position, when it has one, lies inside the document.
@Suite struct ConfigurationFuzzTests {
    /// xorshift64: tiny, deterministic, and good enough to pick mutations.
    struct XorShift {
        var state: UInt64

        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }

        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }
    }

    /// Bytes that matter to the grammar, so mutations often produce near-valid JSON rather than noise.
    static let interesting =
        Array(#"{}[]",:\-+.eE0123456789 tfnu/*"#.utf8) + [0x00, 0x0A, 0x1F, 0x7F, 0x80, 0xC3, 0xED, 0xF4, 0xFF]

    static func mutate(_ original: [UInt8], _ random: inout XorShift) -> [UInt8] {
        var bytes = original
        for _ in 0...random.below(4) {
            let index = random.below(bytes.count + 1)
            let byte =
                random.below(2) == 0
                ? interesting[random.below(interesting.count)] : UInt8(truncatingIfNeeded: random.next())
            switch random.below(7) {
            case 0 where index < bytes.count: bytes[index] ^= 1 << UInt8(random.below(8))
            case 1 where index < bytes.count: bytes[index] = byte
            case 2: bytes.insert(byte, at: index)
            case 3 where index < bytes.count:
                bytes.removeSubrange(index..<min(bytes.count, index + 1 + random.below(16)))
            case 4: bytes.removeSubrange(index...)
            case 5 where index < bytes.count:
                let chunk = bytes[index..<min(bytes.count, index + 1 + random.below(32))]
                bytes.insert(contentsOf: chunk, at: random.below(bytes.count + 1))
            case 6 where index < bytes.count:
                // Swap a digit for another: keeps the syntax, changes ports, counts and names.
                if (0x30...0x39).contains(bytes[index]) { bytes[index] = 0x30 + UInt8(random.below(10)) }
            default: break
            }
        }
        return bytes
    }

    @Test func twentyThousandMutationsOfTheShippedFilesNeverTrap() throws {
        let files = ConfigurationFixtures.shippedFiles.map(ConfigurationFixtures.shippedBytes)
        try #require(files.allSatisfy { !$0.isEmpty })
        var random = XorShift(state: 0x9E37_79B9_7F4A_7C15)
        var accepted = 0
        var syntaxErrors = 0
        var valueErrors = 0
        for _ in 0..<100_000 {
            let mutant = Self.mutate(files[random.below(files.count)], &random)
            do throws(ConfigurationError) {
                let configuration = try ClusterConfiguration.parse(mutant)
                accepted += 1
                // Whatever was accepted is fully valid and converts to valid core settings.
                try configuration.validate()
                #expect(throws: Never.self) { try configuration.membershipSettings().validate() }
                #expect(throws: Never.self) { try configuration.replicationSettings().validate() }
            } catch {
                #expect(!error.description.isEmpty)
                if let line = error.line, let column = error.column {
                    syntaxErrors += 1
                    let lines = mutant.count { $0 == UInt8(ascii: "\n") } + 1
                    #expect((1...lines).contains(line), "\(error)")
                    #expect(column >= 1 && column <= mutant.count + 1, "\(error)")
                } else {
                    valueErrors += 1
                    #expect(!error.keyPath.isEmpty || error.value != nil, "\(error)")
                }
            }
        }
        // The mutator must reach all three outcomes, or this test proves little.
        #expect(accepted > 200)
        #expect(syntaxErrors > 2_000)
        #expect(valueErrors > 200)
    }
}
