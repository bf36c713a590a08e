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
        // Both shards keep the lead's secret order (drawn at start, not 0), so their walks merge.
        var orders = [SessionOrder]()
        for shard in 0..<2 {
            orders.append(
                await withCheckedContinuation { continuation in
                    node.shards.run(on: shard) { continuation.resume(returning: $0.node.replication.sessionOrder) }
                })
        }
        #expect(orders[0] == orders[1] && orders[0].key != 0)
        // Walk 4 at a time: every id once, in that order, across both shards.
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
        #expect(walked == ids.sorted(by: orders[0].precedes))
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

    /// A node started with another secret on the cluster's group runs alone: both sides say why, once a minute at
    /// most (fresh-eyes review: it was silent on both, only `dropped_unauthenticated` rose).
    @Test func aNodeWithAnotherSecretIsLoggedOnBothSides() async throws {
        let multicast = ClusterNodeTests.uniqueMulticast()
        final class Lines: Sendable {
            let lines = Mutex<[String]>([])
        }
        let lines = [Lines(), Lines()]
        var nodes = [ClusterNode]()
        for index in 0..<2 {
            var settings = ClusterNodeTests.settings("n\(index + 1)", multicast: multicast)
            if index == 1 { settings.secret = "a different secret, at least thirty-two bytes long" }
            let log = lines[index]
            settings.logHandler = { record in log.lines.withLock { $0.append(record.formatted) } }
            nodes.append(try await ClusterNode.start(settings))
        }
        let start = ContinuousClock.now
        func logged(_ index: Int) -> Int {
            lines[index].lines.withLock { $0.filter { $0.contains("do not authenticate") }.count }
        }
        while (logged(0) == 0 || logged(1) == 0) && ContinuousClock.now - start < .seconds(5) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(logged(0) >= 1 && logged(1) >= 1, "each side says why the other never joins")
        try await Task.sleep(for: .seconds(1))
        #expect(logged(0) == 1 && logged(1) == 1, "once a minute at most")
        for node in nodes { #expect(await node.members().isEmpty) }
        await ClusterNodeTests.stopAll(nodes)
    }

    /// Two processes started under one name (a copied config, say): the cluster settles on the later one and keeps
    /// it, and all three say so in the log (fresh-eyes review: they took turns every minute, silently).
    @Test func twoProcessesUnderOneNameSettleOnTheLaterOneAndSayIt() async throws {
        let multicast = ClusterNodeTests.uniqueMulticast()
        final class Lines: Sendable {
            let lines = Mutex<[String]>([])
        }
        let lines = [Lines(), Lines(), Lines()]
        var nodes = [ClusterNode]()
        for (index, name) in ["n1", "n2", "n2"].enumerated() {
            var settings = ClusterNodeTests.settings(name, multicast: multicast)
            let log = lines[index]
            settings.logHandler = { record in log.lines.withLock { $0.append(record.formatted) } }
            nodes.append(try await ClusterNode.start(settings))
            if index == 1 { _ = try await ClusterNodeTests.awaitMembership(nodes) }
        }
        let (first, earlier, later) = (nodes[0], nodes[1], nodes[2])
        #expect(later.me.id > earlier.me.id)
        func logged(_ index: Int, _ text: String) -> Bool {
            lines[index].lines.withLock { $0.contains { $0.contains(text) } }
        }
        let expected = [
            (0, "ignoring membership datagrams from an earlier incarnation"),
            (1, "another process with this node's name started after this one"),
            (2, "an earlier process with this node's name is still sending"),
        ]
        let start = ContinuousClock.now
        while !expected.allSatisfy({ logged($0.0, $0.1) }) && ContinuousClock.now - start < .seconds(5) {
            try await Task.sleep(for: .milliseconds(20))
        }
        for (index, text) in expected { #expect(logged(index, text), "node \(index + 1) logs: \(text)") }
        // For the next two seconds (four heartbeats) n1 keeps the later process as its n2, and only it.
        for _ in 0..<10 {
            let peers = await first.members().filter(\.isPeer).map(\.info.id)
            #expect(peers == [later.me.id])
            try await Task.sleep(for: .milliseconds(200))
        }
        // The ignored one says so to a health check (a load balancer would otherwise keep sending it clients
        // whose sessions reach no peer); the others are fine.
        #expect(earlier.notServingReason?.contains("another process named n2 started after this one") == true)
        #expect(first.notServingReason == nil && later.notServingReason == nil)
        // Once the later one is gone, the members find it dead and take the earlier back: it serves again.
        await later.shutdown()
        let stopped = ContinuousClock.now
        while earlier.notServingReason != nil && ContinuousClock.now - stopped < .seconds(15) {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(earlier.notServingReason == nil, "still displaced after the later process stopped")
        var peers: [NodeID] = []
        while peers != [earlier.me.id] && ContinuousClock.now - stopped < .seconds(15) {
            peers = await first.members().filter(\.isPeer).map(\.info.id)
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(peers == [earlier.me.id], "n1 takes the earlier process back as its n2")
        await ClusterNodeTests.stopAll(nodes)
    }

    @Test func aNodeWithAnotherNumberOfLoopsIsKeptOutOfTheCluster() async throws {
        // Two nodes on one loop in sync mode, then a third started on two loops (a stale cluster file, say).
        let multicast = ClusterNodeTests.uniqueMulticast()
        let lines = Mutex<[String]>([])
        var nodes = [ClusterNode]()
        for (index, loops) in [1, 1, 2].enumerated() {
            var settings = ClusterNodeTests.settings("n\(index + 1)", ack: .sync, multicast: multicast)
            settings.loops = loops
            if index == 0 { settings.logHandler = { record in lines.withLock { $0.append(record.formatted) } } }
            nodes.append(try await ClusterNode.start(settings))
        }
        _ = try await ClusterNodeTests.awaitMembership(Array(nodes.prefix(2)))
        let start = ContinuousClock.now
        var logged = false
        while !logged && ContinuousClock.now - start < .seconds(5) {
            logged = lines.withLock { $0.contains { $0.contains("runs another number of loops") && $0.contains("n3") } }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(logged, "the error names the node and the cause")
        // Its beacons are ignored, so it never becomes a member: the two others' sync writes do not wait for it.
        let before = await nodes[0].stats().framesReceived
        for round in 0..<20 {
            let created = try await nodes[round % 2].create { $0.set("r", "\(round)") }
            #expect(try await nodes[1 - round % 2].read(created.id, token: created.version).string("r") == "\(round)")
        }
        try await Task.sleep(for: .seconds(1))
        for node in nodes {
            let names = await node.members().map(\.info.name)
            if node === nodes[2] {
                #expect(names.isEmpty, "the odd node hears no one")
            } else {
                #expect(!names.contains("n3"), "n3 never joins: \(names)")
            }
        }
        // The odd node serves its own clients alone, and nobody dials anybody in a loop.
        let mine = try await nodes[2].create { $0.set("a", "1") }
        #expect(try await nodes[2].read(mine.id, token: mine.version).string("a") == "1")
        let received = await nodes[0].stats().framesReceived - before
        print("a node with another number of loops: n1 received \(received) frames in about 1.5 s")
        #expect(received < 400)
        #expect(lines.withLock { $0.filter { $0.contains("runs another number of loops") }.count } <= 2, "throttled")
        await ClusterNodeTests.stopAll(nodes)
    }

    @Test func aLinkFromAPeerWithAnotherNumberOfLoopsIsRefused() async throws {
        // Beacons keep such a node out; a link it dials anyway (it knew the address) is refused by the hello.
        var one = ClusterNodeTests.settings("n1", multicast: ClusterNodeTests.uniqueMulticast())
        one.loops = 1
        let lines = Mutex<[String]>([])
        one.logHandler = { record in lines.withLock { $0.append(record.formatted) } }
        let node = try await ClusterNode.start(one)
        let hostPort = node.me.replication.split(separator: ":")
        let port = UInt16(hostPort.last!)!
        var random = SystemRandomNumberGenerator()
        let stranger = MemberInfo(id: NodeID(using: &random), name: "x", replication: "127.0.0.1:1", http: "")
        let hello = PeerHello(cluster: one.cluster, member: stranger, shard: 0, of: 2)
        let closed = try ShardedNodeTests.sendHello(hello, keyring: try Keyring(secret: one.secret), to: port)
        #expect(closed, "the link is closed")
        let start = ContinuousClock.now
        var logged = false
        while !logged && ContinuousClock.now - start < .seconds(3) {
            logged = lines.withLock { $0.contains { $0.contains("refused a peer's link") && $0.contains("peer_loops=2") } }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(logged, "\(lines.withLock { $0 })")
        await node.shutdown()
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
        let first = Mutex<[String]>([])
        var fresh = Self.persistent(2, directory: directory, multicast: multicast)
        fresh.logHandler = { record in first.withLock { $0.append("\(record.level) \(record.message)") } }
        var node = try await ClusterNode.start(fresh)
        for index in 0..<20 { _ = try await node.create { $0.set("v", "\(index)") } }
        await node.shutdown()
        #expect(!first.withLock { $0.contains { $0.hasPrefix("error") } }, "a first start is no error: \(first.withLock { $0 })")
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

    /// The same, when the start also changes the number of loops: the rewrite says which shards it could not carry.
    @Test func aMissingShardDirectoryIsReportedByARewrite() async throws {
        let directory = PersistenceNodeTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let multicast = ClusterNodeTests.uniqueMulticast()
        var node = try await ClusterNode.start(Self.persistent(3, directory: directory, multicast: multicast))
        for index in 0..<30 { _ = try await node.create { $0.set("v", "\(index)") } }
        await node.shutdown()
        try FileManager.default.removeItem(atPath: directory + "/n1/shard-2")
        let lines = Mutex<[String]>([])
        var settings = Self.persistent(2, directory: directory, multicast: multicast)
        settings.logHandler = { record in lines.withLock { $0.append("\(record.level) \(record.formatted)") } }
        node = try await ClusterNode.start(settings)
        let restored = await node.stats().persistence.sessionsRestored
        #expect(restored > 0 && restored < 30, "shards 0 and 1 only: \(restored)")
        await node.shutdown()
        #expect(
            lines.withLock { $0.contains { $0.hasPrefix("error") && $0.contains("missing before the rewrite") && $0.contains("shard-2") } },
            "\(lines.withLock { $0 })")
    }
}

extension ShardedNodeTests {
    /// Dials 127.0.0.1:`port` as a peer would, sends `hello` sealed with `keyring`, and waits up to 3 s for the
    /// node to close the link. True when it did.
    static func sendHello(_ hello: PeerHello, keyring: Keyring, to port: UInt16) throws -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClusterTestError("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw ClusterTestError("connect: errno \(errno)") }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let envelope = ClusterCipher(cluster: hello.cluster, me: hello.member.id, keyring: keyring)
            .seal(WireCodec.frame(.hello(hello)), channel: .stream)
        let length = UInt32(envelope.count).bigEndian
        let bytes = withUnsafeBytes(of: length) { Array($0) } + envelope
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else {
            throw ClusterTestError("send: errno \(errno)")
        }
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }
}
