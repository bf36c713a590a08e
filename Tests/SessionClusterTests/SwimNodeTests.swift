import Foundation
import SessionCluster
import Synchronization
import TestSupport
import Testing

/// Real nodes running SWIM (`membership.protocol` `swim`) on loopback: they form over multicast and over seeds
/// alone, replicate sessions, see a crashed node dead, and ignore beacon nodes without harm.
@Suite(.serialized) struct SwimNodeTests {
    static func settings(_ name: String, multicast: MulticastSettings?, seeds: [String] = []) -> ClusterNodeSettings {
        var settings = ClusterNodeTests.settings(name, multicast: multicast, seeds: seeds)
        settings.membership.protocolKind = .swim
        return settings
    }

    static func startCluster(_ count: Int) async throws -> [ClusterNode] {
        let multicast = ClusterNodeTests.uniqueMulticast()
        var nodes = [ClusterNode]()
        for index in 1...count {
            nodes.append(try await ClusterNode.start(settings("n\(index)", multicast: multicast)))
        }
        return nodes
    }

    @Test func swimFormsOverMulticastAndSessionsAreReadEverywhere() async throws {
        let nodes = try await Self.startCluster(3)
        let formed = try await ClusterNodeTests.awaitMembership(nodes)
        print("swim over multicast: membership of 3 nodes formed in \(formed) ms")
        let login = try await nodes[0].create { $0.set("user", "alice") }
        #expect(try await nodes[1].read(login.id, token: login.version).string("user") == "alice")
        let update = try await nodes[1].update(login.id, token: login.version) { _, changes in
            changes.set("hop", "n2")
        }
        #expect(try await nodes[2].read(login.id, token: update.version).string("hop") == "n2")
        await ClusterNodeTests.stopAll(nodes)
    }

    @Test func swimFormsOverSeedsWithoutMulticast() async throws {
        let first = try await ClusterNode.start(Self.settings("n1", multicast: nil))
        let seed = first.me.replication
        let second = try await ClusterNode.start(Self.settings("n2", multicast: nil, seeds: [seed]))
        let third = try await ClusterNode.start(Self.settings("n3", multicast: nil, seeds: [seed]))
        let nodes = [first, second, third]
        let formed = try await ClusterNodeTests.awaitMembership(nodes)
        print("swim over seeds only: membership formed in \(formed) ms")
        let login = try await first.create { $0.set("user", "bob") }
        #expect(try await second.read(login.id, token: login.version).string("user") == "bob")
        await ClusterNodeTests.stopAll(nodes)
    }

    @Test(arguments: [true, false])
    func crashedSwimNodeIsDeclaredDeadByThePeers(multicast: Bool) async throws {
        let nodes: [ClusterNode]
        if multicast {
            nodes = try await Self.startCluster(3)
        } else {
            let first = try await ClusterNode.start(Self.settings("n1", multicast: nil))
            let seeds = [first.me.replication]
            nodes = [
                first, try await ClusterNode.start(Self.settings("n2", multicast: nil, seeds: seeds)),
                try await ClusterNode.start(Self.settings("n3", multicast: nil, seeds: seeds)),
            ]
        }
        _ = try await ClusterNodeTests.awaitMembership(nodes)
        let victim = nodes[2]
        let start = ContinuousClock.now
        await victim.crashForTesting()
        var declared = false
        while true {
            // Checked once more after the deadline: a poller starved by a busy machine must not fail the test.
            let expired = ContinuousClock.now - start >= .seconds(10)
            var everyone = true
            for node in nodes.prefix(2) {
                let status = await node.members().first { $0.info.id == victim.me.id }?.status
                if status != .dead { everyone = false }
            }
            declared = everyone
            if everyone || expired { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(declared)
        let millis = (ContinuousClock.now - start) / .milliseconds(1)
        print("swim (multicast \(multicast)): crash seen by every peer in \(millis) ms")
        // The figures `/metrics` shows: one member alive, one dead, and (within a few periods) probes going out.
        var figures = await nodes[0].stats().membership
        #expect(figures.alive == 1 && figures.dead == 1 && figures.suspect == 0 && figures.left == 0)
        let probing = ContinuousClock.now
        while figures.probes == 0 && ContinuousClock.now - probing < .seconds(5) {
            try await Task.sleep(for: .milliseconds(50))
            figures = await nodes[0].stats().membership
        }
        #expect(figures.probes > 0)
        // The survivors still serve each other's sessions.
        let login = try await nodes[0].create { $0.set("after", "crash") }
        #expect(try await nodes[1].read(login.id, token: login.version).string("after") == "crash")
        await ClusterNodeTests.stopAll(Array(nodes.prefix(2)))
    }

    /// Not when `SESSIONCLUSTER_TEST_MEMBERSHIP` forces one protocol on every node of the process.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SESSIONCLUSTER_TEST_MEMBERSHIP"] == nil))
    func aBeaconNodeAndASwimNodeIgnoreEachOther() async throws {
        let multicast = ClusterNodeTests.uniqueMulticast()
        let lines = Mutex<[String]>([])
        var swimSettings = Self.settings("s1", multicast: multicast)
        swimSettings.logHandler = { record in lines.withLock { $0.append("s1 " + record.message) } }
        var beaconSettings = ClusterNodeTests.settings("b1", multicast: multicast)
        beaconSettings.logHandler = { record in lines.withLock { $0.append("b1 " + record.message) } }
        let swim = try await ClusterNode.start(swimSettings)
        let beacon = try await ClusterNode.start(beaconSettings)
        try await Task.sleep(for: .milliseconds(1_000))
        // Each says so in its log, once (10 s between lines), however many datagrams came.
        let warnings = lines.withLock { $0 }.filter { $0.contains("another membership protocol") }
        #expect(warnings.filter { $0.hasPrefix("s1 ") }.count == 1)
        #expect(warnings.filter { $0.hasPrefix("b1 ") }.count == 1)
        #expect(await swim.members().isEmpty)
        #expect(await beacon.members().isEmpty)
        // Both still heard (and dropped) the other's datagrams: they arrived, authenticated.
        #expect(await swim.stats().framesReceived > 0)
        #expect(await beacon.stats().framesReceived > 0)
        await ClusterNodeTests.stopAll([swim, beacon])
    }
}
