import TestSupport
import Testing

@testable import SessionCluster

/// Random damage to real configuration files never traps the parser: every mutant parses or is refused with a
/// `ConfigurationError` whose position, when it has one, lies inside the document. The mutants are parsed on a
/// thread of their own (`onOwnThread`): seconds of parsing on the cooperative pool would starve the suites that
/// run real nodes at the same time.
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

    @Test func twentyThousandMutationsOfTheShippedFilesNeverTrap() async throws {
        let files = ConfigurationFixtures.shippedFiles.map(ConfigurationFixtures.shippedBytes)
        try #require(files.allSatisfy { !$0.isEmpty })
        let outcome = await onOwnThread { Self.parseMutants(of: files) }
        outcome.findings.record()
        // The mutator must reach all three outcomes, or this test proves little.
        #expect(outcome.accepted > 200)
        #expect(outcome.syntaxErrors > 2_000)
        #expect(outcome.valueErrors > 200)
    }

    /// Parses 100,000 mutants of `files`, counting each outcome and checking what every outcome promises.
    static func parseMutants(
        of files: [[UInt8]]
    ) -> (accepted: Int, syntaxErrors: Int, valueErrors: Int, findings: Findings) {
        var findings = Findings()
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
                do { try configuration.membershipSettings().validate() } catch {
                    findings.fail("accepted file gives invalid membership settings: \(error)")
                }
                do { try configuration.replicationSettings().validate() } catch {
                    findings.fail("accepted file gives invalid replication settings: \(error)")
                }
            } catch {
                findings.expect(!error.description.isEmpty)
                if let line = error.line, let column = error.column {
                    syntaxErrors += 1
                    let lines = mutant.count { $0 == UInt8(ascii: "\n") } + 1
                    findings.expect((1...lines).contains(line), "\(error)")
                    findings.expect(column >= 1 && column <= mutant.count + 1, "\(error)")
                } else {
                    valueErrors += 1
                    findings.expect(!error.keyPath.isEmpty || error.value != nil, "\(error)")
                }
            }
        }
        return (accepted, syntaxErrors, valueErrors, findings)
    }
}
