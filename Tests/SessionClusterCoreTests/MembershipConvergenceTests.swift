import SessionClusterCore
import Testing

/// Several instances wired together by hand: beacons are delivered by address, no network involved.
@Suite struct MembershipConvergenceTests {
    typealias F = MembershipFixture

    /// Delivers every beacon in `directives` to the instances it addresses: multicast reaches everyone but the
    /// sender, except the (sender name, receiver name) pairs in `lostMulticast`; unicast reaches its addresses.
    private func deliver(
        _ directives: [MembershipDirective], to nodes: inout [MembershipInstance], now: Timestamp,
        lostMulticast: Set<[String]> = []
    ) {
        for case .sendBeacon(let beacon, let multicast, let unicast) in directives {
            for index in nodes.indices where nodes[index].me.id != beacon.sender.id {
                let receiver = nodes[index].me
                let byMulticast = multicast && !lostMulticast.contains([beacon.sender.name, receiver.name])
                if byMulticast || unicast.contains(receiver.replication) {
                    _ = nodes[index].onBeacon(beacon, now: now)
                }
            }
        }
    }

    @Test func threeNodesBehindOneSeedConvergeWithoutMulticast() {
        var clock = ManualClock()
        var settings = MembershipSettings()
        settings.multicast = false
        var hubSettings = settings
        settings.seeds = [F.n1.replication]
        hubSettings.seeds = [F.n1.replication]  // n1 lists itself: it is skipped.
        var nodes = [
            MembershipInstance(settings: hubSettings, cluster: F.cluster, me: F.n1, now: clock.now),
            MembershipInstance(settings: settings, cluster: F.cluster, me: F.n2, now: clock.now),
            MembershipInstance(settings: settings, cluster: F.cluster, me: F.n3, now: clock.now),
        ]
        for _ in 0..<3 {
            for index in nodes.indices {
                let directives = nodes[index].onTick(now: clock.now)
                deliver(directives, to: &nodes, now: clock.now)
            }
            clock.advance(500)
        }
        #expect(nodes[0].peers == [F.n2, F.n3])
        #expect(nodes[1].peers == [F.n1, F.n3])
        #expect(nodes[2].peers == [F.n1, F.n2])
        // n2 and n3 first met through n1's gossip, then unicast to each other directly.
        #expect(nodes.allSatisfy { $0.members.allSatisfy { $0.heardDirectly && $0.status == .alive } })
    }

    @Test func memberKnownOnlyByGossipTimesOutUnlessMembersAlsoUnicast() {
        // n1's multicast never reaches n3 (say, a filtering switch); everything else gets through.
        let lost: Set<[String]> = [["n1", "n3"]]
        for unicastToMembers in [false, true] {
            var clock = ManualClock()
            var settings = MembershipSettings()
            settings.unicastToMembers = unicastToMembers
            var nodes = [F.n1, F.n2, F.n3].map {
                MembershipInstance(settings: settings, cluster: F.cluster, me: $0, now: clock.now)
            }
            var n3Events: [MembershipEvent] = []
            for _ in 0..<20 {
                for index in nodes.indices {
                    let directives = nodes[index].onTick(now: clock.now)
                    if index == 2 { n3Events += directives.events }
                    deliver(directives, to: &nodes, now: clock.now, lostMulticast: lost)
                }
                clock.advance(250)
            }
            #expect(nodes[0].peers == [F.n2, F.n3])
            #expect(nodes[1].peers == [F.n1, F.n3])
            if unicastToMembers {
                // n1 knows n3 directly, so it unicasts to it: n3 hears n1 first-hand and keeps it.
                #expect(nodes[2].peers == [F.n1, F.n2])
                #expect(nodes[2].members.allSatisfy { $0.heardDirectly })
            } else {
                // n3 learned of n1 from n2's gossip, but gossip never stands in for a direct beacon.
                #expect(n3Events == [.suspect(F.n1), .dead(F.n1)])
                #expect(nodes[2].member(F.n1.id)?.heardDirectly == false)
                #expect(nodes[2].member(F.n1.id)?.status == .dead)
                #expect(nodes[2].peers == [F.n2])
            }
        }
    }
}
