import Foundation
import Testing

/// Runs `body` on a thread of its own and returns its result.
///
/// Swift's cooperative pool has one thread per core (two here) and `swift test` runs every suite on it at once.
/// A test that computes for seconds (fuzzing) or blocks in a syscall (sockets, `usleep`, `waitUntilExit`) holds
/// one of those threads the whole time and starves every async test that polls a real node. Such work belongs
/// here. `body` MUST NOT call `#expect` or `Issue.record`: they need the test's task context, which a foreign
/// thread lacks; it returns its findings (e.g. ``Findings``) for the test to record.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.stackSize = 8 << 20  // like the main thread's: the fuzzers recurse into parsers
        thread.start()
    }
}

/// Throwing form of ``onOwnThread(_:)``: an error thrown by `body` is rethrown to the awaiting test.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await onOwnThread { () -> Result<T, any Error> in Result { try body() } }.get()
}

/// Failed checks collected where `#expect` cannot run (off the test's task), recorded later by the test with
/// ``record()`` at the places they were made.
public struct Findings: Sendable {
    /// At most this many failures are kept: a broken invariant in a 100,000-round loop would otherwise flood
    /// the report. The count of all failures is still reported.
    public static let kept = 20

    public private(set) var failures: [(message: String, location: SourceLocation)] = []
    /// Every failed check, including those beyond ``kept``.
    public private(set) var failureCount = 0

    public init() {}

    /// Notes a failure unless `condition` holds (`#expect`'s meaning, without its task context).
    public mutating func expect(
        _ condition: Bool, _ message: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard !condition else { return }
        fail(message(), sourceLocation: sourceLocation)
    }

    /// Notes a failure (`Issue.record`'s meaning, without its task context).
    public mutating func fail(_ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        failureCount += 1
        if failures.count < Self.kept { failures.append((message, sourceLocation)) }
    }

    /// Records every kept failure as an issue of the current test; call it on the test's task.
    public func record() {
        for failure in failures {
            Issue.record(Comment(rawValue: "failed check: \(failure.message)"), sourceLocation: failure.location)
        }
        if failureCount > failures.count {
            Issue.record(Comment(rawValue: "\(failureCount - failures.count) more failed checks not shown"))
        }
    }
}
