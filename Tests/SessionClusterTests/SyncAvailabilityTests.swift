import Foundation
import SessionCluster
import SessionClusterCore
import Synchronization
import Testing

/// `sync` commits always answer: at once with no live peer to wait for, within `syncAckTimeoutMillis` when the
/// awaited peer dies. Requests go through the callback API and are polled, so a commit that never answers fails
/// the test instead of hanging it.
///
/// How long an answer took is measured by the callback itself (on the node's loop), not by the polling test: on a
/// busy machine the poller may not run for seconds, and must not mistake its own delay for the node's. The polls
/// themselves wait generously (they only prove that an answer comes at all) and look once more after the deadline.
@Suite(.serialized) struct SyncAvailabilityTests {
    /// An answer and when the callback delivered it.
    typealias Answer<T> = (value: T, at: ContinuousClock.Instant)

    /// Waits up to `seconds` (then looks once more) for `box` to be filled; returns what it holds and how long
    /// after `start` the callback filled it (ms).
    static func answer<T: Sendable>(
        _ box: borrowing Mutex<Answer<T>?>, since start: ContinuousClock.Instant, within seconds: Int = 30
    ) async throws -> (T?, Int) {
        let deadline = start + .seconds(seconds)
        while true {
            let expired = ContinuousClock.now >= deadline
            if let answer = box.withLock({ $0 }) { return (answer.value, Int((answer.at - start) / .milliseconds(1))) }
            if expired { return (nil, seconds * 1000) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    static func settings(
        _ name: String, mode: ReplicationMode, multicast: MulticastSettings, ackTimeoutMillis: Int64 = 500
    ) -> ClusterNodeSettings {
        var settings = ClusterNodeTests.settings(name, mode: mode, ack: .sync, multicast: multicast)
        settings.replication.syncAckTimeoutMillis = ackTimeoutMillis
        return settings
    }

    @Test(arguments: [ReplicationMode.delta, .backup])
    func loneSyncNodeAnswersWritesAtOnce(mode: ReplicationMode) async throws {
        // A long ack timeout (5 s), so that "at once" and "after the timeout" stay far apart on a busy machine.
        var settings = Self.settings(
            "n1", mode: mode, multicast: ClusterNodeTests.uniqueMulticast(), ackTimeoutMillis: 5_000)
        settings.membership.expectedMembers = ["n1"]  // a one-node cluster: nobody to hear from first
        let node = try await ClusterNode.start(settings)
        defer { Task { await node.shutdown() } }
        let created = Mutex<Answer<Result<SessionUpdate<Void>, SessionError>>?>(nil)
        var login = SessionChanges()
        login.set("user", "alice")
        let start = ContinuousClock.now
        node.create(login) { result in created.withLock { $0 = (result, .now) } }
        let (result, millis) = try await Self.answer(created, since: start)
        let update = try #require(try result?.get(), "a lone sync node did not answer a login within 30 s")
        #expect(millis < 2_500, "answered in \(millis) ms: nothing to wait for, yet it waited for the ack timeout")

        let written = Mutex<Answer<Result<SessionUpdate<Void>, SessionError>>?>(nil)
        let writeStart = ContinuousClock.now
        node.update(update.id, token: update.version, { _, changes in changes.set("cart", "1") }) { result in
            written.withLock { $0 = (result, .now) }
        }
        let (write, writeMillis) = try await Self.answer(written, since: writeStart)
        #expect(try write?.get() != nil, "a lone sync node did not answer a write")
        #expect(writeMillis < 2_500, "write answered in \(writeMillis) ms: nothing to wait for")
        await node.shutdown()
    }

    @Test(arguments: [ReplicationMode.delta, .backup])
    func syncWriteAnswersWithinItsTimeoutWhenThePeerDies(mode: ReplicationMode) async throws {
        let multicast = ClusterNodeTests.uniqueMulticast()
        let survivor = try await ClusterNode.start(Self.settings("n1", mode: mode, multicast: multicast))
        let peer = try await ClusterNode.start(Self.settings("n2", mode: mode, multicast: multicast))
        _ = try await ClusterNodeTests.awaitMembership([survivor, peer])
        let login = try await survivor.create { $0.set("user", "alice") }
        await peer.crashForTesting()

        // Whichever comes first — the crash detected (nobody left to wait for) or the ack timeout — answers.
        let written = Mutex<Answer<Result<SessionUpdate<Void>, SessionError>>?>(nil)
        let start = ContinuousClock.now
        survivor.update(login.id, token: login.version, { _, changes in changes.set("cart", "1") }) { result in
            written.withLock { $0 = (result, .now) }
        }
        let (result, millis) = try await Self.answer(written, since: start)
        #expect(result != nil, "no answer 30 s after the peer died (ack timeout 500 ms)")
        print("\(mode): write after the peer died answered in \(millis) ms: \(result.map { "\($0)" } ?? "none")")
        await survivor.shutdown()
    }
}
