import Foundation
import SessionCluster
import Synchronization
import Testing

/// Real nodes with `persistence` `snapshot`: stopped gracefully, started again from their files.
@Suite(.serialized) struct PersistenceNodeTests {
    /// A fresh directory for one test's nodes.
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "sessioncluster-persist-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func settings(_ name: String, directory: String, multicast: MulticastSettings) -> ClusterNodeSettings {
        var settings = ClusterNodeTests.settings(name, multicast: multicast)
        settings.persistence = PersistenceSettings(directory: directory)
        return settings
    }

    static func start(_ names: [String], directory: String, multicast: MulticastSettings) async throws
        -> [ClusterNode]
    {
        var nodes = [ClusterNode]()
        for name in names {
            nodes.append(try await ClusterNode.start(settings(name, directory: directory, multicast: multicast)))
        }
        return nodes
    }

    /// A write answered after the last snapshot and lost with every node (a `kill -9` of the whole cluster in
    /// `snapshot` mode; the last milliseconds of `log` mode): the client's token names it, no node has it. The
    /// session is served from what was restored, loudly (`lostWrites`), not answered 503 for ever.
    @Test func aTokenNamingAWriteLostWithEveryNodeIsServedLoudly() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let multicast = ClusterNodeTests.uniqueMulticast()
        var nodes = try await Self.start(["n1", "n2"], directory: directory, multicast: multicast)
        _ = try await ClusterNodeTests.awaitMembership(nodes)
        let login = try await nodes[0].create { $0.set("a", "1") }
        _ = try await nodes[1].read(login.id, token: login.version)
        await ClusterNodeTests.stopAll(nodes)
        nodes = try await Self.start(["n1", "n2"], directory: directory, multicast: multicast)
        _ = try await ClusterNodeTests.awaitMembership(nodes)
        let update = try await nodes[0].update(login.id, token: login.version) { _, changes in changes.set("a", "2") }
        _ = try await nodes[1].read(update.id, token: update.version)
        for node in nodes { await node.crashForTesting() }  // no snapshot: the write is on no disk
        nodes = try await Self.start(["n1", "n2"], directory: directory, multicast: multicast)
        defer { Task { [nodes] in await ClusterNodeTests.stopAll(nodes) } }
        _ = try await ClusterNodeTests.awaitMembership(nodes)
        for node in nodes {
            // 503 (retry) while the nodes make sure no one holds the write; then served, saying it was lost.
            let deadline = ContinuousClock.now + .seconds(15)
            var served: SessionSnapshot?
            while served == nil, ContinuousClock.now < deadline {
                do {
                    served = try await node.read(update.id, token: update.version)
                } catch SessionError.unavailable {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(served?.lostWrites == true)
            #expect(served?.string("a") == "1")
        }
        await ClusterNodeTests.stopAll(nodes)
    }

    @Test func wholeClusterRestartKeepsEverySessionAttributeAndToken() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let multicast = ClusterNodeTests.uniqueMulticast()
        var nodes = try await Self.start(["n1", "n2"], directory: directory, multicast: multicast)
        _ = try await ClusterNodeTests.awaitMembership(nodes)
        var logins = [(id: SessionID, version: VersionToken)]()
        for index in 0..<40 {
            let login = try await nodes[index % 2].create { changes in
                changes.set("user", "user-\(index)")
                changes.set("cart", "\(index) items")
            }
            logins.append((login.id, login.version))
        }
        // Some updated on the other node, some logged out.
        for index in stride(from: 0, to: 40, by: 4) {
            let update = try await nodes[(index + 1) % 2].update(logins[index].id, token: logins[index].version) {
                _, changes in changes.set("cart", "updated \(index)")
            }
            logins[index] = (update.id, update.version)
        }
        for index in stride(from: 3, to: 40, by: 8) {
            try await nodes[index % 2].invalidate(logins[index].id, token: logins[index].version)
        }
        // Both nodes hold every write before they stop (the last writes replicate asynchronously).
        for login in logins { _ = try? await nodes[0].read(login.id, token: login.version) }
        for login in logins { _ = try? await nodes[1].read(login.id, token: login.version) }
        await ClusterNodeTests.stopAll(nodes)
        let written = await nodes.asyncMap { await $0.stats().persistence }
        #expect(written.allSatisfy { $0.sessionsWritten == 40 && $0.snapshotBytes > 0 && $0.lastSnapshotMillis > 0 })

        nodes = try await Self.start(["n1", "n2"], directory: directory, multicast: multicast)
        defer { Task { [nodes] in await ClusterNodeTests.stopAll(nodes) } }
        // Until a node hears a peer it answers restored sessions 503 (a peer may hold newer state); then a peer
        // confirms each. (Read at once, they were `.unavailable`.)
        _ = try await ClusterNodeTests.awaitMembership(nodes)
        for node in nodes {
            let restored = await node.stats().persistence
            #expect(restored.sessionsRestored == 40)
            #expect(restored.recordsSkipped == 0)
            for (index, login) in logins.enumerated() {
                if index % 8 == 3 {
                    await #expect(throws: SessionError.notFound) { try await node.read(login.id, token: login.version) }
                    continue
                }
                // The old token, from before the restart, is served by the restored copy.
                let seen = try await node.read(login.id, token: login.version)
                #expect(seen.string("user") == "user-\(index)")
                #expect(seen.string("cart") == (index % 4 == 0 ? "updated \(index)" : "\(index) items"))
            }
        }
        // And the restored sessions are writable and replicate in the new cluster.
        _ = try await ClusterNodeTests.awaitMembership(nodes)
        let update = try await nodes[0].update(logins[1].id, token: logins[1].version) { _, changes in
            changes.set("after", "restart")
        }
        #expect(try await nodes[1].read(update.id, token: update.version).string("after") == "restart")
        await ClusterNodeTests.stopAll(nodes)
    }

    /// n1 stops and keeps its snapshot; meanwhile n2 writes one session and logs another out. n1 comes back from
    /// its older file: the newer write wins and the logged-out session stays out.
    @Test func olderSnapshotNeverOverridesNewerStateOrBringsALogoutBack() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let multicast = ClusterNodeTests.uniqueMulticast()
        let nodes = try await Self.start(["n1", "n2"], directory: directory, multicast: multicast)
        _ = try await ClusterNodeTests.awaitMembership(nodes)
        let kept = try await nodes[0].create { $0.set("cart", "old") }
        let ended = try await nodes[0].create { $0.set("user", "alice") }
        _ = try await nodes[1].read(kept.id, token: kept.version)
        _ = try await nodes[1].read(ended.id, token: ended.version)
        await nodes[0].shutdown()
        let newer = try await nodes[1].update(kept.id, token: kept.version) { _, changes in changes.set("cart", "new") }
        try await nodes[1].invalidate(ended.id, token: ended.version)

        let restarted = try await ClusterNode.start(Self.settings("n1", directory: directory, multicast: multicast))
        #expect(await restarted.stats().persistence.sessionsRestored == 2)
        _ = try await ClusterNodeTests.awaitMembership([restarted, nodes[1]])
        // At once, transfer or not: the first read of a restored copy asks the peer, which holds newer state.
        #expect(try await restarted.read(kept.id, token: nil).string("cart") == "new")
        await #expect(throws: SessionError.notFound) { try await restarted.read(ended.id, token: nil) }
        #expect(try await restarted.read(kept.id, token: newer.version).string("cart") == "new")
        // The peer did not take the stale copy either.
        #expect(try await nodes[1].read(kept.id, token: nil).string("cart") == "new")
        await #expect(throws: SessionError.notFound) { try await nodes[1].read(ended.id, token: nil) }
        await ClusterNodeTests.stopAll([restarted, nodes[1]])
    }

    @Test func unwritableDirectoryFailsTheStart() async throws {
        let multicast = ClusterNodeTests.uniqueMulticast()
        for mode in PersistenceMode.allCases {
            var settings = Self.settings("n1", directory: "/proc/sessioncluster-cannot-exist", multicast: multicast)
            settings.persistence?.mode = mode
            do {
                _ = try await ClusterNode.start(settings)
                Issue.record("started with an unusable directory")
            } catch {
                guard case .invalidSettings(let problem) = error else { throw error }
                #expect(problem.keyPath == "persistence.directory")
            }
        }
    }

    @Test func corruptedSnapshotStartsWithWhatIsValidAndSaysWhatWasSkipped() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let multicast = ClusterNodeTests.uniqueMulticast()
        var settings = Self.settings("n1", directory: directory, multicast: multicast)
        settings.loops = 1  // the file of one directory (`ShardedNodeTests` covers a sharded directory)
        let node = try await ClusterNode.start(settings)
        for index in 0..<10 { _ = try await node.create { $0.set("user", "\(index)") } }
        await node.shutdown()
        let path = directory + "/n1/sessions.snapshot"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 5] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let records = Mutex<[String]>([])
        settings.logHandler = { record in
            records.withLock {
                $0.append("\(record.level) \(record.message) \(record.fields.map(\.value).joined(separator: " "))")
            }
        }
        let restarted = try await ClusterNode.start(settings)
        let stats = await restarted.stats().persistence
        #expect(stats.recordsSkipped == 1 && stats.sessionsRestored == 0)
        #expect(await restarted.stats().sessions == 0)
        _ = try await restarted.create { $0.set("user", "after") }
        await restarted.shutdown()
        #expect(records.withLock { $0.contains { $0.contains("warning") && $0.contains("does not authenticate") } })
        // The damaged file is kept beside the new snapshot (a fresh-eyes finding: the next stop destroyed it).
        let kept = try FileManager.default.contentsOfDirectory(atPath: directory + "/n1")
            .filter { $0.hasPrefix("sessions.snapshot.unreadable-") }
        #expect(kept.count == 1)
        if let name = kept.first {
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/n1/" + name))) == bytes)
        }
        #expect(records.withLock { $0.contains { $0.contains("the file that did not check is kept") } })
    }
}

extension Array {
    fileprivate func asyncMap<T>(_ transform: (Element) async -> T) async -> [T] {
        var results = [T]()
        for element in self { results.append(await transform(element)) }
        return results
    }
}
