/// SWIM membership of one node incarnation (Das, Gupta, Motivala 2002, with Lifeguard's local health and dynamic
/// suspicion): a value-type state machine, events in, directives out, like `MembershipInstance`.
///
/// Per node and period the cost does not grow with the cluster: one probe (a ping, on time-out `indirectProbes`
/// ping-requests), its answer, the probes other nodes send it (one on average), `gossipFanout` gossip datagrams
/// every `gossipIntervalMillis` while there are changes to spread, and a push-pull with one member every
/// `pushPullIntervalMillis` (scaled past 32 members). Changes are piggybacked on those datagrams, each
/// `retransmitMultiplier × ⌈log10(N + 1)⌉` times. Every datagram fits `maxDatagramBytes`: a push-pull is sent in
/// chunks, each self-contained (no reassembly: a lost chunk waits for the next round). The periodic push-pull sends
/// digests (id, incarnation, status: 10 bytes a member); whole entries travel only where the two differ. A new
/// node's first sync pulls the whole state once.
///
/// Multicast, where the cluster has it, is the fast path for news every node needs: a new node's announcement, a
/// refutation, a suspicion, a death and a leave go to the group at once (one datagram per change, not per
/// period). Seeds are where a node without multicast announces itself and pulls the state.
///
/// Kept from the beacon protocol: a refused replication link is hard evidence (dead at once, and spread), a lost
/// link makes a member suspect; a new id under a known name supersedes the old incarnation for good; graceful
/// leave; another cluster's or another number of shards' datagrams are ignored.
package struct SwimInstance: Sendable {
    struct Record: Sendable {
        var member: Member
        var incarnation: UInt64
        var statusSince: Timestamp
        /// Dead because a newer incarnation under the same name appeared: never recovers.
        var superseded = false
        /// Suspicion: when it started and who confirmed it (Lifeguard), while `.suspect`.
        var suspectedAt: Timestamp?
        var confirmations: Set<NodeID> = []
    }

    struct Probe: Sendable {
        var target: NodeID
        var sequence: UInt64
        var sentAt: Timestamp
        var indirectSent = false
        var expectedNacks = 0
        /// The members asked to probe the target on my behalf: the only ones whose ack or nack counts besides the
        /// target's own (a datagram replayed to a third member must not answer for the target).
        var helpers: [NodeID] = []
        /// Members whose indirect probe of the target failed too: independent confirmations of a suspicion.
        var nackers: [NodeID] = []
        var nacks: Int { nackers.count }
    }

    /// A ping sent on another member's behalf: answer it `ack` (or `nack`) with its sequence.
    struct Relay: Sendable {
        var requester: String
        var requesterSequence: UInt64
        var target: NodeID
        var sentAt: Timestamp
        var nacked = false
    }

    struct Broadcast: Sendable {
        var update: SwimUpdate
        var bytes: Int
        var transmits: Int
        /// Insertion order, to break ties deterministically.
        var order: UInt64
    }

    package let settings: SwimSettings
    package let membership: MembershipSettings
    package let cluster: String
    package let shards: Int
    package let me: MemberInfo
    package private(set) var incarnation: UInt64 = 0

    var records: [NodeID: Record] = [:]
    /// The current (highest known) incarnation id per name.
    var byName: [String: NodeID] = [:]
    /// Alive or suspect members.
    package private(set) var peerCount = 0
    /// Every remembered member but me (alive, suspect, or dead and not yet forgotten), in no particular order:
    /// random picks (helpers, gossip targets) and the probe ring are drawn from it.
    var probeOrder: [NodeID] = []
    /// `probeOrder` and me, sorted by scrambled id (`nextProbeTarget`); rebuilt when `probeOrder` changed.
    var probeRing: [NodeID] = []
    var probeRingPosition = 0
    var probeRingStale = true
    var probe: Probe?
    var relays: [UInt64: Relay] = [:]
    var suspects: Set<NodeID> = []
    var broadcasts: [NodeID: Broadcast] = [:]
    var broadcastOrder: UInt64 = 0
    var sequence: UInt64 = 0
    var random: SplitMix64
    /// Lifeguard's local health: 0 is healthy; each step stretches probe interval and time-outs by one period.
    package private(set) var awareness = 0
    /// Running totals for `/metrics`.
    package private(set) var counters = SwimCounters()
    var nextProbeAt: Timestamp
    var nextGossipAt: Timestamp
    var nextPushPullAt: Timestamp
    var announcesLeft = 3
    /// Whether the whole state has been pulled from a member yet: a new node does so with the first it hears from.
    var hasSynced = false
    var nextAnnounceAt: Timestamp
    package private(set) var isLeaving = false

    package init(
        swim: SwimSettings = SwimSettings(), membership: MembershipSettings, cluster: String, shards: Int = 1,
        me: MemberInfo, now: Timestamp
    ) {
        self.settings = swim
        self.membership = membership
        self.cluster = cluster
        self.shards = shards
        self.me = me
        var random = SplitMix64(seed: me.id.rawValue ^ 0x5717_0000_0000_0001)
        // memberlist's random stagger of the first probe and gossip: nodes started together must not probe in
        // lockstep (a crash just after everyone's probe would wait a whole period for the next).
        nextProbeAt = now.adding(millis: 1 + Int64(random.next() % UInt64(max(1, swim.probeIntervalMillis))))
        nextGossipAt = now.adding(millis: 1 + Int64(random.next() % UInt64(max(1, swim.gossipIntervalMillis))))
        self.random = random
        nextPushPullAt = now.adding(millis: swim.pushPullIntervalMillis)
        nextAnnounceAt = now
    }

    // MARK: Queries

    package func admits(_ datagram: SwimDatagram) -> Bool { datagram.cluster == cluster && datagram.shards == shards }

    package var members: [Member] {
        records.values.map(\.member).sorted { ($0.info.name, $0.info.id) < ($1.info.name, $1.info.id) }
    }

    package func member(_ id: NodeID) -> Member? { records[id]?.member }

    /// The probe under way: its target and when it was sent.
    package var probeUnderWay: (target: NodeID, sentAt: Timestamp)? { probe.map { ($0.target, $0.sentAt) } }

    /// When the next probe is due.
    package var nextProbeDue: Timestamp { nextProbeAt }

    package func incarnation(of id: NodeID) -> UInt64? { records[id]?.incarnation }

    package var peers: [MemberInfo] { members.filter(\.isPeer).map(\.info) }

    /// Times a change is piggybacked: `retransmitMultiplier × ⌈log10(N + 1)⌉`.
    var retransmitLimit: Int {
        settings.retransmitMultiplier * max(1, Int(Logarithm.base10(Double(peerCount + 2)).rounded(.up)))
    }

    /// Lifeguard: every interval and time-out of this node stretched by its local health.
    func stretched(_ millis: Int64) -> Int64 { millis * Int64(awareness + 1) }

    // MARK: Timers

    package mutating func onTick(now: Timestamp) -> [SwimDirective] {
        var out: [SwimDirective] = []
        if isLeaving { return out }
        if announcesLeft > 0, now >= nextAnnounceAt {
            announcesLeft -= 1
            nextAnnounceAt = now.adding(millis: settings.probeIntervalMillis)
            out += announce(kind: .announce)
            // Without multicast, the seeds are asked for the whole state until one answers.
            if !membership.multicast || peerCount == 0 { out += pushPull(to: membership.seeds, now: now) }
            if peerCount == 0 && announcesLeft == 0 { announcesLeft = 1 }
        }
        out += probeTimers(now: now)
        out += suspicionTimers(now: now)
        if now >= nextGossipAt {
            nextGossipAt = now.adding(millis: settings.gossipIntervalMillis)
            out += gossip()
        }
        if now >= nextPushPullAt {
            nextPushPullAt = now.adding(millis: pushPullInterval)
            if let target = randomPeer(excluding: []) ?? randomDead() {
                out += digestPush(to: records[target]!.member.info.replication)
            }
        }
        forgetDeparted(now: now)
        return out
    }

    /// memberlist's scaling: the interval grows with log2 of the cluster past 32 members.
    var pushPullInterval: Int64 {
        let n = Double(peerCount + 1)
        guard n > 32 else { return settings.pushPullIntervalMillis }
        return settings.pushPullIntervalMillis * Int64((Logarithm.base2(n) - Logarithm.base2(32)).rounded(.up) + 1)
    }

    mutating func probeTimers(now: Timestamp) -> [SwimDirective] {
        var out: [SwimDirective] = []
        if var current = probe {
            let elapsed = now.millis(since: current.sentAt)
            let targetIsPeer = records[current.target]?.member.isPeer == true
            if !targetIsPeer {
                // A reconnection probe of a dead member: no indirect probes, no verdict on my own health.
                if elapsed >= stretched(settings.probeIntervalMillis) { probe = nil }
            } else if !current.indirectSent, elapsed >= stretched(settings.probeTimeoutMillis) {
                current.indirectSent = true
                if let target = records[current.target] {
                    let helpers = randomPeers(settings.indirectProbes, excluding: [current.target])
                    current.expectedNacks = helpers.count
                    current.helpers = helpers
                    counters.indirectProbes += 1
                    for helper in helpers {
                        out += send(
                            .pingRequest(sequence: current.sequence, target: target.member.info),
                            to: records[helper]!.member.info.replication)
                    }
                }
                probe = current
            }
            // Every helper's indirect probe failed too (its nack): the verdict needs no more waiting.
            let allNacked = current.indirectSent && current.expectedNacks > 0 && current.nacks >= current.expectedNacks
            if targetIsPeer, elapsed >= stretched(settings.probeIntervalMillis) || allNacked {
                probe = nil
                // Lifeguard: without the nacks that show my network works, the fault may be mine.
                if current.nacks < current.expectedNacks || current.expectedNacks == 0 { raiseAwareness() }
                counters.probesFailed += 1
                if let record = records[current.target], record.member.status == .alive {
                    out += suspect(
                        current.target, incarnation: record.incarnation, origin: me.id, now: now,
                        confirmedBy: current.nackers)
                }
            }
        }
        for sequence in relays.keys.sorted() {
            guard let relay = relays[sequence] else { continue }
            let elapsed = now.millis(since: relay.sentAt)
            // At 80 % of the time-out (memberlist's), so the nack reaches the prober before its period ends.
            if !relay.nacked, elapsed >= stretched(settings.probeTimeoutMillis) * 4 / 5 {
                relays[sequence]?.nacked = true
                out += send(.nack(sequence: relay.requesterSequence), to: relay.requester)
            }
            if elapsed >= stretched(settings.probeIntervalMillis) { relays[sequence] = nil }
        }
        if probe == nil, now >= nextProbeAt {
            nextProbeAt = now.adding(millis: stretched(settings.probeIntervalMillis))
            if let target = nextProbeTarget(now: now) {
                sequence += 1
                probe = Probe(target: target, sequence: sequence, sentAt: now)
                counters.probes += 1
                out += send(.ping(sequence: sequence), to: records[target]!.member.info.replication)
            }
        }
        return out
    }

    mutating func suspicionTimers(now: Timestamp) -> [SwimDirective] {
        var out: [SwimDirective] = []
        for id in suspects.sorted() {
            guard let record = records[id], let since = record.suspectedAt else {
                suspects.remove(id)
                continue
            }
            if now.millis(since: since) >= suspicionTimeout(confirmations: record.confirmations.count) {
                out += declareDead(id, incarnation: record.incarnation, now: now)
            }
        }
        return out
    }

    /// Lifeguard's dynamic suspicion: from `max` unconfirmed down to `min` with `suspicionConfirmations`
    /// independent suspicions, logarithmically.
    func suspicionTimeout(confirmations: Int) -> Int64 {
        let n = Double(max(peerCount + 1, 1))
        let minimum = settings.suspicionMultiplier * max(1, Logarithm.base10(n)) * Double(settings.probeIntervalMillis)
        let maximum = settings.suspicionMaxMultiplier * minimum
        let wanted = Double(max(1, settings.suspicionConfirmations))
        let fraction = Logarithm.natural(Double(min(confirmations, Int(wanted))) + 1) / Logarithm.natural(wanted + 1)
        return Int64(max(minimum, maximum - (maximum - minimum) * fraction))
    }

    // MARK: Input

    /// A datagram arrived (authenticated and decoded by the shell).
    package mutating func onDatagram(_ datagram: SwimDatagram, now: Timestamp) -> [SwimDirective] {
        guard admits(datagram), datagram.sender.id != me.id else { return [] }
        var out: [SwimDirective] = []
        // Anything from a member is first-hand news that it is alive at its incarnation.
        let direct = SwimUpdate(
            member: datagram.sender, incarnation: datagram.senderIncarnation, status: .alive,
            origin: datagram.sender.id)
        let senderKnownDead = records[datagram.sender.id].map { !$0.member.isPeer && !$0.superseded } ?? false
        let senderKnown = records[datagram.sender.id] != nil
        // A newcomer's multicast announcement reached (nearly) everyone: not relayed (push-pull catches the rest).
        // Everything else is, refutations first among them: a receiver that missed one would declare a live
        // member dead.
        let newcomer = datagram.kind == .announce && datagram.senderIncarnation == 0 && membership.multicast
        out += apply(direct, direct: true, rebroadcast: !newcomer, now: now)
        // A member I hold dead keeps talking (a healed partition): tell it, so it refutes with a new incarnation.
        if senderKnownDead, let record = records[datagram.sender.id], !record.member.isPeer,
            record.member.status != .leaving, !record.superseded
        {
            let news = SwimUpdate(
                member: record.member.info, incarnation: record.incarnation, status: .dead, origin: me.id)
            out += [.send(envelope(.gossip, updates: [news]), multicast: false, unicast: [datagram.sender.replication])]
        }
        if !hasSynced, !isLeaving, records[datagram.sender.id]?.member.isPeer == true {
            hasSynced = true
            // A whole state arriving unasked (a newcomer's ring successor sends it) is the sync already.
            if case .state(reply: false) = datagram.kind {
            } else {
                out += pushPull(to: [datagram.sender.replication], now: now)
            }
        }
        // A newcomer on multicast hears from the cluster only when some member next probes or gossips to it (a probe
        // period on average): its ring successor sends it the whole state at once, so it knows every member (and
        // sees any of them fail) from its first milliseconds.
        if newcomer, !senderKnown, !isLeaving, isRingSuccessor(of: datagram.sender.id) {
            out += pushPull(to: [datagram.sender.replication], now: now, reply: false)
        }
        for update in datagram.updates {
            let isAnnouncement = newcomer && update.member.id == datagram.sender.id && update.status == .alive
            // A push-pull's state is anti-entropy, not news: relaying a whole member list would make every
            // push-pull (and a cluster's formation) a gossip storm of O(N) changes.
            let isState = if case .state = datagram.kind { true } else { false }
            out += apply(update, direct: false, rebroadcast: !isAnnouncement && !isState, now: now)
        }
        switch datagram.kind {
        case .announce, .gossip:
            break
        case .ping(let sequence):
            out += send(.ack(sequence: sequence), to: datagram.sender.replication)
        case .pingRequest(let requesterSequence, let target):
            sequence += 1
            relays[sequence] = Relay(
                requester: datagram.sender.replication, requesterSequence: requesterSequence, target: target.id,
                sentAt: now)
            out += send(.ping(sequence: sequence), to: target.replication)
        case .ack(let acked):
            // An ack counts only from the member probed, or from a helper asked to probe it; a relay's only from its
            // target. Sequences alone are guessable from captured traffic: a ping to member A replayed to member B
            // makes B ack its sender, which must not keep a frozen A alive.
            let sender = datagram.sender.id
            if let current = probe, current.sequence == acked,
                sender == current.target || current.helpers.contains(sender)
            {
                probe = nil
                if records[current.target]?.member.isPeer == true { lowerAwareness() }
            } else if let relay = relays[acked], relay.target == sender {
                relays[acked] = nil
                out += send(.ack(sequence: relay.requesterSequence), to: relay.requester)
            }
        case .nack(let nacked):
            if probe?.sequence == nacked, probe!.helpers.contains(datagram.sender.id),
                !probe!.nackers.contains(datagram.sender.id)
            {
                probe!.nackers.append(datagram.sender.id)
            }
        case .state(let reply):
            if reply { out += pushPull(to: [datagram.sender.replication], now: now, reply: false) }
        case .digest(let lower, let upper, let entries):
            out += answerDigest(lower: lower, upper: upper, entries: entries, from: datagram.sender, now: now)
        case .pull(let ids):
            out += stateChunks(ids.compactMap(wholeEntry), reply: false, to: [datagram.sender.replication])
        }
        return out
    }

    /// Hard evidence from the replication link: dead at once, and spread.
    package mutating func onLinkRefused(_ id: NodeID, now: Timestamp) -> [SwimDirective] {
        guard let record = records[id], record.member.isPeer else { return [] }
        return declareDead(id, incarnation: record.incarnation, now: now)
    }

    /// Soft evidence: the link broke. Suspect (and spread the suspicion): the member refutes if it lives.
    package mutating func onLinkLost(_ id: NodeID, now: Timestamp) -> [SwimDirective] {
        guard let record = records[id], record.member.status == .alive else { return [] }
        return suspect(id, incarnation: record.incarnation, origin: me.id, now: now)
    }

    /// Graceful stop: announces `.leaving` (multicast, the seeds and a few members); no more probes.
    package mutating func leave(now: Timestamp) -> [SwimDirective] {
        isLeaving = true
        let update = SwimUpdate(member: me, incarnation: incarnation, status: .leaving, origin: me.id)
        var unicast = Set(membership.seeds)
        for id in randomPeers(2 * settings.gossipFanout, excluding: []) {
            unicast.insert(records[id]!.member.info.replication)
        }
        unicast.remove(me.replication)
        return [
            .send(envelope(.announce, updates: [update]), multicast: membership.multicast, unicast: unicast.sorted())
        ]
    }

    // MARK: Applying updates

    /// The SWIM ordering: for one member, a higher incarnation wins; at equal incarnations dead beats suspect beats
    /// alive; leaving is final.
    mutating func apply(_ update: SwimUpdate, direct: Bool, rebroadcast: Bool, now: Timestamp) -> [SwimDirective] {
        let info = update.member
        if info.id == me.id { return refute(update, now: now) }
        guard var record = records[info.id] else {
            return admit(update, direct: direct, rebroadcast: rebroadcast, now: now)
        }
        if record.member.status == .leaving { return [] }
        if record.superseded {
            // Set aside for a later process of its name. Once that one is no longer live (killed, say), this one,
            // heard first hand, takes its name back at once rather than when the dead entries are forgotten a minute
            // later (fresh-eyes review).
            guard direct, update.status == .alive, let holder = byName[info.name], holder != info.id,
                records[holder]?.member.isPeer != true
            else { return [] }
            records[info.id]!.superseded = false
            records[info.id]!.member.lastHeard = now
            records[info.id]!.member.heardDirectly = true
            byName[info.name] = info.id
            if rebroadcast { enqueue(update) }
            return transition(info.id, to: .alive, now: now)
        }
        if direct {
            record.member.lastHeard = now
            record.member.heardDirectly = true
            record.member.info = info
            records[info.id] = record
        }
        switch update.status {
        case .alive:
            // Only the member itself raises its incarnation: an equal one is old news, even first hand.
            guard update.incarnation > record.incarnation else { return [] }
            records[info.id]!.incarnation = update.incarnation
            records[info.id]!.member.info = info
            if rebroadcast { enqueue(update) }
            return transition(info.id, to: .alive, now: now)
        case .suspect:
            guard update.incarnation >= record.incarnation else { return [] }
            if record.member.status == .suspect, update.incarnation == record.incarnation {
                // Lifeguard: an independent confirmation shortens the suspicion.
                if update.origin != me.id, records[info.id]!.confirmations.insert(update.origin).inserted,
                    rebroadcast
                {
                    enqueue(update)
                }
                return []
            }
            guard record.member.status == .alive || update.incarnation > record.incarnation,
                record.member.status != .dead || update.incarnation > record.incarnation
            else { return [] }
            return suspect(info.id, incarnation: update.incarnation, origin: update.origin, now: now)
        case .dead:
            guard update.incarnation >= record.incarnation, record.member.isPeer else { return [] }
            records[info.id]!.incarnation = update.incarnation
            if rebroadcast { enqueue(update) }
            return transition(info.id, to: .dead, now: now)
        case .leaving:
            guard record.member.isPeer || record.member.status == .dead else { return [] }
            enqueue(update)
            return transition(info.id, to: .leaving, now: now)
        }
    }

    /// A member not known before: admitted when alive (or suspect). A new id under the name of a live member replaces
    /// it only when it started later (`NodeID` order) and is heard first hand.
    mutating func admit(_ update: SwimUpdate, direct: Bool, rebroadcast: Bool, now: Timestamp) -> [SwimDirective] {
        let info = update.member
        guard update.status == .alive || update.status == .suspect, info.name != me.name else { return [] }
        var out: [SwimDirective] = []
        if let previous = byName[info.name], previous != info.id, let old = records[previous] {
            // While the known incarnation is live, only a later start heard first hand replaces it. Never an earlier
            // start: a replayed recording of an earlier run, or the older of two processes under one name (the shell
            // logs both). Once it is gone, an earlier start may take the name: a restart after the clock was set back.
            guard !old.member.isPeer || (direct && info.id > previous) else { return [] }
            // One name runs one process at a time: the old incarnation is gone for good.
            out += transition(previous, to: .dead, now: now)
            records[previous]?.superseded = true
            suspects.remove(previous)
            enqueue(SwimUpdate(member: old.member.info, incarnation: old.incarnation, status: .dead, origin: me.id))
        }
        let member = Member(info: info, status: .alive, lastHeard: now, heardDirectly: direct)
        records[info.id] = Record(member: member, incarnation: update.incarnation, statusSince: now)
        byName[info.name] = info.id
        peerCount += 1
        probeOrder.append(info.id)
        probeRingStale = true
        if rebroadcast {
            enqueue(SwimUpdate(member: info, incarnation: update.incarnation, status: .alive, origin: info.id))
        }
        out.append(.event(.joined(info)))
        if update.status == .suspect {
            out += suspect(info.id, incarnation: update.incarnation, origin: update.origin, now: now)
        }
        return out
    }

    /// News about me: a suspicion or death at my incarnation or above is refuted with a higher one.
    mutating func refute(_ update: SwimUpdate, now: Timestamp) -> [SwimDirective] {
        guard !isLeaving, update.status == .suspect || update.status == .dead, update.incarnation >= incarnation
        else { return [] }
        incarnation = update.incarnation + 1
        counters.refutations += 1
        raiseAwareness()
        let alive = SwimUpdate(member: me, incarnation: incarnation, status: .alive, origin: me.id)
        enqueue(alive)
        return membership.multicast ? [.send(envelope(.announce, updates: [alive]), multicast: true, unicast: [])] : []
    }

    /// Starts a suspicion. `confirmedBy`: the members whose indirect probes failed as well (their nacks), each an
    /// independent confirmation (Lifeguard), told to every receiver as a suspicion of their own.
    mutating func suspect(
        _ id: NodeID, incarnation: UInt64, origin: NodeID, now: Timestamp, confirmedBy: [NodeID] = []
    ) -> [SwimDirective] {
        guard var record = records[id] else { return [] }
        record.incarnation = incarnation
        record.suspectedAt = now
        record.confirmations = Set(confirmedBy + (origin == me.id ? [] : [origin]))
        records[id] = record
        suspects.insert(id)
        let update = SwimUpdate(member: record.member.info, incarnation: incarnation, status: .suspect, origin: origin)
        enqueue(update)
        var out = transition(id, to: .suspect, now: now)
        // The fast path: everyone hears of it at once, and the member itself can refute at once.
        if origin == me.id {
            var updates = [update]
            for confirmer in confirmedBy.prefix(settings.suspicionConfirmations) {
                updates.append(
                    SwimUpdate(
                        member: record.member.info, incarnation: incarnation, status: .suspect, origin: confirmer))
            }
            out.append(
                .send(
                    envelope(.gossip, updates: updates), multicast: membership.multicast,
                    unicast: [record.member.info.replication]))
        }
        return out
    }

    mutating func declareDead(_ id: NodeID, incarnation: UInt64, now: Timestamp) -> [SwimDirective] {
        guard let record = records[id], record.member.isPeer else { return [] }
        records[id]!.incarnation = incarnation
        let update = SwimUpdate(member: record.member.info, incarnation: incarnation, status: .dead, origin: me.id)
        enqueue(update)
        var out = transition(id, to: .dead, now: now)
        if membership.multicast {
            out.append(.send(envelope(.announce, updates: [update]), multicast: true, unicast: []))
        }
        return out
    }

    /// The one place a known member's status changes; returns its event, if the table has one.
    mutating func transition(_ id: NodeID, to status: MemberStatus, now: Timestamp) -> [SwimDirective] {
        guard var record = records[id],
            let event = MembershipInstance.event(from: record.member.status, to: status, of: record.member.info)
        else { return [] }
        let wasPeer = record.member.isPeer
        record.member.status = status
        record.statusSince = now
        if status != .suspect {
            record.suspectedAt = nil
            record.confirmations = []
            suspects.remove(id)
        }
        records[id] = record
        peerCount += (record.member.isPeer ? 1 : 0) - (wasPeer ? 1 : 0)
        if wasPeer && !record.member.isPeer && probe?.target == id { probe = nil }
        return [.event(event)]
    }

    mutating func forgetDeparted(now: Timestamp) {
        // Amortised: at most a few records looked at per tick.
        guard !probeOrder.isEmpty else { return }
        for _ in 0..<min(4, probeOrder.count) {
            let index = Int(random.next() % UInt64(probeOrder.count))
            let id = probeOrder[index]
            guard let record = records[id] else {
                probeOrder.swapAt(index, probeOrder.count - 1)
                probeOrder.removeLast()
                probeRingStale = true
                continue
            }
            if !record.member.isPeer, now.millis(since: record.statusSince) >= membership.deadRetentionMillis {
                records[id] = nil
                broadcasts[id] = nil
                if byName[record.member.info.name] == id { byName[record.member.info.name] = nil }
                probeOrder.swapAt(index, probeOrder.count - 1)
                probeOrder.removeLast()
                probeRingStale = true
            }
            if probeOrder.isEmpty { return }
        }
    }

    /// Whether I am the first live member after `id` on the ring of scrambled ids (wrapping): every member computes it
    /// from nearly the same view, so about one answers. Scrambled, since ids order by start time and the newest (a
    /// newcomer) would otherwise always be answered by the oldest member. O(N), once per newcomer.
    func isRingSuccessor(of id: NodeID) -> Bool {
        let origin = id.scrambled
        let mine = me.id.scrambled &- origin
        for (other, record) in records where other != id && record.member.isPeer {
            if other.scrambled &- origin < mine { return false }
        }
        return true
    }

    // MARK: Lifeguard

    mutating func raiseAwareness() { awareness = min(settings.maxAwareness - 1, awareness + 1) }
    mutating func lowerAwareness() { awareness = max(0, awareness - 1) }

    // MARK: Choosing members

    /// The member to probe now: the one `1 + (p mod (M − 1))` places after me on the ring of scrambled ids, where p
    /// counts probe periods of the wall clock and M is the ring's size counting me.
    ///
    /// Every node computes the same ring while views agree, so in each period every member is probed by exactly one
    /// node: a silently crashed node is probed within one to two periods (each node probes at its own instant of
    /// the period), where SWIM's independent random orders leave it unprobed for a whole period about one time in
    /// e and for several periods now and then (the crash agreement of issue 13 hinged on that wait). The offset
    /// moves each period, so in M − 1 periods a node probes every other member once, SWIM's round-robin bound; who
    /// probes a given member changes every period, so one slow or lying prober cannot hide it for long. Dead members
    /// still remembered are on the ring too (serf's reconnect, memberlist's gossip to the dead): after a partition
    /// heals, each side's probes reach the other, which then refutes.
    package mutating func nextProbeTarget(now: Timestamp) -> NodeID? {
        guard peerCount > 0 else { return nil }
        if probeRingStale {
            probeRing = (probeOrder + [me.id]).sorted { ($0.scrambled, $0) < ($1.scrambled, $1) }
            probeRingPosition = probeRing.firstIndex(of: me.id)!
            probeRingStale = false
        }
        let size = probeRing.count
        guard size > 1 else { return nil }
        let round = Int(max(0, now.millis) / max(1, settings.probeIntervalMillis) % Int64(size - 1))
        for step in 0..<(size - 1) {
            let id = probeRing[(probeRingPosition + 1 + (round + step) % (size - 1)) % size]
            if let record = records[id], record.member.isPeer || (record.member.status == .dead && !record.superseded) {
                return id
            }
        }
        return nil
    }

    /// Up to `count` distinct random live members not in `excluding` (bounded tries: O(count), not O(N)).
    mutating func randomPeers(_ count: Int, excluding: Set<NodeID>) -> [NodeID] {
        var chosen: [NodeID] = []
        guard !probeOrder.isEmpty else { return chosen }
        var tries = 0
        while chosen.count < count, tries < 8 * count + 8 {
            tries += 1
            let id = probeOrder[Int(random.next() % UInt64(probeOrder.count))]
            if records[id]?.member.isPeer == true, !excluding.contains(id), !chosen.contains(id) { chosen.append(id) }
        }
        return chosen
    }

    mutating func randomPeer(excluding: Set<NodeID>) -> NodeID? { randomPeers(1, excluding: excluding).first }

    /// A remembered dead member (not superseded), for serf-style reconnection after a partition.
    mutating func randomDead() -> NodeID? {
        guard !probeOrder.isEmpty else { return nil }
        for _ in 0..<8 {
            let id = probeOrder[Int(random.next() % UInt64(probeOrder.count))]
            if let record = records[id], record.member.status == .dead, !record.superseded { return id }
        }
        return nil
    }

    // MARK: Sending

    mutating func enqueue(_ update: SwimUpdate) {
        broadcastOrder += 1
        broadcasts[update.member.id] = Broadcast(
            update: update, bytes: WireCodec.encodedSize(update), transmits: 0, order: broadcastOrder)
    }

    func envelope(_ kind: SwimDatagram.Kind, updates: [SwimUpdate]) -> SwimDatagram {
        SwimDatagram(
            cluster: cluster, shards: shards, sender: me, senderIncarnation: incarnation, kind: kind, updates: updates)
    }

    /// A datagram of `kind` to `address` with as many pending changes as fit, least transmitted first.
    mutating func send(_ kind: SwimDatagram.Kind, to address: String) -> [SwimDirective] {
        var datagram = envelope(kind, updates: [])
        datagram.updates = piggyback(budget: budget(for: datagram))
        return [.send(datagram, multicast: false, unicast: [address])]
    }

    /// Payload bytes left for updates in `datagram`: the limit minus the frame header, envelope and its own fields.
    func budget(for datagram: SwimDatagram) -> Int {
        settings.maxDatagramBytes - Self.datagramOverhead - WireCodec.encodedHeaderSize(datagram) - 2
    }

    /// The frame header (8) and the cluster envelope (21-byte header, 16-byte tag) around every payload.
    package static let datagramOverhead = 8 + 37

    mutating func piggyback(budget: Int) -> [SwimUpdate] {
        guard !broadcasts.isEmpty else { return [] }
        let limit = retransmitLimit
        var left = budget
        var chosen: [SwimUpdate] = []
        let ordered = broadcasts.values.sorted { ($0.transmits, $0.order) < ($1.transmits, $1.order) }
        for entry in ordered {
            guard entry.bytes <= left else { continue }
            left -= entry.bytes
            chosen.append(entry.update)
            let id = entry.update.member.id
            if entry.transmits + 1 >= limit { broadcasts[id] = nil } else { broadcasts[id]!.transmits += 1 }
            if left < 40 { break }
        }
        return chosen
    }

    mutating func gossip() -> [SwimDirective] {
        guard !broadcasts.isEmpty else { return [] }
        var out: [SwimDirective] = []
        for target in randomPeers(settings.gossipFanout, excluding: []) {
            out += send(.gossip, to: records[target]!.member.info.replication)
            if broadcasts.isEmpty { break }
        }
        return out
    }

    /// I am here: to the multicast group (its receivers do not relay it: they all heard it) and the seeds.
    mutating func announce(kind: SwimDatagram.Kind) -> [SwimDirective] {
        let alive = SwimUpdate(member: me, incarnation: incarnation, status: .alive, origin: me.id)
        let unicast = membership.seeds.filter { $0 != me.replication }.sorted()
        guard membership.multicast || !unicast.isEmpty else { return [] }
        return [.send(envelope(kind, updates: [alive]), multicast: membership.multicast, unicast: unicast)]
    }

    /// My whole state (myself included) in chunks that each fit a datagram, to each of `addresses`.
    mutating func pushPull(to addresses: [String], now: Timestamp, reply: Bool = true) -> [SwimDirective] {
        guard addresses.contains(where: { $0 != me.replication }) else { return [] }
        var updates = [SwimUpdate(member: me, incarnation: incarnation, status: .alive, origin: me.id)]
        // In id order: a run's datagrams must not depend on the per-process hash seed.
        for id in records.keys.sorted() {
            guard let record = records[id], !record.superseded else { continue }
            updates.append(
                SwimUpdate(
                    member: record.member.info, incarnation: record.incarnation, status: record.member.status,
                    origin: me.id))
        }
        return stateChunks(updates, reply: reply, to: addresses)
    }

    /// What I know of `id` as a whole entry (myself included); nil for an unknown or superseded member.
    func wholeEntry(_ id: NodeID) -> SwimUpdate? {
        if id == me.id { return SwimUpdate(member: me, incarnation: incarnation, status: .alive, origin: me.id) }
        guard let record = records[id], !record.superseded else { return nil }
        return SwimUpdate(
            member: record.member.info, incarnation: record.incarnation, status: record.member.status, origin: me.id)
    }

    /// `updates` as `state` datagrams that each fit, to each of `addresses`; only the first asks for a reply.
    func stateChunks(_ updates: [SwimUpdate], reply: Bool, to addresses: [String]) -> [SwimDirective] {
        let targets = addresses.filter { $0 != me.replication }
        guard !targets.isEmpty, !updates.isEmpty else { return [] }
        var out: [SwimDirective] = []
        let header = envelope(.state(reply: reply), updates: [])
        let budget = budget(for: header)
        var chunk: [SwimUpdate] = []
        var used = 0
        var first = true
        func flush() {
            guard !chunk.isEmpty else { return }
            // Only the first chunk asks for the reply: one answer per push, not one per chunk.
            let datagram = envelope(.state(reply: reply && first), updates: chunk)
            out.append(.send(datagram, multicast: false, unicast: targets))
            first = false
            chunk = []
            used = 0
        }
        for update in updates {
            let size = WireCodec.encodedSize(update)
            if used + size > budget { flush() }
            chunk.append(update)
            used += size
        }
        flush()
        return out
    }

    // MARK: Digest push-pull

    /// The periodic push-pull: my members (myself included, superseded ones left out) as digests in id order, in
    /// chunks that each fit a datagram and name the id range they cover, so a receiver can tell what I lack.
    package mutating func digestPush(to address: String) -> [SwimDirective] {
        guard address != me.replication else { return [] }
        var entries = [SwimDigestEntry(id: me.id, incarnation: incarnation, status: .alive)]
        for (id, record) in records where !record.superseded {
            entries.append(SwimDigestEntry(id: id, incarnation: record.incarnation, status: record.member.status))
        }
        entries.sort { $0.id < $1.id }
        let lowest = NodeID(rawValue: 0)
        let highest = NodeID(rawValue: .max)
        // The digest count may take 2 varint bytes (the header is measured with a count of 0).
        let budget =
            settings.maxDatagramBytes - Self.datagramOverhead
            - WireCodec.encodedHeaderSize(envelope(.digest(from: lowest, through: highest, entries: []), updates: []))
            - 2
        var out: [SwimDirective] = []
        var chunk: [SwimDigestEntry] = []
        var used = 0
        var from = lowest
        for entry in entries {
            let size = WireCodec.encodedSize(entry)
            if used + size > budget, let last = chunk.last {
                out.append(
                    .send(
                        envelope(.digest(from: from, through: last.id, entries: chunk), updates: []),
                        multicast: false, unicast: [address]))
                from = NodeID(rawValue: last.id.rawValue + 1)
                chunk = []
                used = 0
            }
            chunk.append(entry)
            used += size
        }
        out.append(
            .send(
                envelope(.digest(from: from, through: highest, entries: chunk), updates: []), multicast: false,
                unicast: [address]))
        return out
    }

    /// A digest chunk from `sender`: whole entries back where I know more (or know a live member it lacks), and a
    /// `pull` of the members it knows more about. News of me is refuted at once.
    mutating func answerDigest(
        lower: NodeID, upper: NodeID, entries: [SwimDigestEntry], from sender: MemberInfo, now: Timestamp
    ) -> [SwimDirective] {
        var out: [SwimDirective] = []
        var mine: [SwimUpdate] = []
        var wanted: [NodeID] = []
        var listed = Set<NodeID>()
        listed.reserveCapacity(entries.count)
        for entry in entries {
            listed.insert(entry.id)
            if entry.id == me.id {
                if entry.status == .suspect || entry.status == .dead {
                    out += refute(
                        SwimUpdate(member: me, incarnation: entry.incarnation, status: entry.status, origin: sender.id),
                        now: now)
                }
                if entry.status != .alive || entry.incarnation < incarnation, let entry = wholeEntry(me.id) {
                    mine.append(entry)
                }
                continue
            }
            guard let record = records[entry.id] else {
                // Unknown here: only a live one is worth fetching (a dead one would not be admitted).
                if entry.status == .alive || entry.status == .suspect { wanted.append(entry.id) }
                continue
            }
            if record.superseded { continue }
            let held = (record.incarnation, record.member.status)
            if Self.changes((entry.incarnation, entry.status), over: held) {
                wanted.append(entry.id)
            } else if Self.changes(held, over: (entry.incarnation, entry.status)), let whole = wholeEntry(entry.id) {
                mine.append(whole)
            }
        }
        // Live members of mine in the chunk's range that it does not list: the sender lacks them.
        for (id, record) in records
        where id >= lower && id <= upper && record.member.isPeer && !record.superseded && !listed.contains(id) {
            if let whole = wholeEntry(id) { mine.append(whole) }
        }
        if me.id >= lower, me.id <= upper, !listed.contains(me.id), let whole = wholeEntry(me.id) { mine.append(whole) }
        mine.sort { $0.member.id < $1.member.id }
        out += stateChunks(mine, reply: false, to: [sender.replication])
        out += pullChunks(wanted, to: sender.replication)
        return out
    }

    /// `ids` as `pull` datagrams that each fit.
    func pullChunks(_ ids: [NodeID], to address: String) -> [SwimDirective] {
        guard !ids.isEmpty else { return [] }
        let budget =
            settings.maxDatagramBytes - Self.datagramOverhead
            - WireCodec.encodedHeaderSize(envelope(.pull(ids: []), updates: [])) - 2
        let perChunk = max(1, budget / 8)
        return stride(from: 0, to: ids.count, by: perChunk).map { start in
            let chunk = Array(ids[start..<min(ids.count, start + perChunk)])
            return .send(envelope(.pull(ids: chunk), updates: []), multicast: false, unicast: [address])
        }
    }

    /// Whether `apply` would change a record held at `old` on hearing `new` (incarnation, status): the SWIM order,
    /// leaving final, dead news only about a live or suspect member.
    static func changes(_ new: (UInt64, MemberStatus), over old: (UInt64, MemberStatus)) -> Bool {
        switch (old.1, new.1) {
        case (.leaving, _): false
        case (_, .leaving): true
        case (_, .alive): new.0 > old.0
        case (.dead, .suspect): new.0 > old.0
        case (_, .suspect): new.0 > old.0 || (new.0 == old.0 && old.1 == .alive)
        case (.dead, .dead): false
        case (_, .dead): new.0 >= old.0
        }
    }
}

/// A SWIM node's running totals.
package struct SwimCounters: Hashable, Sendable {
    /// Members probed (a ping sent).
    package var probes = 0
    /// Probes whose direct ping went unanswered in time, so that other members were asked to probe too.
    package var indirectProbes = 0
    /// Probes that failed altogether: the target became suspect (or already was).
    package var probesFailed = 0
    /// Suspicions or deaths of this node that it refuted with a higher incarnation.
    package var refutations = 0
}
