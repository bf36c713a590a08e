import Foundation
import SessionClusterCore
import Synchronization
import Testing

@testable import SessionCluster

/// Log records of a handler under test, and a gate the handler may wait on.
final class LogRecorder: Sendable {
    private let records = Mutex<[LogRecord]>([])
    private let gate = Mutex<Bool>(true)
    private let opened = DispatchSemaphore(value: 0)

    /// A recorder whose handler blocks (after recording) until `open()`.
    static func closed() -> LogRecorder {
        let recorder = LogRecorder()
        recorder.gate.withLock { $0 = false }
        return recorder
    }

    var all: [LogRecord] { records.withLock { $0 } }
    var messages: [String] { all.map(\.message) }

    /// The handler: records, then waits while the gate is closed.
    func handle(_ record: LogRecord) {
        records.withLock { $0.append(record) }
        guard !gate.withLock({ $0 }) else { return }
        opened.wait()
        opened.signal()  // the next blocked call (if any) passes too
    }

    func open() {
        gate.withLock { $0 = true }
        opened.signal()
    }

    /// Polls (10 ms) until `condition` holds of the records, at most `millis`; answers whether it did.
    func await(within millis: Int = 10_000, _ condition: ([LogRecord]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(millis)
        while !condition(all) {
            if ContinuousClock.now >= deadline { return condition(all) }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}

@Suite struct NodeLoggerTests {
    static let stamp: Int64 = 1_795_835_642_123  // 2026-11-28T03:14:02.123Z

    @Test func textFormIsLogfmtWithQuotedValues() {
        let record = LogRecord(
            level: .warning, message: "link reset",
            fields: [
                ("peer", "n2"), ("reason", "queue full"), ("empty", ""), ("quote", "say \"hi\""),
                ("path", "a\\b"), ("eq", "a=b"), ("odd key", "x"), ("line", "one\ntwo"),
            ],
            node: "n1", timestampMillis: Self.stamp)
        #expect(
            record.formatted
                == #"2026-11-28T03:14:02.123Z warning node=n1 link reset peer=n2 reason="queue full" empty="" "#
                + #"quote="say \"hi\"" path="a\\b" eq="a=b" odd_key=x line="one\ntwo""#)
        #expect(record[field: "reason"] == "queue full" && record[field: "missing"] == nil)
        // A message stays on one line; a node name with a space is quoted like a value.
        let multiline = LogRecord(level: .info, message: "a\nb", node: "my node", timestampMillis: 0)
        #expect(multiline.formatted == #"1970-01-01T00:00:00.000Z info node="my node" a\nb"#)
    }

    @Test func jsonFormKeepsFieldOrderAndEscapes() throws {
        let record = LogRecord(
            level: .info, message: "member \"joined\"", fields: [("peer", "n2"), ("msg", "clash"), ("tab", "a\tb")],
            node: "n1", timestampMillis: Self.stamp)
        #expect(
            record.json
                == #"{"ts":"2026-11-28T03:14:02.123Z","level":"info","node":"n1","msg":"member \"joined\"","#
                + #""peer":"n2","field.msg":"clash","tab":"a\tb"}"#)
        let parsed = try JSONSerialization.jsonObject(with: Data(record.json.utf8)) as? [String: String]
        #expect(parsed?["tab"] == "a\tb" && parsed?["msg"] == "member \"joined\"")
    }

    @Test func timestampsAreUTCWithMilliseconds() {
        #expect(LogRecord.iso8601(millis: Self.stamp) == "2026-11-28T03:14:02.123Z")
        #expect(LogRecord.iso8601(millis: 1_709_168_523_004) == "2024-02-29T01:02:03.004Z")
        #expect(LogRecord.iso8601(millis: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(LogRecord.iso8601(millis: -1) == "1969-12-31T23:59:59.999Z")
    }

    @Test func levelsAreOrderedAndNamed() {
        #expect(LogLevel.allCases == [.debug, .info, .notice, .warning, .error])
        #expect(LogLevel.allCases.allSatisfy { LogLevel(name: $0.description) == $0 })
        #expect(LogLevel(name: "verbose") == nil && LogLevel.debug < .info && LogLevel.warning < .error)
    }

    @Test func logSettingsHaveDefaultsAndAnEmptyQueueIsRefused() {
        var settings = ClusterNodeSettings(cluster: "c", name: "n1")
        #expect(settings.logLevel == .info && settings.logQueueCapacity == 10_000 && settings.logHandler == nil)
        settings.logQueueCapacity = 0
        #expect(throws: ConfigurationError.self) { try settings.validateLimits() }
    }

    @Test func recordsNameSessionsWithoutTheirWholeID() {
        var random = SystemRandomNumberGenerator()
        let id = SessionID(using: &random)
        let field = NodeRuntime.sessionField(id)
        #expect(field.key == "session" && field.value == id.encoded.prefix(8) + "…")
        #expect(!field.value.contains(id.encoded))
    }

    @Test func recordsBelowTheLevelAreNeitherBuiltNorDelivered() async {
        let recorder = LogRecorder()
        let logger = NodeLogger(node: "n1", level: .info, capacity: 100, handler: recorder.handle)
        var built = 0
        func message(_ text: String) -> String {
            built += 1
            return text
        }
        logger.log(.debug, message("dropped"), [("k", message("v"))])
        logger.log(.info, message("kept"))
        logger.log(.error, message("kept too"), [("peer", "n2")])
        logger.submit(LogRecord(level: .debug, message: "submitted", node: "n1", timestampMillis: 0))
        await logger.finish()
        #expect(built == 2, "the debug record's message and fields were built")
        #expect(recorder.messages == ["kept", "kept too"])
        #expect(recorder.all.allSatisfy { $0.node == "n1" } && recorder.all.last?[field: "peer"] == "n2")
        #expect(logger.dropped == 0)
        // Without a handler nothing is admitted at all.
        #expect(!NodeLogger(node: "n1", level: .debug, capacity: 1, handler: nil).admits(.error))
    }

    @Test func aFullQueueDropsCountsAndWarnsBeforeTheNextDelivery() async {
        let recorder = LogRecorder.closed()
        let logger = NodeLogger(node: "n1", level: .debug, capacity: 3, handler: recorder.handle)
        logger.log(.info, "r0")
        // r0 is in the handler, which blocks: the loop's side must still return at once.
        #expect(await recorder.await { $0.count == 1 })
        let start = ContinuousClock.now
        for index in 1...10 { logger.log(.info, "r\(index)") }
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(logger.dropped == 7)
        recorder.open()
        await logger.finish()
        #expect(recorder.messages == ["r0", "7 log records dropped", "r1", "r2", "r3"])
        let warning = recorder.all[1]
        #expect(warning.level == .warning && warning[field: "dropped"] == "7")
        // After `finish` nothing more is taken (and what is refused is counted).
        logger.log(.info, "late")
        #expect(recorder.messages.count == 5 && logger.dropped == 8)
    }

    @Test func finishDoesNotWaitForeverOnAStuckHandler() async {
        let recorder = LogRecorder.closed()
        let logger = NodeLogger(node: "n1", level: .debug, capacity: 3, handler: recorder.handle)
        logger.log(.info, "stuck")
        #expect(await recorder.await { $0.count == 1 })
        let start = ContinuousClock.now
        await logger.finish(waitingAtMostMillis: 200)
        #expect(ContinuousClock.now - start < .seconds(5))
        recorder.open()
    }
}
