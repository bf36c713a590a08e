import Testing

@testable import SessionClusterCore

/// A node running SWIM (`membership.protocol` `swim`) tells its replication of peers exactly as one running
/// beacons does: a new peer joins the ring, a refused or dead one leaves it, a gossiped death is unreachable.
@Suite struct NodeSwimTests {
    let now = Timestamp(millis: 1_700_000_000_000)
    let me = MemberInfo(id: NodeID(rawValue: 1), name: "n1", replication: "r1", http: "")
    let peer = MemberInfo(id: NodeID(rawValue: 2), name: "n2", replication: "r2", http: "")
    let other = MemberInfo(id: NodeID(rawValue: 3), name: "n3", replication: "r3", http: "")

    func instance(follower: Bool = false) -> NodeInstance {
        var settings = MembershipSettings()
        settings.protocolKind = .swim
        var node = NodeInstance(
            cluster: "c", me: me, membership: settings, replication: .unitTest(.delta), now: now, follower: follower)
        node.recordsMirror = !follower
        return node
    }

    func datagram(from sender: MemberInfo, _ kind: SwimDatagram.Kind = .announce, updates: [SwimUpdate] = [])
        -> SwimDatagram
    {
        SwimDatagram(cluster: "c", shards: 1, sender: sender, senderIncarnation: 0, kind: kind, updates: updates)
    }

    @Test func swimSendsSwimDatagramsNotBeacons() {
        var node = instance()
        let ticked = node.onTick(now: now)
        #expect(ticked.contains { if case .swim = $0 { true } else { false } })
        #expect(!ticked.contains { if case .beacon = $0 { true } else { false } })
        #expect(node.membership.protocolKind == .swim)
    }

    @Test func aNewPeerReachesReplicationAndADeadOneLeavesIt() {
        var node = instance()
        let joined = node.onSwim(datagram(from: peer), now: now)
        #expect(joined.contains(.member(.joined(peer))))
        #expect(node.replication.peers == [peer.id: "n2"])

        let dead = node.onLinkRefused(peer.id, now: now.adding(millis: 10))
        #expect(dead.contains(.member(.dead(peer))))
        #expect(node.replication.peers.isEmpty)
        #expect(node.replication.departedCount == 1)
        // The death is spread as SWIM datagrams.
        #expect(dead.contains { if case .swim = $0 { true } else { false } })
    }

    @Test func aSilentPeerIsDeclaredDeadByProbesAndLeavesReplication() {
        var node = instance()
        _ = node.onSwim(datagram(from: peer), now: now)
        #expect(node.replication.peers[peer.id] == "n2")
        var time = now
        var events: [MembershipEvent] = []
        // The peer never answers a probe: suspect, then dead (bounded: one simulated minute).
        for _ in 0..<1_200 where node.member(peer.id)?.status != .dead {
            time = time.adding(millis: 50)
            for case .member(let event) in node.onTick(now: time) { events.append(event) }
        }
        #expect(events.contains(.suspect(peer)))
        #expect(events.contains(.dead(peer)))
        #expect(node.replication.peers.isEmpty)
    }

    @Test func aGossipedDeathIsUnreachableForReplication() {
        var node = instance()
        _ = node.onSwim(datagram(from: peer, .gossip), now: now)
        let before = node.replication.debugAvailability(now: now)
        let death = SwimUpdate(member: other, incarnation: 0, status: .dead, origin: peer.id)
        _ = node.onSwim(datagram(from: peer, .gossip, updates: [death]), now: now)
        #expect(node.replication.peers == [peer.id: "n2"])
        #expect(node.replication.debugAvailability(now: now) != before)
        #expect(!node.replication.debugAvailability(now: now).contains("unreachable [:]"))
    }

    @Test func aFollowerMirrorsShardZerosSwimMembership() {
        var lead = instance()
        var follower = instance(follower: true)
        _ = lead.onSwim(datagram(from: peer), now: now)
        for change in lead.takeMirror() { _ = follower.apply(change, now: now) }
        #expect(follower.replication.peers == lead.replication.peers)
        #expect(follower.member(peer.id)?.info.replication == "r2")
        _ = lead.onLinkRefused(peer.id, now: now)
        for change in lead.takeMirror() { _ = follower.apply(change, now: now) }
        #expect(follower.replication.peers.isEmpty)
        #expect(follower.replication.departedCount == 1)
    }

    @Test func beaconsAndSwimDatagramsIgnoreEachOther() {
        var swim = instance()
        let beacon = Beacon(cluster: "c", sender: peer, status: .alive, sequence: 1, members: [])
        #expect(swim.onBeacon(beacon, now: now).isEmpty)
        #expect(swim.members.isEmpty)
        var beaconNode = NodeInstance(
            cluster: "c", me: me, membership: MembershipSettings(), replication: .unitTest(.delta), now: now)
        #expect(beaconNode.onSwim(datagram(from: peer), now: now).isEmpty)
        #expect(beaconNode.members.isEmpty)
    }

    @Test func swimFramesRoundTripAndAreDistinctFromBeacons() throws {
        let sample = datagram(from: peer, .ping(sequence: 7), updates: [
            SwimUpdate(member: other, incarnation: 2, status: .suspect, origin: me.id)
        ])
        let bytes = WireCodec.frame(.swim(sample))
        #expect(bytes[3] == Frame.Kind.swim.rawValue)
        #expect(try WireCodec.decodeFrame(bytes) == .swim(sample))
    }
}
