import SessionClusterCore

/// Membership of many nodes (16 to 1,024 and more) on a simulated network: the scale figures of issue 13.
///
/// Only membership runs (no replication cores): the question is what membership costs each node as the cluster
/// grows and how fast every node learns of a join or a crash. The network gives each datagram a random latency,
/// may drop it (`loss`) and may be split (`partition`). A crashed node's replication port refuses connections;
/// `crash(_:linkEvidence:)` says whether the peers' links notice (a process killed on a live host) or not (a host
/// that vanished): then only the protocol itself detects it.
///
/// Cost per event never grows with the cluster beyond what the protocol itself asks for: a multicast datagram is
/// one queue entry per receiver, and agreement is tracked from the events as they happen, never by scanning
/// every node's view.
package final class ScaleSimulation<Node: ScaleNode> {
    package struct Config: Sendable {
        package var nodes: Int
        package var seed: UInt64
        package var settings: MembershipSettings
        /// How often each node's timers are checked (the shell's `limits.tickMillis`).
        package var tickMillis: Int64 = 50
        /// One-way latency range (ms), random per datagram.
        package var latency: ClosedRange<Int64> = 1...5
        /// Whether datagrams go to the multicast group; off: only the unicast destinations the protocol names.
        package var multicast = true

        package init(nodes: Int, seed: UInt64, settings: MembershipSettings) {
            self.nodes = nodes
            self.seed = seed
            self.settings = settings
        }
    }

    enum Event {
        case tick(Int)
        case datagram(Node.Datagram, to: Int, bytes: Int)
        case refused(at: Int, peer: NodeID)
    }

    /// Who must see what for a watch to be satisfied.
    struct Watch {
        var subject: NodeID
        /// Gone (dead or left) rather than alive.
        var wantGone: Bool
        var pending: Set<Int>
        var needed: Int
        var total: Int
        var satisfied = 0
        /// Observers that no longer trust the subject (suspect or gone), for a crash.
        var distrusting: Set<Int> = []
        var distrustAllAt: Int64?
        var distrustMostAt: Int64?
        var startedAt: Int64
        var mostAt: Int64?
        var allAt: Int64?
    }

    /// Datagram and byte counts since `resetTraffic()`.
    package struct Traffic: Sendable {
        package var datagramsOut = 0
        package var datagramsIn = 0
        package var bytesOut = 0
        package var bytesIn = 0
        package var largestDatagram = 0
        package var datagramsOver1400 = 0
        package var since: Int64 = 0
    }

    package let config: Config
    package let cluster = "scale"
    var random: SplitMix64
    package private(set) var now: Int64 = 1_767_225_600_000
    let start: Int64
    var queue = EventQueue<Event>()
    var nodes: [Node?] = []
    var infos: [MemberInfo] = []
    var slotByAddress: [String: Int] = [:]
    var slotByID: [NodeID: Int] = [:]
    var crashed: Set<NodeID> = []
    /// Probability that a datagram is lost.
    package var loss = 0.0
    /// Partition side per slot; nil when the network is whole.
    var sides: [Int]?
    var watch: Watch?
    /// Joined events per observer and how many observers know every other initial node.
    var joinedCount: [Int] = []
    var formedSlots = 0
    package private(set) var formedAt: Int64?
    package private(set) var traffic = Traffic()
    /// Suspect and dead events about nodes that never crashed, counted while `countingFalsePositives`.
    package var countingFalsePositives = false
    package private(set) var falseSuspects = 0
    package private(set) var falseDeaths = 0
    package private(set) var eventsHandled = 0
    /// Dead or left events per subject since the last `partition` (which minority nodes the majority lost).
    package private(set) var goneEventsSincePartition: [NodeID: Int] = [:]
    /// Who declared which live node dead, and when (for debugging a false positive).
    package private(set) var falseDeathLog: [String] = []

    /// `config.nodes` nodes, started at random instants within the first tick; `extraSlots` more can be started
    /// later (`startNode`).
    package init(config: Config, extraSlots: Int = 1) {
        self.config = config
        self.random = SplitMix64(seed: config.seed)
        self.start = now
        let total = config.nodes + extraSlots
        nodes = Array(repeating: nil, count: total)
        joinedCount = Array(repeating: 0, count: total)
        for slot in 0..<total {
            // Realistic lengths, so datagram sizes are those of a real cluster: names like `node-123`, IPv4
            // endpoints.
            let host = "10.0.\(slot / 250).\(slot % 250 + 1)"
            let info = MemberInfo(
                id: NodeID(using: &random), name: "node-\(slot + 1)", replication: "\(host):47101",
                http: "\(host):8080")
            infos.append(info)
            slotByAddress[info.replication] = slot
            slotByID[info.id] = slot
        }
        for slot in 0..<config.nodes { startNode(slot) }
    }

    /// Milliseconds since the simulation began.
    package var elapsed: Int64 { now - start }

    package var liveCount: Int { nodes.count { $0 != nil } }

    package func id(of slot: Int) -> NodeID { infos[slot].id }

    /// Starts the node of `slot`.
    package func startNode(_ slot: Int) {
        guard nodes[slot] == nil, !crashed.contains(infos[slot].id) else { return }
        var settings = config.settings
        settings.multicast = config.multicast
        settings.expectedMembers = []
        nodes[slot] = Node(me: infos[slot], cluster: cluster, settings: settings, now: Timestamp(millis: now))
        queue.push(.tick(slot), at: now + Int64(random.next() % UInt64(config.tickMillis)))
    }

    /// Kills the node of `slot`. With `linkEvidence`, every live node's replication link to it breaks and the
    /// redial is refused (a process killed on a live host); without, nothing tells the peers (a host gone).
    package func crash(_ slot: Int, linkEvidence: Bool) {
        guard nodes[slot] != nil else { return }
        nodes[slot] = nil
        crashed.insert(infos[slot].id)
        guard linkEvidence else { return }
        for other in nodes.indices where nodes[other] != nil && reachable(slot, other) {
            // The kernel closes the socket (one hop), the peer redials and is refused (a round trip).
            queue.push(.refused(at: other, peer: infos[slot].id), at: now + latency() + 2 * latency())
        }
    }

    /// Splits the network: slots where `side` is 1 hear only each other.
    package func partition(_ isolated: Set<Int>) {
        sides = nodes.indices.map { isolated.contains($0) ? 1 : 0 }
        goneEventsSincePartition = [:]
    }

    package func heal() { sides = nil }

    // MARK: Watching agreement

    /// From now on, records when 99.9 % and when all of the live nodes other than `slot` see it alive (a join) or
    /// gone (a crash).
    /// `among` limits the observers (the majority side of a healed partition, say).
    package func watch(_ slot: Int, gone: Bool, among: Set<Int>? = nil) {
        let observers = Set(nodes.indices.filter { nodes[$0] != nil && $0 != slot && among?.contains($0) ?? true })
        watch = Watch(
            subject: infos[slot].id, wantGone: gone, pending: observers,
            needed: Int((Double(observers.count) * 0.999).rounded(.up)), total: observers.count, startedAt: now)
    }

    /// Milliseconds from `watch` to 99.9 % and to 100 % of the observers, `nil` where not reached.
    package var watched: (most: Int64?, all: Int64?) {
        guard let watch else { return (nil, nil) }
        return (watch.mostAt.map { $0 - watch.startedAt }, watch.allAt.map { $0 - watch.startedAt })
    }

    /// Milliseconds from `watch` to 99.9 % and to 100 % of the observers holding the subject suspect or gone.
    package var distrusted: (most: Int64?, all: Int64?) {
        guard let watch else { return (nil, nil) }
        return (watch.distrustMostAt.map { $0 - watch.startedAt }, watch.distrustAllAt.map { $0 - watch.startedAt })
    }

    package var watchDone: Bool { watch?.allAt != nil }

    // MARK: Running

    package func resetTraffic() { traffic = Traffic(since: now) }

    /// Processes events up to `elapsed == until` or until `stop` returns true, whichever comes first.
    package func run(forMillis span: Int64, stop: () -> Bool = { false }) {
        let end = now + span
        while let next = queue.pop() {
            if next.time > end {
                queue.push(next.event, at: next.time)
                break
            }
            now = max(now, next.time)
            handle(next.event)
            eventsHandled += 1
            if stop() { return }
        }
        now = max(now, end)
    }

    func handle(_ event: Event) {
        switch event {
        case .tick(let slot):
            guard nodes[slot] != nil else { return }
            let output = nodes[slot]!.onTick(now: Timestamp(millis: now))
            carryOut(output, from: slot)
            queue.push(.tick(slot), at: now + config.tickMillis)
        case .datagram(let datagram, let slot, let bytes):
            guard nodes[slot] != nil else { return }
            traffic.datagramsIn += 1
            traffic.bytesIn += bytes
            let output = nodes[slot]!.onDatagram(datagram, now: Timestamp(millis: now))
            carryOut(output, from: slot)
        case .refused(let slot, let peer):
            guard nodes[slot] != nil else { return }
            let output = nodes[slot]!.onLinkRefused(peer, now: Timestamp(millis: now))
            carryOut(output, from: slot)
        }
    }

    func carryOut(_ output: ScaleOutput<Node.Datagram>, from slot: Int) {
        for event in output.events { observe(event, at: slot) }
        for send in output.sends {
            let bytes = Node.wireBytes(send.datagram)
            traffic.largestDatagram = max(traffic.largestDatagram, bytes)
            var targets: [Int] = []
            if send.multicast {
                traffic.datagramsOut += 1
                traffic.bytesOut += bytes
                if bytes > 1_400 { traffic.datagramsOver1400 += 1 }
                targets = nodes.indices.filter { $0 != slot && nodes[$0] != nil }
            }
            for address in send.unicast {
                guard let target = slotByAddress[address], target != slot else { continue }
                traffic.datagramsOut += 1
                traffic.bytesOut += bytes
                if bytes > 1_400 { traffic.datagramsOver1400 += 1 }
                // Multicast already reaches it; the shell sends both, and the receiver drops the duplicate.
                targets.append(target)
            }
            for target in targets where nodes[target] != nil && reachable(slot, target) && !lost() {
                queue.push(.datagram(send.datagram, to: target, bytes: bytes), at: now + latency())
            }
        }
    }

    func observe(_ event: MembershipEvent, at slot: Int) {
        let subject = event.member.id
        switch event {
        case .joined:
            joinedCount[slot] += 1
            if slot < config.nodes, joinedCount[slot] == config.nodes - 1,
                slotByID[subject].map({ $0 < config.nodes })
                    ?? false
            {
                formedSlots += 1
                if formedSlots == config.nodes { formedAt = now }
            }
        case .suspect where countingFalsePositives && !crashed.contains(subject):
            falseSuspects += 1
        case .dead where countingFalsePositives && !crashed.contains(subject):
            falseDeaths += 1
            falseDeathLog.append("t+\(elapsed) \(infos[slot].name) declared \(event.member.name) dead")
        default:
            break
        }
        if sides != nil {
            switch event {
            case .dead, .left: goneEventsSincePartition[subject, default: 0] += 1
            default: break
            }
        }
        if watch?.subject == subject, watch!.wantGone, watch!.distrustAllAt == nil, slot != slotByID[subject] {
            switch event {
            case .suspect, .dead, .left:
                if watch!.distrusting.insert(slot).inserted {
                    let count = watch!.distrusting.count
                    if count >= watch!.needed, watch!.distrustMostAt == nil { watch!.distrustMostAt = now }
                    if count >= watch!.total { watch!.distrustAllAt = now }
                }
            default: break
            }
        }
        guard let wantGone = watch?.wantGone, watch!.subject == subject, watch!.pending.contains(slot) else { return }
        let satisfies: Bool
        switch event {
        case .dead, .left: satisfies = wantGone
        case .joined, .recovered: satisfies = !wantGone
        case .suspect: satisfies = false
        }
        guard satisfies else { return }
        // In place: a copy of the watch would copy its set of pending observers on every event.
        watch!.pending.remove(slot)
        watch!.satisfied += 1
        if watch!.satisfied >= watch!.needed, watch!.mostAt == nil { watch!.mostAt = now }
        if watch!.satisfied == watch!.total { watch!.allAt = now }
    }

    /// Whether every initial node has heard of every other.
    package var isFormed: Bool { formedAt != nil }

    func reachable(_ a: Int, _ b: Int) -> Bool { sides.map { $0[a] == $0[b] } ?? true }

    func latency() -> Int64 {
        let span = UInt64(config.latency.upperBound - config.latency.lowerBound + 1)
        return config.latency.lowerBound + Int64(random.next() % span)
    }

    func lost() -> Bool { loss > 0 && Double(random.next() >> 11) / Double(1 << 53) < loss }

    /// A random live slot other than those in `except`.
    package func randomLiveSlot(except: Set<Int> = []) -> Int? {
        let candidates = nodes.indices.filter { nodes[$0] != nil && !except.contains($0) }
        guard !candidates.isEmpty else { return nil }
        return candidates[Int(random.next() % UInt64(candidates.count))]
    }
}
