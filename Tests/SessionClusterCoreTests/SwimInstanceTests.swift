import SessionClusterCore
import Testing

/// The SWIM rules one by one, on a hand-advanced clock (the protocol: `SwimInstance`).
@Suite struct SwimInstanceTests {
    typealias F = MembershipFixture
    let n1 = F.n1, n2 = F.n2, n3 = F.n3, n4 = F.n4
    var clock = ManualClock()

    func makeInstance(_ change: (inout SwimSettings) -> Void = { _ in }) -> SwimInstance {
        var settings = SwimSettings()
        change(&settings)
        return SwimInstance(
            swim: settings, membership: MembershipSettings(), cluster: F.cluster, me: n1, now: clock.now)
    }

    func datagram(
        from sender: MemberInfo, incarnation: UInt64 = 0, _ kind: SwimDatagram.Kind = .gossip,
        updates: [SwimUpdate] = []
    ) -> SwimDatagram {
        SwimDatagram(
            cluster: F.cluster, shards: 1, sender: sender, senderIncarnation: incarnation, kind: kind, updates: updates)
    }

    func update(_ member: MemberInfo, _ status: MemberStatus, incarnation: UInt64 = 0, origin: MemberInfo? = nil)
        -> SwimUpdate
    {
        SwimUpdate(member: member, incarnation: incarnation, status: status, origin: (origin ?? member).id)
    }

    /// Ticks every 50 ms for `millis`, collecting what comes out.
    func run(_ node: inout SwimInstance, _ clock: inout ManualClock, for millis: Int64) -> [SwimDirective] {
        var out: [SwimDirective] = []
        for _ in 0..<(millis / 50) {
            clock.advance(50)
            out += node.onTick(now: clock.now)
        }
        return out
    }

    @Test func anyDatagramFromANewMemberAdmitsIt() {
        var node = makeInstance()
        let out = node.onDatagram(datagram(from: n2), now: clock.now)
        #expect(out.events == [.joined(n2)])
        #expect(node.peers == [n2])
    }

    @Test func silentMemberIsProbedThenSuspectedThenDead() {
        var clock = self.clock
        var node = makeInstance()
        _ = node.onDatagram(datagram(from: n2), now: clock.now)
        _ = node.onDatagram(datagram(from: n3), now: clock.now)
        var out = run(&node, &clock, for: 1_000)
        let pings = out.sent.filter { if case .ping = $0.datagram.kind { true } else { false } }
        #expect(pings.count == 1)
        let target = pings.first!.unicast == [n2.replication] ? n2 : n3
        out = run(&node, &clock, for: 500)
        let requests = out.sent.filter { if case .pingRequest = $0.datagram.kind { true } else { false } }
        #expect(requests.count == 1)  // the one other member
        out = run(&node, &clock, for: 600)
        #expect(out.events == [.suspect(target)])
        out = run(&node, &clock, for: 10_000)
        #expect(out.events.contains(.dead(target)))
    }

    @Test func suspicionOfMeIsRefutedWithAHigherIncarnation() {
        var node = makeInstance()
        _ = node.onDatagram(datagram(from: n2), now: clock.now)
        let out = node.onDatagram(
            datagram(from: n2, updates: [update(n1, .suspect, incarnation: 0, origin: n2)]), now: clock.now)
        #expect(node.incarnation == 1)
        #expect(node.awareness == 1)
        let refutation = out.sent.first?.datagram.updates.first
        #expect(refutation == update(n1, .alive, incarnation: 1))
        #expect(out.sent.first?.multicast == true)
    }

    @Test func higherIncarnationWinsAndDeadBeatsSuspectBeatsAlive() {
        var node = makeInstance()
        _ = node.onDatagram(datagram(from: n2), now: clock.now)
        _ = node.onDatagram(datagram(from: n3), now: clock.now)
        // Suspect at the same incarnation wins over alive; alive needs a higher one to clear it.
        #expect(
            node.onDatagram(datagram(from: n3, updates: [update(n2, .suspect, origin: n3)]), now: clock.now).events
                == [.suspect(n2)])
        #expect(node.onDatagram(datagram(from: n3, updates: [update(n2, .alive)]), now: clock.now).events == [])
        #expect(
            node.onDatagram(datagram(from: n3, updates: [update(n2, .alive, incarnation: 1)]), now: clock.now).events
                == [.recovered(n2)])
        // An older suspicion changes nothing; a death at the current incarnation is final for it.
        #expect(
            node.onDatagram(datagram(from: n3, updates: [update(n2, .suspect, origin: n3)]), now: clock.now).events
                == [])
        #expect(
            node.onDatagram(
                datagram(from: n3, updates: [update(n2, .dead, incarnation: 1, origin: n3)]), now: clock.now
            )
            .events == [.dead(n2)])
        #expect(
            node.onDatagram(datagram(from: n3, updates: [update(n2, .alive, incarnation: 1)]), now: clock.now).events
                == [])
    }

    @Test func newIdUnderAKnownNameSupersedesTheOldIncarnationForGood() {
        var node = makeInstance()
        _ = node.onDatagram(datagram(from: n2), now: clock.now)
        let restarted = F.info(22, "n2")
        let out = node.onDatagram(datagram(from: restarted), now: clock.now)
        #expect(out.events == [.dead(n2), .joined(restarted)])
        // The old incarnation never comes back, whatever it claims.
        #expect(node.onDatagram(datagram(from: n2, incarnation: 9), now: clock.now).events == [])
        #expect(node.member(n2.id)?.status == .dead)
    }

    @Test func inEachPeriodEveryMemberIsProbedByExactlyOneNode() {
        // Eight nodes with the same view: period by period their probe targets are a permutation of the members (so
        // a crashed one is probed within the period), and over seven periods each node probes every other once.
        let infos = (1...8).map { F.info(UInt64($0) * 7_919, "m\($0)") }
        var nodes = infos.map {
            SwimInstance(
                swim: SwimSettings(), membership: MembershipSettings(), cluster: F.cluster, me: $0, now: clock.now)
        }
        for index in nodes.indices {
            for other in infos where other.id != infos[index].id {
                _ = nodes[index].onDatagram(datagram(from: other), now: clock.now)
            }
        }
        let period = SwimSettings().probeIntervalMillis
        var probedBy: [NodeID: Set<NodeID>] = [:]
        for round in 0..<14 as Range<Int64> {
            // Any instant of the period: each node probes at its own.
            let now = Timestamp(millis: 1_800_000_000_000 + round * period + (round * 37) % period)
            var targets: [NodeID] = []
            for index in nodes.indices {
                let target = nodes[index].nextProbeTarget(now: now)!
                #expect(target != infos[index].id)
                targets.append(target)
                if round < 7 { probedBy[infos[index].id, default: []].insert(target) }
            }
            #expect(Set(targets) == Set(infos.map(\.id)), "period \(round): every member probed once")
        }
        for info in infos { #expect(probedBy[info.id]?.count == 7, "\(info.name) probed every other member") }
    }

    @Test func anEarlierIncarnationNeverDisplacesTheLaterOne() {
        // A node that only ever knew n2's current process (22) hears a recording of its earlier run (2), directly
        // and as gossip: the earlier start is ignored both ways.
        var node = makeInstance()
        let restarted = F.info(22, "n2")
        _ = node.onDatagram(datagram(from: restarted), now: clock.now)
        #expect(node.onDatagram(datagram(from: n2, incarnation: 5), now: clock.now).events == [])
        #expect(
            node.onDatagram(datagram(from: n3, updates: [update(n2, .alive, incarnation: 5)]), now: clock.now).events
                == [.joined(n3)])
        #expect(node.peers == [n3, restarted].sorted { $0.name < $1.name })
        #expect(node.member(n2.id) == nil)
    }

    @Test func anEarlierStartTakesTheNameOnceTheLaterOneIsGone() {
        // A restart after the clock was set back: its id is the earlier, but the process it replaces has left.
        var node = makeInstance()
        let later = F.info(22, "n2")
        _ = node.onDatagram(datagram(from: later), now: clock.now)
        _ = node.onDatagram(datagram(from: n3, updates: [update(later, .leaving)]), now: clock.now)
        #expect(node.onDatagram(datagram(from: n2), now: clock.now).events == [.joined(n2)])
        #expect(node.peers == [n2, n3])
    }

    @Test func theEarlierProcessTakesItsNameBackAsSoonAsTheLaterOneIsKilled() {
        // Two processes under one name; the later one is killed (-9: its port refuses). The earlier one, still
        // talking, is a member again at its next datagram, not a minute later (fresh-eyes review).
        var node = makeInstance()
        let later = F.info(22, "n2")
        _ = node.onDatagram(datagram(from: n2), now: clock.now)
        _ = node.onDatagram(datagram(from: later), now: clock.now)
        #expect(node.onDatagram(datagram(from: n2), now: clock.now).events == [])
        _ = node.onLinkRefused(later.id, now: clock.now)
        #expect(node.onDatagram(datagram(from: n2), now: clock.now).events == [.recovered(n2)])
        #expect(node.peers == [n2])
    }

    @Test func twoProcessesUnderOneNameSettleOnTheLaterOneForGood() {
        // Both keep sending for three minutes, long past the time a replaced incarnation is forgotten: the later
        // start stays the member, the earlier one never comes back.
        var clock = self.clock
        var node = makeInstance()
        let later = F.info(22, "n2")
        _ = node.onDatagram(datagram(from: n2), now: clock.now)
        _ = node.onDatagram(datagram(from: later), now: clock.now)
        var events: [MembershipEvent] = []
        for _ in 0..<360 {
            let out = run(&node, &clock, for: 500)
            events += out.events
            // The later process answers its probes; the earlier one just keeps talking.
            for case .ping(let sequence) in out.sent.map(\.datagram.kind) {
                events += node.onDatagram(datagram(from: later, .ack(sequence: sequence)), now: clock.now).events
            }
            events += node.onDatagram(datagram(from: n2), now: clock.now).events
            events += node.onDatagram(datagram(from: later), now: clock.now).events
            #expect(node.peers == [later])
        }
        #expect(events.filter { $0.member.name == "n2" } == [])
    }

    @Test func gossipCannotReplaceALiveMemberOfTheSameName() {
        var node = makeInstance()
        _ = node.onDatagram(datagram(from: n2), now: clock.now)
        let restarted = F.info(22, "n2")
        #expect(
            node.onDatagram(datagram(from: n3, updates: [update(restarted, .alive)]), now: clock.now).events
                == [.joined(n3)])
        #expect(node.member(restarted.id) == nil)
    }

    @Test func refusedLinkIsDeadAtOnceAndSpread() {
        var node = makeInstance()
        _ = node.onDatagram(datagram(from: n2), now: clock.now)
        let out = node.onLinkRefused(n2.id, now: clock.now)
        #expect(out.events == [.dead(n2)])
        #expect(out.sent.first?.datagram.updates == [update(n2, .dead, origin: n1)])
        #expect(node.onLinkRefused(n2.id, now: clock.now) == [])
    }

    @Test func lostLinkMakesAMemberSuspectAndTellsIt() {
        var node = makeInstance()
        _ = node.onDatagram(datagram(from: n2), now: clock.now)
        let out = node.onLinkLost(n2.id, now: clock.now)
        #expect(out.events == [.suspect(n2)])
        #expect(out.sent.first?.unicast == [n2.replication])
    }

    @Test func leavingIsAnnouncedAndFinal() {
        var node = makeInstance()
        _ = node.onDatagram(datagram(from: n2), now: clock.now)
        let out = node.leave(now: clock.now)
        #expect(out.sent.first?.datagram.updates == [update(n1, .leaving)])
        var peer = makeInstance()
        _ = peer.onDatagram(datagram(from: n2), now: clock.now)
        #expect(
            peer.onDatagram(datagram(from: n2, .announce, updates: [update(n2, .leaving)]), now: clock.now).events
                == [.left(n2)])
        #expect(peer.onDatagram(datagram(from: n2, incarnation: 5), now: clock.now).events == [])
    }

    @Test func otherClusterAndOtherShardCountAreIgnored() {
        var node = makeInstance()
        var foreign = datagram(from: n2)
        foreign.cluster = "other"
        #expect(node.onDatagram(foreign, now: clock.now) == [])
        var sharded = datagram(from: n2)
        sharded.shards = 2
        #expect(node.onDatagram(sharded, now: clock.now) == [])
        #expect(node.peers == [])
    }

    @Test func failedProbeWithoutNacksRaisesLocalHealthAndStretchesTheNextProbe() {
        var clock = self.clock
        var node = makeInstance()
        _ = node.onDatagram(datagram(from: n2), now: clock.now)
        _ = node.onDatagram(datagram(from: n3), now: clock.now)
        _ = run(&node, &clock, for: 2_100)
        #expect(node.awareness == 1)
        let due = node.nextProbeDue.millis - clock.now.millis
        #expect(due > 1_000)
    }

    @Test func nackedProbeLeavesLocalHealthAloneAndConfirmsTheSuspicion() {
        var clock = self.clock
        var node = makeInstance()
        _ = node.onDatagram(datagram(from: n2), now: clock.now)
        _ = node.onDatagram(datagram(from: n3), now: clock.now)
        let out = run(&node, &clock, for: 1_500)
        let request = out.sent.first { if case .pingRequest = $0.datagram.kind { true } else { false } }!
        guard case .pingRequest(let sequence, let target) = request.datagram.kind else { return }
        let helper = target.id == n2.id ? n3 : n2
        _ = node.onDatagram(datagram(from: helper, .nack(sequence: sequence)), now: clock.now)
        let verdict = run(&node, &clock, for: 500)
        #expect(node.awareness == 0)
        #expect(verdict.events == [.suspect(target)])
        let told = verdict.sent.first { $0.datagram.updates.first?.status == .suspect }
        #expect(told?.datagram.updates.map(\.origin) == [n1.id, helper.id])
    }

    @Test func pingIsAcknowledgedAndPingRequestIsRelayed() {
        var node = makeInstance()
        let ack = node.onDatagram(datagram(from: n2, .ping(sequence: 7)), now: clock.now)
        // The first member heard also gets this node's whole state, asking for its own (the join's push-pull).
        #expect(ack.sent.map(\.datagram.kind) == [.state(reply: true), .ack(sequence: 7)])
        let relay = node.onDatagram(datagram(from: n2, .pingRequest(sequence: 8, target: n3)), now: clock.now)
        guard case .ping(let relayed) = relay.sent.last?.datagram.kind else {
            Issue.record("no relayed ping")
            return
        }
        #expect(relay.sent.last?.unicast == [n3.replication])
        let forwarded = node.onDatagram(datagram(from: n3, .ack(sequence: relayed)), now: clock.now)
        #expect(forwarded.sent.contains { $0.datagram.kind == .ack(sequence: 8) && $0.unicast == [n2.replication] })
    }

    /// Only the member probed (or a helper asked to probe it) answers a probe: a ping to n2, captured and replayed
    /// to n3, makes n3 ack with the probe's sequence, and that must not keep a frozen n2 alive (fresh-eyes review).
    /// A relay forwards only its target's ack, and a nack counts only from a helper asked.
    @Test func onlyTheProbedMemberOrAHelperAnswersAProbe() {
        var clock = self.clock
        var node = makeInstance()
        _ = node.onDatagram(datagram(from: n2), now: clock.now)
        _ = node.onDatagram(datagram(from: n3), now: clock.now)
        _ = node.onDatagram(datagram(from: n4), now: clock.now)
        let out = run(&node, &clock, for: 1_000)
        guard let ping = out.sent.first(where: { if case .ping = $0.datagram.kind { true } else { false } }),
            case .ping(let sequence) = ping.datagram.kind
        else {
            Issue.record("no probe")
            return
        }
        let target = [n2, n3, n4].first { [$0.replication] == ping.unicast }!
        let bystander = target.id == n2.id ? n3 : n2
        _ = node.onDatagram(datagram(from: bystander, .ack(sequence: sequence)), now: clock.now)
        #expect(node.probeUnderWay?.target == target.id)  // the bystander's ack answered nothing
        _ = node.onDatagram(datagram(from: bystander, .nack(sequence: sequence)), now: clock.now)
        var verdict = run(&node, &clock, for: 2_000)
        #expect(verdict.events == [.suspect(target)])  // the silent target is suspected all the same

        // The target's own ack ends a probe.
        clock.advance(10_000)
        var fresh = makeInstance()
        _ = fresh.onDatagram(datagram(from: n2), now: clock.now)
        verdict = run(&fresh, &clock, for: 1_000)
        guard case .ping(let second)? = verdict.sent.first(where: { $0.unicast == [n2.replication] })?.datagram.kind
        else {
            Issue.record("no probe of n2")
            return
        }
        _ = fresh.onDatagram(datagram(from: n2, .ack(sequence: second)), now: clock.now)
        #expect(fresh.probeUnderWay == nil)

        // A relay forwards its target's ack, not a bystander's.
        let relay = fresh.onDatagram(datagram(from: n2, .pingRequest(sequence: 8, target: n3)), now: clock.now)
        guard case .ping(let relayed)? = relay.sent.last?.datagram.kind else {
            Issue.record("no relayed ping")
            return
        }
        let wrong = fresh.onDatagram(datagram(from: n4, .ack(sequence: relayed)), now: clock.now)
        #expect(!wrong.sent.contains { $0.datagram.kind == .ack(sequence: 8) })
        let right = fresh.onDatagram(datagram(from: n3, .ack(sequence: relayed)), now: clock.now)
        #expect(right.sent.contains { $0.datagram.kind == .ack(sequence: 8) })
    }

    /// A newcomer's multicast announcement is answered with the whole state by its ring successor only, and that
    /// state is its sync (it does not push its own back and ask again).
    @Test func newcomerGetsTheWholeStateFromItsRingSuccessorAlone() {
        var node = makeInstance()  // n1
        _ = node.onDatagram(datagram(from: n3), now: clock.now)
        // n2 (id 2): n3 (id 3) comes first after it on the ring, not n1.
        let other = node.onDatagram(datagram(from: n2, .announce, updates: [update(n2, .alive)]), now: clock.now)
        #expect(!other.sent.contains { if case .state = $0.datagram.kind { true } else { false } })
        // n4 (id 4): the ring wraps to n1 (id 1) before n2 and n3.
        let mine = node.onDatagram(datagram(from: n4, .announce, updates: [update(n4, .alive)]), now: clock.now)
        let pushed = mine.sent.filter { if case .state(reply: false) = $0.datagram.kind { true } else { false } }
        #expect(pushed.map(\.unicast) == [[n4.replication]])
        #expect(Set(pushed.flatMap(\.datagram.updates).map(\.member.id)) == [n1.id, n2.id, n3.id, n4.id])
        // The newcomer's side: that unasked state is its first sync.
        var newcomer = SwimInstance(membership: MembershipSettings(), cluster: F.cluster, me: n4, now: clock.now)
        guard let first = pushed.first else { return }
        let answer = newcomer.onDatagram(first.datagram, now: clock.now)
        #expect(Set(newcomer.peers.map(\.id)) == [n1.id, n2.id, n3.id])
        #expect(answer.sent.isEmpty)
    }

    @Test func everyDatagramFitsAtAThousandMembers() {
        var node = makeInstance()
        var members: [MemberInfo] = []
        for index in 0..<1_024 {
            let host = "10.\(index / 250).\(index % 250).\(index % 200 + 1)"
            members.append(
                MemberInfo(
                    id: NodeID(rawValue: UInt64(100 + index)), name: "node-with-a-long-name-\(index)",
                    replication: "\(host):47101", http: "\(host):8080"))
        }
        var out: [SwimDirective] = []
        // Everyone at once, so the change queue is as full as it gets; then suspicions, a state push-pull, a leave.
        for member in members { out += node.onDatagram(datagram(from: member, .ping(sequence: 1)), now: clock.now) }
        for member in members.prefix(300) { out += node.onLinkLost(member.id, now: clock.now) }
        out += node.onDatagram(datagram(from: members[0], .state(reply: true)), now: clock.now)
        // The digest push-pull at full size: my digests; answering one that lists nobody (every whole entry back)
        // and one that lists a thousand members I do not know (a pull of each).
        out += node.digestPush(to: members[0].replication)
        let everyone = NodeID(rawValue: 0)...NodeID(rawValue: .max)
        out += node.onDatagram(
            datagram(from: members[1], .digest(from: everyone.lowerBound, through: everyone.upperBound, entries: [])),
            now: clock.now)
        let strangers = (0..<1_000).map {
            SwimDigestEntry(id: NodeID(rawValue: 1 << 40 + UInt64($0)), incarnation: 1 << 20, status: .alive)
        }
        out += node.onDatagram(
            datagram(from: members[2], .digest(from: strangers[0].id, through: strangers[999].id, entries: strangers)),
            now: clock.now)
        var clock = self.clock
        out += run(&node, &clock, for: 3_000)
        out += node.leave(now: clock.now)
        let sizes = out.sent.map { WireCodec.encode($0.datagram).count + SwimInstance.datagramOverhead }
        #expect(sizes.max()! <= 1_400)
        let stateChunks = out.sent.filter { if case .state = $0.datagram.kind { true } else { false } }
        #expect(stateChunks.reduce(0) { $0 + $1.datagram.updates.count } >= 1_025)
        #expect(stateChunks.count > 20)
        let digests = out.sent.compactMap {
            if case .digest(_, _, let entries) = $0.datagram.kind { entries } else { nil }
        }
        #expect(digests.reduce(0) { $0 + $1.count } == 1_025)
        #expect(digests.count < 12)
        let pulled = out.sent.compactMap { if case .pull(let ids) = $0.datagram.kind { ids } else { nil } }
        #expect(Set(pulled.joined()) == Set(strangers.map(\.id)))
    }

    /// A digest push-pull between two members that know different things converges both, and sends whole entries
    /// only for what differs.
    @Test func digestExchangeConvergesTwoMembersThatDiffer() {
        let n5 = F.info(5, "n5")
        let n6 = F.info(6, "n6")
        var a = makeInstance()
        var b = SwimInstance(membership: MembershipSettings(), cluster: F.cluster, me: n2, now: clock.now)
        // Each hears of the other first hand (their first-sync pushes are dropped: this is about the digests).
        _ = a.onDatagram(datagram(from: n2), now: clock.now)
        _ = b.onDatagram(datagram(from: n1), now: clock.now)
        // Common: n3, n6. A alone: n4 at incarnation 2, n6 suspect. B alone: n5; n3 dead; n4 at incarnation 1.
        for (node, news) in [
            (0, [update(n3, .alive), update(n4, .alive, incarnation: 2), update(n6, .alive)]),
            (1, [update(n3, .alive), update(n4, .alive, incarnation: 1), update(n5, .alive), update(n6, .alive)]),
            (1, [update(n3, .dead, origin: n2)]),
            (0, [update(n6, .suspect, origin: n1)]),
        ] {
            let carrier = datagram(from: node == 0 ? n2 : n1, .gossip, updates: news)
            if node == 0 {
                _ = a.onDatagram(carrier, now: clock.now)
            } else {
                _ = b.onDatagram(carrier, now: clock.now)
            }
        }
        var inFlight = a.digestPush(to: n2.replication).sent.map { (to: n2.replication, datagram: $0.datagram) }
        var wholeEntries = 0
        var rounds = 0
        while !inFlight.isEmpty, rounds < 10 {
            rounds += 1
            var next: [(to: String, datagram: SwimDatagram)] = []
            for (to, datagram) in inFlight {
                if case .state = datagram.kind { wholeEntries += datagram.updates.count }
                let out =
                    to == n1.replication
                    ? a.onDatagram(datagram, now: clock.now) : b.onDatagram(datagram, now: clock.now)
                for send in out.sent
                where send.unicast.contains(n1.replication) || send.unicast.contains(n2.replication) {
                    next.append(
                        (to: send.unicast.contains(n1.replication) ? n1.replication : n2.replication, send.datagram))
                }
            }
            inFlight = next
        }
        func view(_ node: SwimInstance) -> [String: MemberStatus] {
            Dictionary(uniqueKeysWithValues: node.members.map { ($0.info.name, $0.status) })
        }
        #expect(view(a) == ["n2": .alive, "n3": .dead, "n4": .alive, "n5": .alive, "n6": .suspect])
        #expect(view(b) == ["n1": .alive, "n3": .dead, "n4": .alive, "n5": .alive, "n6": .suspect])
        #expect(a.incarnation(of: n4.id) == 2 && b.incarnation(of: n4.id) == 2)
        // n3 and n5 to A, n4 and n6 to B: nothing whole about the members both agree on (n1, n2).
        #expect(wholeEntries == 4)
    }

    @Test func datagramRoundTripsThroughTheCodec() throws {
        let kinds: [SwimDatagram.Kind] = [
            .announce, .gossip, .ping(sequence: 3), .pingRequest(sequence: 300, target: n3), .ack(sequence: 1 << 40),
            .nack(sequence: 0), .state(reply: true), .state(reply: false),
            .digest(from: NodeID(rawValue: 0), through: NodeID(rawValue: .max), entries: []),
            .digest(
                from: n2.id, through: n4.id,
                entries: [
                    SwimDigestEntry(id: n2.id, incarnation: 0, status: .alive),
                    SwimDigestEntry(id: n3.id, incarnation: 1 << 33, status: .dead),
                    SwimDigestEntry(id: n4.id, incarnation: 7, status: .leaving),
                ]),
            .pull(ids: []), .pull(ids: [n3.id, n4.id]),
        ]
        for kind in kinds {
            let original = datagram(
                from: n2, incarnation: 12, kind, updates: [update(n3, .suspect, incarnation: 4, origin: n4)])
            #expect(try WireCodec.decodeSwimDatagram(WireCodec.encode(original)) == original)
            // Every truncation is a clear error, never a crash or a shorter datagram.
            let bytes = WireCodec.encode(original)
            for length in 0..<bytes.count {
                #expect(throws: WireError.self) { try WireCodec.decodeSwimDatagram(Array(bytes.prefix(length))) }
            }
        }
        #expect(throws: WireError.self) { try WireCodec.decodeSwimDatagram([0x05, 0x01]) }
    }

    @Test func logarithmsAreCloseEnoughForTheSizingFormulas() {
        for (x, expected) in [(1.0, 0.0), (10.0, 1.0), (1_024.0, 3.010_299_956_6), (65.0, 1.812_913_356_6)] {
            #expect(abs(Logarithm.base10(x) - expected) < 1e-6)
        }
        #expect(abs(Logarithm.base2(1_024) - 10) < 1e-6)
        #expect(abs(Logarithm.natural(2.718_281_828_459_045) - 1) < 1e-6)
    }
}

extension Array where Element == SwimDirective {
    var events: [MembershipEvent] {
        compactMap { if case .event(let event) = $0 { event } else { nil } }
    }

    var sent: [(datagram: SwimDatagram, multicast: Bool, unicast: [String])] {
        compactMap {
            if case .send(let datagram, let multicast, let unicast) = $0 { (datagram, multicast, unicast) } else { nil }
        }
    }
}
