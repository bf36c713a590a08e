import Foundation
import SessionCluster
import SessionClusterCore
import Synchronization
import Testing

extension ClusterNodeTests {
    /// Runs `operation`, failing the test (instead of hanging the run) when it has not returned within `seconds`.
    /// The operation runs in a task of its own, so one that never returns is left behind, not awaited. A hang guard,
    /// not a speed test: on a busy machine the operation's task may wait seconds for a cooperative thread, so the
    /// bounds are generous (never below 10 s).
    static func within<T: Sendable>(
        _ seconds: Int, _ what: String, _ operation: @escaping @Sendable () async -> T
    ) async -> T? {
        let answer = FirstAnswer<T?>()
        return await withCheckedContinuation { continuation in
            answer.waiting(continuation)
            Task { answer.resume(with: await operation()) }
            Task {
                try? await Task.sleep(for: .seconds(max(seconds, 10)))
                if answer.resume(with: nil) { Issue.record("\(what) did not return within \(max(seconds, 10)) s") }
            }
        }
    }

    /// A node dropped without `shutdown()` stops its loop: before, its timers reached the freed runtime and the
    /// process aborted ("read an unowned reference … already destroyed") at the next tick — a test that failed half-way
    /// took the whole run down with it.
    @Test func aNodeDroppedWithoutShutdownStopsItsLoopInsteadOfCrashing() async throws {
        let directory = NSTemporaryDirectory() + "sessioncluster-dropped-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var settings = Self.settings("n1", multicast: Self.uniqueMulticast())
        settings.persistence = PersistenceSettings(directory: directory, mode: .log)
        do {
            let node = try await ClusterNode.start(settings)
            _ = try await node.create { $0.set("user", "alice") }
        }
        // Past several ticks, a log tick and a 2 ms log batch.
        try await Task.sleep(for: .milliseconds(1_500))
        // Its directory lock went with it: the same node starts again.
        let again = try await ClusterNode.start(settings)
        await again.shutdown()
    }

    @Test func shutdownIsIdempotentAndLaterCallsFailAtOnce() async throws {
        let node = try await ClusterNode.start(Self.settings("n1", multicast: Self.uniqueMulticast()))
        let login = try await node.create { $0.set("user", "alice") }

        // Two concurrent shutdowns and one after them: each returns (the second waits for the first).
        _ = await Self.within(10, "two concurrent shutdowns") {
            async let first: Void = node.shutdown()
            async let second: Void = node.shutdown()
            _ = await (first, second)
            return true
        }
        _ = await Self.within(2, "a third shutdown") { await node.shutdown() }
        _ = await Self.within(2, "crashForTesting after shutdown") { await node.crashForTesting() }

        // Every call after the stop fails at once with `.shuttingDown` (or answers empty).
        let outcomes = await Self.within(5, "calls after shutdown") { () -> [SessionError?] in
            func failure(_ call: () async throws -> Void) async -> SessionError? {
                do {
                    try await call()
                    return nil
                } catch {
                    return error as? SessionError
                }
            }
            return [
                await failure { _ = try await node.read(login.id, token: login.version) },
                await failure { _ = try await node.create { $0.set("user", "bob") } },
                await failure {
                    _ = try await node.update(login.id, token: nil) { _, changes in changes.set("a", "b") }
                },
                await failure { try await node.invalidate(login.id, token: nil) },
                await failure { _ = try await node.changeID(login.id, token: nil) },
                await failure { _ = try await node.create(id: SessionID(name: "cart-1")) { $0.set("a", "b") } },
                await failure {
                    _ = try await node.update(SessionID(name: "cart-1"), token: nil, creatingIfAbsent: true) { _, _ in }
                },
            ]
        }
        #expect(outcomes == Array(repeating: .shuttingDown, count: 7))
        let keyring = await Self.within(2, "updateKeyring after shutdown") { () -> KeyringError? in
            do throws(KeyringError) {
                try await node.updateKeyring { _ in }
                return nil
            } catch {
                return error
            }
        }
        #expect(keyring??.description.contains("shutting down") == true)
        // The events of a stopped node end at once; run() returns at once.
        let ended = await Self.within(2, "events after shutdown") { () -> Int in
            var count = 0
            for await _ in node.events { count += 1 }
            return count
        }
        #expect(ended == 0)
        _ = await Self.within(2, "run() after shutdown") { await node.run() }
        let members = await Self.within(2, "members() after shutdown") { await node.members() }
        #expect(members == [])
        let stats = await Self.within(2, "stats() after shutdown") { await node.stats() }
        #expect(stats?.sessions == 1, "the last figures stay readable")

        // The callback twins answer too, at once, from the caller's thread.
        let answered = Mutex<[SessionError]>([])
        node.read(login.id, token: nil) { result in
            if case .failure(let error) = result { answered.withLock { $0.append(error) } }
        }
        node.create(SessionChanges()) { result in
            if case .failure(let error) = result { answered.withLock { $0.append(error) } }
        }
        node.invalidate(login.id, token: nil) { result in
            if case .failure(let error) = result { answered.withLock { $0.append(error) } }
        }
        #expect(answered.withLock { $0 } == [.shuttingDown, .shuttingDown, .shuttingDown])
    }

    @Test func callsRacingAShutdownAllReturn() async throws {
        let node = try await ClusterNode.start(Self.settings("n1", multicast: Self.uniqueMulticast()))
        let login = try await node.create { $0.set("user", "alice") }
        // Many reads in flight while the node stops: each one answers (served, or `.shuttingDown`), none hangs.
        let answered = await Self.within(15, "reads racing a shutdown") { () -> Int in
            await withTaskGroup(of: Bool.self) { group in
                for index in 0..<400 {
                    group.addTask {
                        if index == 200 { await node.shutdown() }
                        do {
                            _ = try await node.read(login.id, token: nil)
                            return true
                        } catch {
                            return error as? SessionError == .shuttingDown
                        }
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
        }
        #expect(answered == 400)
    }
}

/// Resumes one continuation with whichever answer comes first.
final class FirstAnswer<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, Never>?>(nil)

    func waiting(_ waiter: CheckedContinuation<T, Never>) { continuation.withLock { $0 = waiter } }

    /// Returns whether this answer was the first.
    @discardableResult
    func resume(with value: T) -> Bool {
        guard let waiter = continuation.withLock({ $0.take() }) else { return false }
        waiter.resume(returning: value)
        return true
    }
}
