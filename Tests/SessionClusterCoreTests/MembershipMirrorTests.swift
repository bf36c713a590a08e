import Testing

@testable import SessionClusterCore

/// A node on several loops: shard 0's membership decisions, recorded and replayed on a follower shard, leave the
/// follower's replication exactly where shard 0's is — same live peers, same departures, same unreachable peers.
@Suite struct MembershipMirrorTests {
    let now = Timestamp(millis: 1_700_000_000_000)
    let me = MemberInfo(id: NodeID(rawValue: 1), name: "n1", replication: "r1", http: "")
    let peer = MemberInfo(id: NodeID(rawValue: 2), name: "n2", replication: "r2", http: "")
    let other = MemberInfo(id: NodeID(rawValue: 3), name: "n3", replication: "r3", http: "")

    func instance(follower: Bool) -> NodeInstance {
        var node = NodeInstance(
            cluster: "c", me: me, membership: MembershipSettings(), replication: .unitTest(.delta), now: now,
            follower: follower)
        node.recordsMirror = !follower
        return node
    }

    func beacon(from sender: MemberInfo, gossip: [GossipEntry] = [], sequence: UInt64 = 1) -> Beacon {
        Beacon(cluster: "c", sender: sender, status: .alive, sequence: sequence, members: gossip)
    }

    /// Replays what `lead` recorded on `follower`.
    func replay(_ lead: inout NodeInstance, on follower: inout NodeInstance, at time: Timestamp) {
        for change in lead.takeMirror() { _ = follower.apply(change, now: time) }
    }

    @Test func theFollowerSeesThePeersShardZeroSees() {
        var lead = instance(follower: false)
        var follower = instance(follower: true)
        _ = lead.onBeacon(beacon(from: peer), now: now)
        replay(&lead, on: &follower, at: now)
        #expect(follower.replication.peers == lead.replication.peers)
        #expect(follower.replication.peers[peer.id] == "n2")
        #expect(follower.member(peer.id)?.info.replication == "r2")
        #expect(follower.members.map(\.info.id).contains(peer.id))

        // A link refused: hard evidence, the peer departs on both.
        _ = lead.onLinkRefused(peer.id, now: now)
        replay(&lead, on: &follower, at: now)
        #expect(follower.replication.peers == lead.replication.peers)
        #expect(follower.replication.departedCount == lead.replication.departedCount)
        #expect(lead.replication.departedCount == 1)
    }

    @Test func gossipOfADeadMemberReachesTheFollowerAsUnreachable() {
        var lead = instance(follower: false)
        var follower = instance(follower: true)
        _ = lead.onBeacon(beacon(from: peer, gossip: [GossipEntry(member: other, status: .dead)]), now: now)
        replay(&lead, on: &follower, at: now)
        #expect(
            follower.replication.debugAvailability(now: now) == lead.replication.debugAvailability(now: now))
        #expect(!lead.replication.debugAvailability(now: now).contains("unreachable [:]"))
    }

    @Test func aFollowerNeitherBeaconsNorDecidesMembership() {
        var follower = instance(follower: true)
        let ticked = follower.onTick(now: now)
        #expect(!ticked.contains { if case .beacon = $0 { true } else { false } })
        #expect(follower.onLinkLost(peer.id, now: now).isEmpty)
        #expect(follower.members.isEmpty)
        // Nothing is recorded by a follower.
        #expect(follower.takeMirror().isEmpty)
    }
}
