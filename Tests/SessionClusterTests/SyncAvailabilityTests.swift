import Foundation
import SessionCluster
import SessionClusterCore
import Synchronization
import Testing

/// `sync` commits always answer: at once with no live peer to wait for, within `syncAckTimeoutMillis` when the
/// awaited peer dies. Requests go through the callback API and are polled, so a commit that never answers fails
/// the test instead of hanging it.
@Suite(.serialized) struct SyncAvailabilityTests {
    /// Waits up to `millis` for `box` to be filled; returns what it holds and how long it took (ms).
    static func answer<T: Sendable>(_ box: borrowing Mutex<T?>, within millis: Int) async throws -> (T?, Int) {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .milliseconds(millis) {
            if let value = box.withLock({ $0 }) {
                return (value, Int((ContinuousClock.now - start) / .milliseconds(1)))
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return (nil, millis)
    }

    static func settings(_ name: String, mode: ReplicationMode, multicast: MulticastSettings) -> ClusterNodeSettings {
        var settings = ClusterNodeTests.settings(name, mode: mode, ack: .sync, multicast: multicast)
        settings.replication.syncAckTimeoutMillis = 500
        return settings
    }

    @Test(arguments: [ReplicationMode.delta, .backup])
    func loneSyncNodeAnswersWritesAtOnce(mode: ReplicationMode) async throws {
        let node = try await ClusterNode.start(
            Self.settings("n1", mode: mode, multicast: ClusterNodeTests.uniqueMulticast()))
        defer { Task { await node.shutdown() } }
        let created = Mutex<Result<SessionUpdate<Void>, SessionError>?>(nil)
        var login = SessionChanges()
        login.set("user", "alice")
        node.create(login) { result in created.withLock { $0 = result } }
        let (result, millis) = try await Self.answer(created, within: 2_000)
        let update = try #require(try result?.get(), "a lone sync node did not answer a login within 2 s")
        #expect(millis < 500, "answered in \(millis) ms: nothing to wait for")

        let written = Mutex<Result<SessionUpdate<Void>, any Error>?>(nil)
        node.update(
            update.id, token: update.version, { _, changes in changes.set("cart", "1") },
            then: { result in written.withLock { $0 = result } })
        let (write, _) = try await Self.answer(written, within: 2_000)
        #expect(try write?.get() != nil, "a lone sync node did not answer a write")
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
        let written = Mutex<Result<SessionUpdate<Void>, any Error>?>(nil)
        survivor.update(
            login.id, token: login.version, { _, changes in changes.set("cart", "1") },
            then: { result in written.withLock { $0 = result } })
        let (result, millis) = try await Self.answer(written, within: 3_000)
        #expect(result != nil, "no answer 3 s after the peer died (ack timeout 500 ms)")
        print("\(mode): write after the peer died answered in \(millis) ms: \(result.map { "\($0)" } ?? "none")")
        await survivor.shutdown()
    }

    @Test(arguments: [ReplicationMode.delta, .backup])
    func syncWriteFailsAtItsAckTimeoutWhenThePeerStallsAlive(mode: ReplicationMode) async throws {
        let multicast = ClusterNodeTests.uniqueMulticast()
        let writer = try await ClusterNode.start(Self.settings("n1", mode: mode, multicast: multicast))
        let peer = try await ClusterNode.start(Self.settings("n2", mode: mode, multicast: multicast))
        _ = try await ClusterNodeTests.awaitMembership([writer, peer])
        let login = try await writer.create { $0.set("user", "alice") }
        // The peer's loop stalls for 1.5 s: still a member (suspect after 1.5 s), it acknowledges nothing.
        peer.eventLoop.execute { usleep(1_500_000) }
        let written = Mutex<Result<SessionUpdate<Void>, any Error>?>(nil)
        writer.update(
            login.id, token: login.version, { _, changes in changes.set("cart", "1") },
            then: { result in written.withLock { $0 = result } })
        let (result, millis) = try await Self.answer(written, within: 3_000)
        await writer.shutdown()
        await peer.shutdown()
        guard case .failure(let error)? = result else {
            Issue.record("expected .notAcknowledged within 3 s, got \(String(describing: result))")
            return
        }
        #expect(error as? SessionError == .notAcknowledged, "\(error)")
        #expect(millis >= 400 && millis < 1_400, "answered after \(millis) ms; ack timeout 500 ms")
    }
}
