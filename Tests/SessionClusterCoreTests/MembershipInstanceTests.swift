import SessionClusterCore
import Testing

@Suite struct MembershipInstanceTests {
    typealias F = MembershipFixture
    let n1 = F.n1, n2 = F.n2, n3 = F.n3, n4 = F.n4
    var clock = ManualClock()

    func makeInstance(_ change: (inout MembershipSettings) -> Void = { _ in }) -> MembershipInstance {
        var settings = MembershipSettings()
        change(&settings)
        return MembershipInstance(settings: settings, cluster: F.cluster, me: n1, now: clock.now)
    }

    // MARK: Beacons out

    @Test func firstTickBeaconsAtOnceThenEveryHeartbeat() {
        var clock = self.clock
        var node = makeInstance()
        let first = F.beacon(from: n1, sequence: 1)
        #expect(node.onTick(now: clock.now) == [.sendBeacon(first, multicast: true, unicast: [])])
        clock.advance(499)
        #expect(node.onTick(now: clock.now) == [])
        clock.advance(1)
        #expect(node.onTick(now: clock.now).beacons.map(\.sequence) == [2])
    }

    @Test func beaconGossipsLiveMembersButNotDeadOnes() {
        var node = makeInstance()
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        _ = node.onBeacon(F.beacon(from: n3, sequence: 1), now: clock.now)
        _ = node.onBeacon(F.beacon(from: n4, sequence: 1), now: clock.now)
        _ = node.onLinkLost(n3.id, now: clock.now)
        _ = node.onLinkRefused(n4.id, now: clock.now)
        let gossip = [GossipEntry(member: n2, status: .alive), GossipEntry(member: n3, status: .suspect)]
        #expect(node.onTick(now: clock.now).beacons == [F.beacon(from: n1, sequence: 1, gossip: gossip)])
    }

    @Test func memberDeadByTimeoutIsGossipedAsDeadSoNewcomersKnowItMayBeOutThere() {
        var clock = self.clock
        var node = makeInstance()
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        _ = node.onBeacon(F.beacon(from: n3, sequence: 1), now: clock.now)
        _ = node.onTick(now: clock.now)
        clock.advance(node.settings.deadAfterMillis)
        _ = node.onBeacon(F.beacon(from: n2, sequence: 2), now: clock.now)
        let gossip = node.onTick(now: clock.now).beacons.last?.members ?? []
        #expect(gossip == [GossipEntry(member: n2, status: .alive), GossipEntry(member: n3, status: .dead)])
    }

    @Test func unicastGoesToSeedsAndKnownMembersWithoutMulticast() {
        var node = makeInstance {
            $0.multicast = false
            $0.seeds = ["198.51.100.9:4000", F.n1.replication, "198.51.100.2:4000"]
        }
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        _ = node.onBeacon(F.beacon(from: n3, sequence: 1), now: clock.now)
        _ = node.onBeacon(F.beacon(from: n4, sequence: 1), now: clock.now)
        _ = node.onLinkRefused(n4.id, now: clock.now)
        let beacon = F.beacon(from: n1, sequence: 1, gossip: F.alive(n2, n3))
        let expected = MembershipDirective.sendBeacon(
            beacon, multicast: false, unicast: ["198.51.100.2:4000", "198.51.100.3:4000", "198.51.100.9:4000"])
        #expect(node.onTick(now: clock.now) == [expected])
    }

    @Test func multicastAloneDoesNotUnicastToMembersUnlessAskedTo() {
        var node = makeInstance { $0.seeds = ["198.51.100.9:4000"] }
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        #expect(
            node.onTick(now: clock.now) == [
                .sendBeacon(
                    F.beacon(from: n1, sequence: 1, gossip: F.alive(n2)), multicast: true,
                    unicast: ["198.51.100.9:4000"])
            ])
        var asked = makeInstance { $0.unicastToMembers = true }
        _ = asked.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        #expect(
            asked.onTick(now: clock.now) == [
                .sendBeacon(
                    F.beacon(from: n1, sequence: 1, gossip: F.alive(n2)), multicast: true,
                    unicast: ["198.51.100.2:4000"])
            ])
    }

    @Test func loneNodeWithNowhereToSendSendsNothing() {
        var node = makeInstance { $0.multicast = false }
        #expect(node.onTick(now: clock.now) == [])
    }

    // MARK: Beacons in

    @Test func unknownSenderJoinsAsDirectlyHeard() {
        var node = makeInstance()
        #expect(node.onBeacon(F.beacon(from: n2, sequence: 7), now: clock.now) == [.event(.joined(n2))])
        #expect(node.member(n2.id) == Member(info: n2, status: .alive, lastHeard: clock.now, heardDirectly: true))
        #expect(node.peers == [n2])
    }

    @Test func otherClusterIsIgnored() {
        var node = makeInstance()
        #expect(
            node.onBeacon(F.beacon(from: n2, sequence: 1, gossip: F.alive(n3), cluster: "other"), now: clock.now) == [])
        #expect(node.members.isEmpty)
    }

    @Test func aNodeWithAnotherNumberOfShardsIsIgnoredLikeAnotherCluster() {
        var node = makeInstance()
        var odd = F.beacon(from: n2, sequence: 1, gossip: F.alive(n3))
        odd.shards = 2
        #expect(node.onBeacon(odd, now: clock.now) == [])
        #expect(node.members.isEmpty)
        // Two shards on each side agree; the beacons this node sends say how many it runs.
        var two = MembershipInstance(settings: MembershipSettings(), cluster: F.cluster, shards: 2, me: n1, now: clock.now)
        #expect(two.onBeacon(odd, now: clock.now).isEmpty == false)
        #expect(two.peers == [n2, n3])
        #expect(two.onTick(now: clock.now).beacons.map(\.shards) == [2])
    }

    @Test func ownBeaconIsIgnored() {
        var node = makeInstance()
        #expect(node.onBeacon(F.beacon(from: n1, sequence: 1, gossip: F.alive(n2)), now: clock.now) == [])
        #expect(node.members.isEmpty)
    }

    @Test func replayedBeaconIsIgnored() {
        var clock = self.clock
        var node = makeInstance()
        _ = node.onBeacon(F.beacon(from: n2, sequence: 5), now: clock.now)
        clock.advance(1_000)
        #expect(node.onBeacon(F.beacon(from: n2, sequence: 5, gossip: F.alive(n3)), now: clock.now) == [])
        #expect(node.onBeacon(F.beacon(from: n2, sequence: 4, gossip: F.alive(n3)), now: clock.now) == [])
        #expect(node.member(n3.id) == nil)
        // The replay did not count as hearing from n2.
        #expect(node.member(n2.id)?.lastHeard == clock.now.adding(millis: -1_000))
        #expect(
            node.onBeacon(F.beacon(from: n2, sequence: 6, gossip: F.alive(n3)), now: clock.now) == [
                .event(.joined(n3))
            ])
    }

    @Test func membersAreSortedByNameThenId() {
        var node = makeInstance()
        let b = F.info(9, "b")
        let a2 = F.info(8, "a")
        let a1 = F.info(7, "a")
        _ = node.onBeacon(F.beacon(from: b, sequence: 1, gossip: F.alive(a1)), now: clock.now)
        _ = node.onBeacon(F.beacon(from: F.info(10, "c"), sequence: 1), now: clock.now)
        #expect(node.members.map(\.info.name) == ["a", "b", "c"])
        // A second "a" only arrives directly, as a restart of the first; the dead one stays listed until forgotten.
        _ = node.onBeacon(F.beacon(from: a2, sequence: 1), now: clock.now)
        #expect(node.members.map(\.info) == [a1, a2, b, F.info(10, "c")])
        #expect(node.peers == [a2, b, F.info(10, "c")])
    }

    // MARK: Failure detection

    @Test func silentMemberBecomesSuspectThenDead() {
        var clock = self.clock
        var node = makeInstance()
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        clock.advance(1_499)
        #expect(node.onTick(now: clock.now).events == [])
        clock.advance(1)
        #expect(node.onTick(now: clock.now).events == [.suspect(n2)])
        #expect(node.peers == [n2])
        clock.advance(1_499)
        #expect(node.onTick(now: clock.now).events == [])
        clock.advance(1)
        #expect(node.onTick(now: clock.now).events == [.dead(n2)])
        #expect(node.member(n2.id)?.status == .dead)
        #expect(node.peers.isEmpty)
        clock.advance(10_000)
        #expect(node.onTick(now: clock.now).events == [])
    }

    @Test func longSilenceBetweenTicksGoesStraightToDead() {
        var clock = self.clock
        var node = makeInstance()
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        clock.advance(5_000)
        #expect(node.onTick(now: clock.now).events == [.dead(n2)])
    }

    @Test func deadMemberIsForgottenAfterRetention() {
        var clock = self.clock
        var node = makeInstance()
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        clock.advance(3_000)
        #expect(node.onTick(now: clock.now).events == [.dead(n2)])
        clock.advance(59_999)
        _ = node.onTick(now: clock.now)
        #expect(node.member(n2.id)?.status == .dead)
        clock.advance(1)
        _ = node.onTick(now: clock.now)
        #expect(node.member(n2.id) == nil)
        #expect(node.members.isEmpty)
    }

    @Test func partitionHealRecoversMember() {
        var clock = self.clock
        var node = makeInstance()
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        _ = node.onBeacon(F.beacon(from: n3, sequence: 1), now: clock.now)
        clock.advance(1_500)
        _ = node.onBeacon(F.beacon(from: n3, sequence: 2), now: clock.now)
        #expect(node.onTick(now: clock.now).events == [.suspect(n2)])
        #expect(node.onBeacon(F.beacon(from: n2, sequence: 2), now: clock.now) == [.event(.recovered(n2))])
        clock.advance(3_000)
        #expect(node.onTick(now: clock.now).events == [.dead(n2), .dead(n3)])
        #expect(node.onBeacon(F.beacon(from: n2, sequence: 9), now: clock.now) == [.event(.recovered(n2))])
        #expect(node.member(n2.id) == Member(info: n2, status: .alive, lastHeard: clock.now, heardDirectly: true))
        #expect(node.peers == [n2])
    }

    @Test func refusedLinkIsDeadAtOnce() {
        var node = makeInstance()
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        #expect(node.onLinkRefused(n2.id, now: clock.now) == [.event(.dead(n2))])
        #expect(node.onLinkRefused(n2.id, now: clock.now) == [])
        #expect(node.onLinkRefused(n3.id, now: clock.now) == [])
        #expect(node.peers.isEmpty)
    }

    @Test func lostLinkMakesMemberSuspectButNotDead() {
        var clock = self.clock
        var node = makeInstance()
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        #expect(node.onLinkLost(n2.id, now: clock.now) == [.event(.suspect(n2))])
        #expect(node.onLinkLost(n2.id, now: clock.now) == [])
        #expect(node.peers == [n2])
        clock.advance(2_999)
        #expect(node.onTick(now: clock.now).events == [])
        clock.advance(1)
        #expect(node.onTick(now: clock.now).events == [.dead(n2)])
    }

    // MARK: Restarts and leaving

    @Test func restartWithSameNameReplacesOldIncarnation() {
        var node = makeInstance()
        let n2b = MemberInfo(id: NodeID(rawValue: 22), name: "n2", replication: n2.replication, http: n2.http)
        _ = node.onBeacon(F.beacon(from: n2, sequence: 40), now: clock.now)
        #expect(
            node.onBeacon(F.beacon(from: n2b, sequence: 1), now: clock.now) == [
                .event(.dead(n2)), .event(.joined(n2b)),
            ])
        #expect(node.peers == [n2b])
        #expect(node.member(n2.id)?.status == .dead)
    }

    @Test func lateBeaconFromReplacedIncarnationIsIgnored() {
        var node = makeInstance()
        let n2b = MemberInfo(id: NodeID(rawValue: 22), name: "n2", replication: n2.replication, http: n2.http)
        _ = node.onBeacon(F.beacon(from: n2, sequence: 40), now: clock.now)
        _ = node.onBeacon(F.beacon(from: n2b, sequence: 1), now: clock.now)
        #expect(node.onBeacon(F.beacon(from: n2, sequence: 41), now: clock.now) == [])
        #expect(node.peers == [n2b])
    }

    @Test func anEarlierIncarnationNeverDisplacesTheLaterOne() {
        // A node that only ever knew n2's current process (22) hears a recording of its earlier run (2), directly
        // and as gossip: the earlier start is ignored both ways.
        var node = makeInstance()
        let n2b = F.info(22, "n2")
        _ = node.onBeacon(F.beacon(from: n2b, sequence: 1), now: clock.now)
        #expect(node.onBeacon(F.beacon(from: n2, sequence: 900), now: clock.now) == [])
        #expect(
            node.onBeacon(F.beacon(from: n3, sequence: 1, gossip: F.alive(n2)), now: clock.now) == [
                .event(.joined(n3))
            ])
        #expect(node.peers == [n2b, n3])
        #expect(node.member(n2.id) == nil)
    }

    @Test func twoProcessesUnderOneNameSettleOnTheLaterOneForGood() {
        // Both keep beaconing for three minutes, long past the time a replaced incarnation is forgotten: the later
        // start stays the member, the earlier one never comes back.
        var clock = self.clock
        var node = makeInstance()
        let n2b = F.info(22, "n2")
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        _ = node.onBeacon(F.beacon(from: n2b, sequence: 1), now: clock.now)
        var events: [MembershipEvent] = []
        for sequence in 2...360 as ClosedRange<UInt64> {
            clock.advance(500)
            events += node.onBeacon(F.beacon(from: n2, sequence: sequence), now: clock.now).events
            events += node.onBeacon(F.beacon(from: n2b, sequence: sequence), now: clock.now).events
            events += node.onTick(now: clock.now).events
            #expect(node.peers == [n2b])
        }
        #expect(events == [])
    }

    @Test func anEarlierStartTakesTheNameOnceTheLaterOneIsGone() {
        // A restart after the clock was set back: its id is the earlier, but the process it replaces has left.
        var node = makeInstance()
        let n2b = F.info(22, "n2")
        _ = node.onBeacon(F.beacon(from: n2b, sequence: 1), now: clock.now)
        _ = node.onBeacon(F.beacon(from: n2b, sequence: 2, status: .leaving), now: clock.now)
        #expect(node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now) == [.event(.joined(n2))])
        #expect(node.peers == [n2])
    }

    @Test func theEarlierProcessTakesItsNameBackAsSoonAsTheLaterOneIsKilled() {
        // Two processes under one name; the later one is killed (-9: its port refuses). The earlier one, still
        // beaconing, is a member again at its next beacon, not a minute later (fresh-eyes review).
        var node = makeInstance()
        let n2b = F.info(22, "n2")
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        _ = node.onBeacon(F.beacon(from: n2b, sequence: 1), now: clock.now)
        #expect(node.onBeacon(F.beacon(from: n2, sequence: 2), now: clock.now) == [])
        _ = node.onLinkRefused(n2b.id, now: clock.now)
        #expect(node.onBeacon(F.beacon(from: n2, sequence: 3), now: clock.now).events == [.recovered(n2)])
        #expect(node.peers == [n2])
    }

    @Test func aBeaconUnderMyOwnNameIsNotAMember() {
        var node = makeInstance()
        #expect(node.onBeacon(F.beacon(from: F.info(11, n1.name), sequence: 1), now: clock.now) == [])
        #expect(node.peers == [])
    }

    @Test func leavingBeaconRemovesMemberImmediately() {
        var clock = self.clock
        var node = makeInstance()
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        #expect(node.onBeacon(F.beacon(from: n2, sequence: 2, status: .leaving), now: clock.now) == [.event(.left(n2))])
        #expect(node.member(n2.id)?.status == .leaving)
        #expect(node.peers.isEmpty)
        // A left incarnation never comes back, not even by its own (forged or late) beacon.
        #expect(node.onBeacon(F.beacon(from: n2, sequence: 3), now: clock.now) == [])
        clock.advance(10_000)
        #expect(node.onTick(now: clock.now).events == [])
        // A new incarnation of the same node joins normally.
        let n2b = MemberInfo(id: NodeID(rawValue: 22), name: "n2", replication: n2.replication, http: n2.http)
        #expect(node.onBeacon(F.beacon(from: n2b, sequence: 1), now: clock.now) == [.event(.joined(n2b))])
    }

    @Test func leaveSendsLeavingBeaconThenTicksSendNothing() {
        var clock = self.clock
        var node = makeInstance { $0.seeds = ["198.51.100.9:4000"] }
        _ = node.onTick(now: clock.now)
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        let leaving = F.beacon(from: n1, sequence: 2, status: .leaving, gossip: F.alive(n2))
        #expect(node.leave(now: clock.now) == [.sendBeacon(leaving, multicast: true, unicast: ["198.51.100.9:4000"])])
        #expect(node.isLeaving)
        clock.advance(500)
        _ = node.onBeacon(F.beacon(from: n2, sequence: 2), now: clock.now)
        #expect(node.onTick(now: clock.now) == [])
        clock.advance(5_000)
        #expect(node.onTick(now: clock.now).beacons.isEmpty)
    }

    // MARK: Gossip

    @Test func gossipIntroducesMemberMissedByMulticast() {
        var node = makeInstance()
        #expect(
            node.onBeacon(F.beacon(from: n2, sequence: 1, gossip: F.alive(n1, n3)), now: clock.now) == [
                .event(.joined(n2)), .event(.joined(n3)),
            ])
        #expect(node.member(n3.id) == Member(info: n3, status: .alive, lastHeard: clock.now, heardDirectly: false))
        #expect(node.member(n1.id) == nil)
        // Hearing from it later makes it directly known, without another event.
        #expect(node.onBeacon(F.beacon(from: n3, sequence: 1), now: clock.now) == [])
        #expect(node.member(n3.id)?.heardDirectly == true)
    }

    @Test func gossipedMemberNeverHeardDirectlyStillTimesOut() {
        var clock = self.clock
        var node = makeInstance()
        for sequence in 1...7 as ClosedRange<UInt64> {
            let events =
                node.onBeacon(F.beacon(from: n2, sequence: sequence, gossip: F.alive(n3)), now: clock.now).events
                + node.onTick(now: clock.now).events
            switch sequence {
            case 1: #expect(events == [.joined(n2), .joined(n3)])
            case 4: #expect(events == [.suspect(n3)])
            case 7: #expect(events == [.dead(n3)])
            default: #expect(events == [])
            }
            clock.advance(500)
        }
        #expect(node.peers == [n2])
    }

    @Test func gossipCannotResurrectDeadMember() {
        var node = makeInstance()
        _ = node.onBeacon(F.beacon(from: n3, sequence: 1), now: clock.now)
        _ = node.onLinkRefused(n3.id, now: clock.now)
        #expect(
            node.onBeacon(F.beacon(from: n2, sequence: 1, gossip: F.alive(n3)), now: clock.now) == [
                .event(.joined(n2))
            ])
        #expect(node.member(n3.id)?.status == .dead)
    }

    @Test func gossipDoesNotIntroduceSuspectOrLeavingStrangers() {
        var node = makeInstance()
        let gossip = [GossipEntry(member: n3, status: .suspect), GossipEntry(member: n4, status: .leaving)]
        #expect(node.onBeacon(F.beacon(from: n2, sequence: 1, gossip: gossip), now: clock.now) == [.event(.joined(n2))])
        #expect(node.members.map(\.info) == [n2])
    }

    @Test func gossipCannotIntroduceSecondIncarnationOfLiveName() {
        var node = makeInstance()
        let n2b = MemberInfo(id: NodeID(rawValue: 22), name: "n2", replication: n2.replication, http: n2.http)
        let n1b = MemberInfo(id: NodeID(rawValue: 11), name: "n1", replication: n1.replication, http: n1.http)
        _ = node.onBeacon(F.beacon(from: n2, sequence: 1), now: clock.now)
        #expect(
            node.onBeacon(F.beacon(from: n3, sequence: 1, gossip: F.alive(n2b, n1b)), now: clock.now) == [
                .event(.joined(n3))
            ])
        #expect(node.peers == [n2, n3])
    }

    @Test func gossipedLeavingRemovesKnownMember() {
        var node = makeInstance()
        _ = node.onBeacon(F.beacon(from: n3, sequence: 1), now: clock.now)
        let gossip = [GossipEntry(member: n3, status: .leaving)]
        #expect(
            node.onBeacon(F.beacon(from: n2, sequence: 1, gossip: gossip), now: clock.now) == [
                .event(.joined(n2)), .event(.left(n3)),
            ])
        #expect(node.peers == [n2])
        // Left members are relayed as leaving, so peers that missed the leaving beacon drop them too.
        let relayed = [GossipEntry(member: n2, status: .alive), GossipEntry(member: n3, status: .leaving)]
        #expect(node.onTick(now: clock.now).beacons.map(\.members) == [relayed])
    }

    @Test func gossipedLeavingOfDeadMemberIsNotNews() {
        var node = makeInstance()
        _ = node.onBeacon(F.beacon(from: n3, sequence: 1), now: clock.now)
        _ = node.onLinkRefused(n3.id, now: clock.now)
        let gossip = [GossipEntry(member: n3, status: .leaving)]
        #expect(node.onBeacon(F.beacon(from: n2, sequence: 1, gossip: gossip), now: clock.now).events == [.joined(n2)])
        #expect(node.member(n3.id)?.status == .dead)
    }

    @Test func gossipDoesNotRefreshOrRecoverDirectlyKnownMember() {
        var clock = self.clock
        var node = makeInstance()
        _ = node.onBeacon(F.beacon(from: n3, sequence: 1), now: clock.now)
        _ = node.onLinkLost(n3.id, now: clock.now)
        clock.advance(1_000)
        #expect(
            node.onBeacon(F.beacon(from: n2, sequence: 1, gossip: F.alive(n3)), now: clock.now) == [
                .event(.joined(n2))
            ])
        #expect(node.member(n3.id)?.status == .suspect)
        #expect(node.member(n3.id)?.lastHeard == clock.now.adding(millis: -1_000))
    }

    @Test func eventDescriptionsReadAsLogLines() {
        #expect(
            MembershipEvent.joined(n2).description
                == "member n2(0000000000000002) joined (replication 198.51.100.2:4000, http 198.51.100.2:8080)")
        #expect(MembershipEvent.dead(n2).description == "member n2(0000000000000002) is dead")
        #expect(MembershipEvent.left(n2).member == n2)
    }
}
