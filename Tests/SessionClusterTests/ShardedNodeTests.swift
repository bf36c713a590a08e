import Foundation
import SessionClusterCore
import Synchronization
import Testing

@testable import SessionCluster

/// Nodes served by two loops: the sessions split into two shards, each replicated by its own loop over its own
/// links to the same shard of each peer, membership run by shard 0 for both.
@Suite(.serialized) struct ShardedNodeTests {
    static func startCluster(
        _ count: Int, loops: Int = 2, mode: ReplicationMode = .delta, ack: AckMode = .async
    ) async throws -> [ClusterNode] {
        let multicast = ClusterNodeTests.uniqueMulticast()
        var nodes = [ClusterNode]()
        for index in 1...count {
            var settings = ClusterNodeTests.settings("n\(index)", mode: mode, ack: ack, multicast: multicast)
            settings.loops = loops
            nodes.append(try await ClusterNode.start(settings))
        }
        return nodes
    }

    @Test(arguments: [ReplicationMode.delta, .backup])
    func sessionsOfBothShardsAreReplicatedAndReadEverywhere(mode: ReplicationMode) async throws {
        let nodes = try await Self.startCluster(3, mode: mode, ack: .sync)
        _ = try await ClusterNodeTests.awaitMembership(nodes)
        var sessions = [(id: SessionID, version: VersionToken)]()
        for index in 0..<40 {
            let created = try await nodes[index % 3].create { $0.set("n", "\(index)") }
            sessions.append((created.id, created.version))
        }
        let shards = Set(sessions.map { Shards.shard(of: $0.id, count: 2) })
        #expect(shards == [0, 1], "40 random ids fall in both shards")
        for (index, session) in sessions.enumerated() {
            for node in nodes {
                let seen = try await node.read(session.id, token: session.version)
                #expect(seen.string("n") == "\(index)")
            }
        }
        // Every node's figures add up its two shards: delta mode holds every session everywhere.
        let held = await nodes[1].stats()
        if mode == .delta { #expect(held.sessions == 40) }
        #expect(held.framesReceived > 0 && held.replication.deltasApplied + held.replication.snapshotsMerged > 0)
        await ClusterNodeTests.stopAll(nodes)
    }

    @Test func eachShardHoldsOnlyItsOwnSessions() async throws {
        let nodes = try await Self.startCluster(2)
        _ = try await ClusterNodeTests.awaitMembership(nodes)
        var ids = [SessionID]()
        for index in 0..<30 { ids.append(try await nodes[0].create { $0.set("i", "\(index)") }.id) }
        try await Task.sleep(for: .milliseconds(200))
        for node in nodes {
            for shard in 0..<2 {
                let held: [SessionID] = await withCheckedContinuation { continuation in
                    node.shards.run(on: shard) { runtime in
                        continuation.resume(returning: runtime.node.replication.sessionIDs(after: nil, limit: 1_000))
                    }
                }
                #expect(held.allSatisfy { Shards.shard(of: $0, count: 2) == shard })
                #expect(Set(held) == Set(ids.filter { Shards.shard(of: $0, count: 2) == shard }))
            }
        }
        await ClusterNodeTests.stopAll(nodes)
    }

    @Test func aWriteFromAnotherLoopIsAnsweredOnTheCallingLoop() async throws {
        let nodes = try await Self.startCluster(1)
        let node = nodes[0]
        var ids = [SessionID]()
        while Set(ids.map { Shards.shard(of: $0, count: 2) }).count < 2 || ids.count < 8 {
            ids.append(try await node.create { $0.set("v", "0") }.id)
        }
        for id in ids {
            for caller in 0..<2 {
                let answeredOnCaller: Bool = await withCheckedContinuation { continuation in
                    let loop = node.eventLoops[caller]
                    loop.execute {
                        node.update(id, token: nil, { _, changes in changes.set("v", "\(caller)") }) { result in
                            continuation.resume(returning: loop.inLoop && (try? result.get()) != nil)
                        }
                    }
                }
                #expect(answeredOnCaller, "the answer comes back on the loop that asked")
            }
            #expect(try await node.read(id, token: nil).string("v") == "1")
        }
        await ClusterNodeTests.stopAll(nodes)
    }

    @Test func changingTheIDKeepsTheShardAndTheWalkSeesEveryShard() async throws {
        let nodes = try await Self.startCluster(1)
        let node = nodes[0]
        var ids = Set<SessionID>()
        for index in 0..<25 {
            let created = try await node.create { $0.set("i", "\(index)") }
            if index % 5 == 0 {
                let moved = try await node.changeID(created.id, token: created.version)
                #expect(Shards.shard(of: moved.id, count: 2) == Shards.shard(of: created.id, count: 2))
                ids.insert(moved.id)
            } else {
                ids.insert(created.id)
            }
        }
        // Walk 4 at a time: every id once, in order, across both shards.
        var walked = [SessionID]()
        var cursor: SessionID?
        repeat {
            let (sessions, next): ([HeldSession], SessionID?) = await withCheckedContinuation { continuation in
                node.heldSessions(after: cursor, limit: 4) { continuation.resume(returning: ($0, $1)) }
            }
            #expect(sessions.count <= 4)
            walked += sessions.map(\.id)
            cursor = next
        } while cursor != nil
        #expect(walked == ids.sorted())
        await ClusterNodeTests.stopAll(nodes)
    }

    @Test func aCrashedNodeIsDetectedAndItsSessionsSurviveInBothShards() async throws {
        let nodes = try await Self.startCluster(3, mode: .backup, ack: .sync)
        _ = try await ClusterNodeTests.awaitMembership(nodes)
        var sessions = [(id: SessionID, version: VersionToken)]()
        for index in 0..<30 {
            let created = try await nodes[2].create { $0.set("n", "\(index)") }
            sessions.append((created.id, created.version))
        }
        await nodes[2].crashForTesting()
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(6) {
            let status = await nodes[0].members().first { $0.info.id == nodes[2].me.id }?.status
            if status == .dead { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        for (index, session) in sessions.enumerated() {
            let seen = try await nodes[index % 2].read(session.id, token: session.version)
            #expect(seen.string("n") == "\(index)")
        }
        await ClusterNodeTests.stopAll(Array(nodes.prefix(2)))
    }

    @Test func aPeerWithAnotherNumberOfLoopsIsRefusedLoudly() async throws {
        let multicast = ClusterNodeTests.uniqueMulticast()
        let lines = Mutex<[String]>([])
        var one = ClusterNodeTests.settings("n1", multicast: multicast)
        one.loops = 1
        one.logHandler = { record in lines.withLock { $0.append(record.formatted) } }
        var two = ClusterNodeTests.settings("n2", multicast: multicast)
        two.loops = 2
        let first = try await ClusterNode.start(one)
        let second = try await ClusterNode.start(two)
        let start = ContinuousClock.now
        var refused = false
        while !refused && ContinuousClock.now - start < .seconds(5) {
            refused = lines.withLock { $0.contains { $0.contains("runs another number of loops") } }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(refused, "the error names the cause")
        // Neither side redials as fast as the other closes: each peer closes the other's links, and a link closed
        // right after it opened is not redialled for 500 ms.
        let before = await first.stats().framesReceived
        try await Task.sleep(for: .seconds(2))
        let received = await first.stats().framesReceived - before
        print("a peer with another number of loops: \(received) frames (beacons, refused hellos) in 2 s")
        #expect(received < 200)
        // Both keep serving their own clients.
        let mine = try await first.create { $0.set("a", "1") }
        #expect(try await first.read(mine.id, token: mine.version).string("a") == "1")
        await first.shutdown()
        await second.shutdown()
    }
}

/// Persistence over several loops: each shard's files in its own directory, rewritten when the number changes.
extension ShardedNodeTests {
    static func persistent(_ loops: Int, directory: String, multicast: MulticastSettings) -> ClusterNodeSettings {
        var settings = ClusterNodeTests.settings("n1", multicast: multicast)
        settings.persistence = PersistenceSettings(directory: directory, mode: .log, fsync: .everysec)
        settings.loops = loops
        return settings
    }

    /// A restored session read with its token from before the restart: a lone restarted node answers 503 until it
    /// has made sure no peer holds newer writes.
    static func readRestored(_ node: ClusterNode, _ id: SessionID, _ token: VersionToken) async throws
        -> SessionSnapshot
    {
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            let failure: SessionError
            do {
                return try await node.read(id, token: token)
            } catch {
                failure = error
            }
            guard failure == .unavailable, ContinuousClock.now < deadline else { throw failure }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    static func files(_ directory: String) -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
    }

    /// Every session and its latest write come back through crashes and restarts with 1, 2, 3 and again 1 loops.
    @Test func restartsWithAnotherNumberOfLoopsKeepEverySession() async throws {
        let directory = PersistenceNodeTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let multicast = ClusterNodeTests.uniqueMulticast()
        var node = try await ClusterNode.start(Self.persistent(1, directory: directory, multicast: multicast))
        var sessions = [(id: SessionID, version: VersionToken, value: String)]()
        for index in 0..<40 {
            let created = try await node.create { $0.set("v", "\(index)") }
            sessions.append((created.id, created.version, "\(index)"))
        }
        var generation = 0
        for loops in [2, 3, 1] {
            generation += 1
            // Half the sessions written again, then a crash (no snapshot: the log holds the writes) or a stop.
            for index in stride(from: generation % 2, to: sessions.count, by: 2) {
                let value = "\(index)-\(generation)"
                let update = try await node.update(sessions[index].id, token: sessions[index].version) { _, c in
                    c.set("v", value)
                }
                sessions[index] = (update.id, update.version, value)
            }
            try await Task.sleep(for: .milliseconds(50))
            if loops == 3 { await node.shutdown() } else { await node.crashForTesting() }
            node = try await ClusterNode.start(Self.persistent(loops, directory: directory, multicast: multicast))
            #expect(await node.stats().persistence.sessionsRestored == 40, "after restarting with \(loops) loops")
            for session in sessions {
                let seen = try await Self.readRestored(node, session.id, session.version)
                #expect(seen.string("v") == session.value, "with \(loops) loops")
            }
            let files = Self.files(directory + "/n1")
            #expect(files.contains("loops"))
            #expect(files.filter { $0.hasPrefix("shard-") }.count == loops - 1, "\(files.sorted())")
            #expect(!files.contains { $0.hasPrefix("sessions.snapshot.next") })
        }
        await node.shutdown()
    }

    /// A rewrite cut short before its commit leaves `.next` files of another number: the next start removes them and
    /// reads the files it has.
    @Test func anUncommittedRewriteIsDiscarded() async throws {
        let directory = PersistenceNodeTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let multicast = ClusterNodeTests.uniqueMulticast()
        var node = try await ClusterNode.start(Self.persistent(2, directory: directory, multicast: multicast))
        let created = try await node.create { $0.set("v", "kept") }
        await node.shutdown()
        let stray = directory + "/n1/sessions.snapshot.next-5"
        #expect(FileManager.default.createFile(atPath: stray, contents: Data("half a file".utf8)))
        node = try await ClusterNode.start(Self.persistent(2, directory: directory, multicast: multicast))
        #expect(try await Self.readRestored(node, created.id, created.version).string("v") == "kept")
        #expect(!FileManager.default.fileExists(atPath: stray))
        await node.shutdown()
    }
}

extension ShardedNodeTests {
    /// A shard directory deleted by hand: the start says which shard's sessions it could not restore.
    @Test func aMissingShardDirectoryIsReportedAtStart() async throws {
        let directory = PersistenceNodeTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let multicast = ClusterNodeTests.uniqueMulticast()
        var node = try await ClusterNode.start(Self.persistent(2, directory: directory, multicast: multicast))
        for index in 0..<20 { _ = try await node.create { $0.set("v", "\(index)") } }
        await node.shutdown()
        try FileManager.default.removeItem(atPath: directory + "/n1/shard-1")
        let lines = Mutex<[String]>([])
        var settings = Self.persistent(2, directory: directory, multicast: multicast)
        settings.logHandler = { record in lines.withLock { $0.append("\(record.level) \(record.message)") } }
        node = try await ClusterNode.start(settings)
        let restored = await node.stats().persistence.sessionsRestored
        #expect(restored > 0 && restored < 20, "shard 0's sessions only: \(restored)")
        await node.shutdown()
        #expect(lines.withLock { $0.contains { $0.hasPrefix("error") && $0.contains("directory was missing") } })
    }
}
