import HTTPFrontEnd
import SessionCluster
import TestSupport
import Testing

/// Deterministic mutation fuzzing: whatever the bytes and however they are split, the parser returns requests or
/// throws `HTTPParseError` — it never traps or hangs, its buffer stays within the limits, and the chunking never
/// changes the outcome. The rounds run on a thread of their own (`onOwnThread`): seconds of computing on the
/// cooperative pool would starve the suites that run real nodes at the same time.
@Suite struct HTTPRequestParserFuzzTests {
    private static let seeds: [String] = [
        "GET / HTTP/1.1\r\nHost: node1\r\n\r\n",
        "GET /sessions/abc?x=1&y=a+b HTTP/1.1\r\nHost: n\r\nAccept: application/json\r\n\r\n",
        "POST /sessions HTTP/1.1\r\nHost: n\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
            + "{\"a\":\"b c\"}\r\n",
        "PUT /sessions/s1/attributes/cart HTTP/1.1\r\nContent-Length: 5\r\nCookie: SID=abc.node2; VT=q\r\n\r\nhello",
        "DELETE /sessions/s1 HTTP/1.1\r\nConnection: close\r\n\r\n",
        "GET /health HTTP/1.0\r\n\r\n",
        "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 21\r\n\r\n"
            + "user=al%20ice+x&b=%4",
        "GET http://node1:8080/metrics HTTP/1.1\r\nHost: node1:8080\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a HTTP/1.1\nHost: bare-lf\n\n",
        "\r\nGET /after-empty-line HTTP/1.1\r\n\r\n",
        "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
        "POST /upload HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n0123456789",
        "GET /%E2%82%AC/x%2Fy HTTP/1.1\r\nX-Empty:\r\nX-Spaces:   padded   \r\n\r\n",
        "HEAD /sessions/s2 HTTP/1.1\r\nCookie: a=1\r\nCookie: b=2; a=3\r\n\r\n",
        "POST /n HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
        "PATCH /sessions/s3 HTTP/1.1\r\nContent-Length: 3, 3\r\nUser-Agent: curl/8.5.0\r\n\r\nabc",
        "GET /q?%zz=1&&k HTTP/1.1\r\nConnection: Upgrade, close\r\nUpgrade: h2c\r\n\r\n",
        "POST /big HTTP/1.1\r\nContent-Length: 300\r\n\r\n" + String(repeating: "z", count: 300),
        // Well-formed HTTP/1.1 that this server refuses (501), so mutations explore the refusal too.
        "POST /chunked HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "GET /" + String(repeating: "p", count: 150) + " HTTP/1.1\r\n" + String(repeating: "H: v\r\n", count: 14)
            + "\r\n",
    ]

    /// Bytes that steer mutations towards the syntax: line endings, separators, escapes, digits.
    private static let interesting: [UInt8] = Array("\r\n :;,=%+/?#\t\"0123456789HTPGE".utf8) + [0, 0x7F, 0x80, 0xFF]

    private struct Outcome: Equatable {
        var requests: [String] = []
        /// The code only: the detail may say "no line ending yet" where a whole read saw the line's length.
        var error: HTTPParseError.Code?
        var status: Int?
    }

    private static func summary(_ request: HTTPRequest) -> String {
        let headers = request.headers.map { "\($0.name)=\($0.value)" }.joined(separator: "|")
        return "\(request.method) \(request.target) \(request.path) \(request.version) \(headers) \(request.body)"
    }

    private static func mutate(_ input: [UInt8], using random: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<7, using: &random) {
            case 0 where !bytes.isEmpty:
                bytes[position] ^= UInt8.random(in: 1...255, using: &random)
            case 1 where !bytes.isEmpty:
                bytes[position] = Self.interesting.randomElement(using: &random)!
            case 2:
                let count = Int.random(in: 1...8, using: &random)
                let inserted = (0..<count).map { _ in
                    Bool.random(using: &random)
                        ? Self.interesting.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
                }
                bytes.insert(contentsOf: inserted, at: position)
            case 3:
                bytes.removeSubrange(position...)
            case 4 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...64, using: &random))
                let copy = bytes[position..<end]
                bytes.insert(contentsOf: copy, at: Int.random(in: 0...bytes.count, using: &random))
            case 5 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...16, using: &random))
                bytes.removeSubrange(position..<end)
            default:
                bytes += Array(Self.seeds.randomElement(using: &random)!.utf8)
            }
        }
        return bytes
    }

    /// Feeds `bytes` in random chunks, checking the buffer bound after every append and every drain.
    private static func feed(
        _ bytes: [UInt8], limits: HTTPLimits, maxChunk: Int, using random: inout SplitMix64,
        findings: inout Findings
    ) -> Outcome {
        var parser = HTTPRequestParser(limits: limits)
        var outcome = Outcome()
        var start = 0
        var calls = 0
        repeat {
            let chunk = Int.random(in: 1...maxChunk, using: &random)
            let end = min(bytes.count, start + chunk)
            parser.append(bytes[start..<end])
            start = end
            // Plain checks rather than `#expect` in this hot loop: the macro's bookkeeping dominates a debug run.
            if parser.bufferedByteCount > limits.maxBufferedBytes + chunk {
                findings.fail("\(parser.bufferedByteCount) bytes buffered after a \(chunk)-byte append")
            }
            do {
                while let request = try parser.next() {
                    outcome.requests.append(summary(request))
                    calls += 1
                    if calls > bytes.count {
                        findings.fail("more requests than bytes: the parser loops")
                        return outcome
                    }
                }
                if parser.bufferedByteCount > limits.maxBufferedBytes {
                    findings.fail("\(parser.bufferedByteCount) bytes buffered with nothing left to parse")
                }
            } catch {
                outcome.error = error.code
                outcome.status = error.status
                if !parser.isFailed || parser.bufferedByteCount != 0 {
                    findings.fail("a failed parser still holds \(parser.bufferedByteCount) bytes")
                }
                return outcome
            }
        } while start < bytes.count
        return outcome
    }

    @Test func mutatedRequestsParseOrThrowWithinTheBufferBoundWhateverTheChunking() async {
        let (parsed, statuses, findings) = await onOwnThread { Self.mutatedRounds() }
        findings.record()
        #expect(parsed > 10_000, "too few mutated inputs still parse: \(parsed)")
        for status in [400, 413, 414, 431, 501, 505] {
            #expect(statuses[status, default: 0] > 0, "no mutation reached status \(status): \(statuses)")
        }
    }

    /// 100,000 mutated requests, each fed in chunks and whole: how many requests parsed, the error statuses seen.
    private static func mutatedRounds() -> (parsed: Int, statuses: [Int: Int], findings: Findings) {
        var findings = Findings()
        var random = SplitMix64(seed: 0xF0CC_AC1A)
        let tight = HTTPLimits(maxRequestLineBytes: 128, maxHeaderBytes: 160, maxHeaderCount: 8, maxBodyBytes: 256)
        let seedBytes = Self.seeds.map { Array($0.utf8) }
        var parsed = 0
        var statuses: [Int: Int] = [:]
        for round in 0..<100_000 {
            let bytes = mutate(seedBytes[round % seedBytes.count], using: &random)
            let limits = round % 2 == 0 ? HTTPLimits() : tight
            let maxChunk = [1, 7, 64, max(1, bytes.count)][round % 4]
            let chunked = feed(bytes, limits: limits, maxChunk: maxChunk, using: &random, findings: &findings)
            if maxChunk < bytes.count {
                let whole = feed(
                    bytes, limits: limits, maxChunk: max(1, bytes.count), using: &random, findings: &findings)
                if chunked != whole {
                    findings.fail("round \(round): chunking changed the outcome: \(chunked) vs \(whole)")
                }
            }
            parsed += chunked.requests.count
            if let status = chunked.status { statuses[status, default: 0] += 1 }
        }
        return (parsed, statuses, findings)
    }

    @Test func randomBytesNeverTrapOrOverfillTheBuffer() async {
        let findings = await onOwnThread { () -> Findings in
            var findings = Findings()
            var random = SplitMix64(seed: 7)
            let limits = HTTPLimits(maxRequestLineBytes: 32, maxHeaderBytes: 64, maxHeaderCount: 4, maxBodyBytes: 32)
            for _ in 0..<2_000 {
                let bytes = (0..<Int.random(in: 0...400, using: &random)).map { _ in
                    Self.interesting.randomElement(using: &random)!
                }
                _ = Self.feed(bytes, limits: limits, maxChunk: 16, using: &random, findings: &findings)
            }
            return findings
        }
        findings.record()
    }
}
