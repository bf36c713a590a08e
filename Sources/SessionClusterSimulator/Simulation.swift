import SessionClusterCore

/// A whole cluster of `NodeInstance`s on a simulated network, driven by one seeded generator.
///
/// Time is simulated (no sleeping); messages get random latency (so they reorder), may be dropped or
/// duplicated; nodes crash (state lost, restart as a new incarnation), partitions split and heal, clocks are
/// skewed. Clients log in, read, write and log out through random nodes as a round-robin balancer would,
/// and every answer is checked against what the client already saw (`Simulation+Workload`). After the
/// workload, faults heal and the cluster settles; then `Simulation+Checks` verifies the invariants.
public final class Simulation {
    enum Event {
        case tick(slot: Int)
        case beacon(Beacon, to: Int)
        case message(ReplicationMessage, from: NodeID, to: NodeID)
        case linkRefused(at: NodeID, peer: NodeID)
        case clientStep(Int)
        case crash(Int)
        case restart(Int)
        case partition([Int])
        case heal
        case endWorkload
    }

    struct Slot {
        var name: String
        var node: NodeInstance?
        var skew: Int64
        /// The slot's last incarnation: a restart's id is later, like a real process's.
        var lastID: NodeID? = nil
    }

    public let config: SimulationConfig
    var random: SplitMix64
    /// Simulated wall time (ms since the epoch) of the event being handled.
    public internal(set) var now: Int64 = 1_767_225_600_000
    let start: Int64
    var queue = EventQueue<Event>()
    var slots: [Slot] = []
    var slotOf: [NodeID: Int] = [:]
    /// Incarnations that crashed: the ground truth the checks use.
    var crashed: Set<NodeID> = []
    /// Partition side per slot; nil when the network is whole.
    var sides: [Int]?
    var workloadRunning = true
    var clients: [Client] = []
    var requests: [AccessTicket: Request] = [:]
    var commitWaits: [NodeID: [CommitID: AccessTicket]] = [:]
    var nextTicket: AccessTicket = 1
    var pendingFinishes: [(AccessTicket, Outcome)] = []
    public internal(set) var report: SimulationReport
    /// When a node last completed a state transfer (simulated ms; 0: none did).
    var lastTransferCompleted: Int64 = 0
    /// How long a joiner's closing digest and its donor's push of what the digest lacked may take after the
    /// transfer completed, before the checks expect every copy in place: the digest walks the joiner's ids a
    /// bounded step per maintenance tick, and the donor pushes what it lacks the same way.
    static let closingDigestMillis: Int64 = 3_000
    /// A session to trace message by message (debugging a replayed run).
    public var traced: SessionID?
    public var traceTransfers = false

    static let tickMillis: Int64 = 25
    static let cluster = "sim"

    /// Settings scaled to simulated time: fast failure detection and anti-entropy so a run settles quickly.
    public static func membershipSettings() -> MembershipSettings {
        var settings = MembershipSettings()
        settings.heartbeatMillis = 100
        settings.suspectAfterMillis = 300
        settings.deadAfterMillis = 600
        settings.deadRetentionMillis = 5_000
        return settings
    }

    public static func replicationSettings(_ config: SimulationConfig) -> ReplicationSettings {
        var settings = ReplicationSettings(mode: config.mode, ack: config.ack)
        settings.copies = config.copies
        settings.defaultMaxInactiveSeconds = 3_600
        settings.gapHoldMillis = 30
        settings.fetchTimeoutMillis = 100
        settings.accessWaitMillis = 500
        settings.syncAckTimeoutMillis = 400
        settings.transferTimeoutMillis = 1_000
        settings.antiEntropyIntervalMillis = 700
        settings.sweepIntervalMillis = 500
        settings.transferChunkSessions = config.transferChunkSessions
        settings.transferWindowChunks = config.transferWindowChunks
        settings.digestChunkEntries = 16
        settings.plantedFault = config.plantedFault
        return settings
    }

    public init(config: SimulationConfig) {
        self.config = config
        self.random = SplitMix64(seed: config.seed)
        self.report = SimulationReport(config: config)
        self.start = now
        for index in 0..<config.nodes {
            let skew =
                config.maxClockSkewMillis == 0
                ? 0 : Int64(random.next() % UInt64(2 * config.maxClockSkewMillis + 1)) - config.maxClockSkewMillis
            slots.append(Slot(name: "n\(index + 1)", node: nil, skew: skew))
        }
    }

    /// Runs the whole scenario: nodes start, workload with faults, heal and settle, then the checks.
    public func run() -> SimulationReport {
        for slot in slots.indices { startNode(slot) }
        setUpClients()
        scheduleFaults()
        queue.push(.endWorkload, at: now + config.workloadMillis)
        run(until: now + config.workloadMillis + config.settleMillis)
        // A delta-mode state transfer still under way is not a fault: with one session per window and a 1 s
        // stall for each dropped chunk, a restarted node may need longer than the settle time to pull every
        // tombstone. Give it up to 20 s more, one second at a time; one that never ends still fails the checks.
        // Nor is one that completed just now, whose closing digest is not answered yet: the sessions its cursor
        // passed over (at a change of donor) are still on their way (seed `delta-async-795957742585`).
        var extra: Int64 = 0
        while extra < 20_000
            && (liveSlots.contains(where: { !slots[$0].node!.replication.isTransferComplete })
                || (lastTransferCompleted > 0 && now - lastTransferCompleted < Self.closingDigestMillis))
        {
            run(until: now + 1_000)
            extra += 1_000
        }
        report.settleExtendedMillis = extra
        checkInvariants()
        return report
    }

    /// Processes events up to simulated time `end`.
    public func run(until end: Int64) {
        while let next = queue.pop() {
            if next.time > end {
                queue.push(next.event, at: next.time)
                break
            }
            now = max(now, next.time)
            handle(next.event)
        }
        now = max(now, end)
    }

    // MARK: Nodes

    func nodeTime(_ slot: Int) -> Timestamp { Timestamp(millis: now + slots[slot].skew) }

    /// Starts (or restarts, as a new incarnation) the node in `slot`.
    public func startNode(_ slot: Int) {
        guard slots[slot].node == nil else { return }
        let id = NodeID(started: nodeTime(slot), after: slots[slot].lastID, using: &random)
        slots[slot].lastID = id
        let info = MemberInfo(id: id, name: slots[slot].name, replication: "sim:\(slot)", http: "")
        // Like `session-node`, whose cluster file names every node: the roster the lost rule waits for.
        var membership = Self.membershipSettings()
        membership.expectedMembers = slots.map(\.name)
        // A replica-table key of its own per incarnation, as a real process draws, from the seed and the id alone:
        // drawing it from `random` would change every later draw, and so what each seed replays.
        slots[slot].node = NodeInstance(
            cluster: Self.cluster, me: info, membership: membership,
            replication: Self.replicationSettings(config), now: nodeTime(slot),
            tableKey: SplitMix64.mix(config.seed ^ SplitMix64.mix(id.rawValue)))
        slotOf[id] = slot
        queue.push(.tick(slot: slot), at: now + Int64(random.next() % UInt64(Self.tickMillis)))
    }

    /// Kills the node in `slot` (kill -9): its state is gone, its requests fail, its port refuses.
    public func crashNode(_ slot: Int) {
        guard let node = slots[slot].node else { return }
        crashed.insert(node.me.id)
        slots[slot].node = nil
        report.crashes += 1
        for ticket in requests.keys.sorted() where requests[ticket]?.node == node.me.id {
            finish(ticket, .nodeFailed)
        }
        commitWaits[node.me.id] = nil
    }

    var liveSlots: [Int] { slots.indices.filter { slots[$0].node != nil } }

    func reachable(_ a: Int, _ b: Int) -> Bool { sides.map { $0[a] == $0[b] } ?? true }

    private func latency() -> Int64 {
        let span = UInt64(config.latency.upperBound - config.latency.lowerBound + 1)
        return config.latency.lowerBound + Int64(random.next() % span)
    }

    private func chance(_ probability: Double) -> Bool {
        probability > 0 && Double(random.next() >> 11) / Double(1 << 53) < probability
    }

    /// Carries out a node's directives on the simulated network and workload.
    func execute(_ directives: [NodeDirective], at slot: Int) {
        guard let sender = slots[slot].node?.me.id else { return }
        for directive in directives {
            switch directive {
            case .beacon(let beacon, _, _):
                for other in liveSlots where other != slot && reachable(slot, other) {
                    report.messagesSent += 1
                    if chance(config.dropBeacon) {
                        report.messagesDropped += 1
                        continue
                    }
                    queue.push(.beacon(beacon, to: other), at: now + latency())
                }
            case .swim:
                break  // the simulator's nodes run the beacon protocol (SWIM at scale: `Scale/`)
            case .replication(.send(let message, let target)):
                send(message, from: sender, fromSlot: slot, to: target)
            case .replication(.accessReady(let ticket, let session, let lostWrites)):
                accessReady(ticket, session, lostWrites: lostWrites)
            case .replication(.accessFailed(let ticket, let failure)):
                accessFailed(ticket, failure)
            case .replication(.commitCompleted(let commitID, let acknowledged)):
                if let ticket = commitWaits[sender]?.removeValue(forKey: commitID) {
                    finish(ticket, acknowledged ? .committed : .commitUnacknowledged)
                }
            case .replication(.confirmCompleted):
                break  // the workload does not `WAIT`
            case .replication(.event(let event)):
                switch event {
                case .conflict: report.conflicts += 1
                case .transferStarted: report.transferDonorsAsked += 1
                case .transferCompleted:
                    report.transfersCompleted += 1
                    lastTransferCompleted = now
                default: break
                }
            case .member:
                break
            }
        }
    }

    private func send(_ message: ReplicationMessage, from sender: NodeID, fromSlot: Int, to target: NodeID) {
        report.messagesSent += 1
        if case .transferRequest = message { report.transferWindows += 1 }
        guard let targetSlot = slotOf[target] else { return }
        if crashed.contains(target) {
            // The crashed process's port refuses the connection: hard evidence for the sender.
            report.messagesDropped += 1
            queue.push(.linkRefused(at: sender, peer: target), at: now + 2 * latency())
            return
        }
        let delivered = reachable(fromSlot, targetSlot) && !chance(config.dropReplication)
        if traceTransfers {
            switch message {
            case .transferRequest, .transferChunk:
                print(
                    "t+\(now - start) \(name(of: sender)) -> \(name(of: target))\(delivered ? "" : " DROPPED"): "
                        + describe(message))
            default: break
            }
        }
        guard delivered else {
            trace("\(name(of: sender)) -> \(name(of: target)) DROPPED: \(describe(message))", about: message.sessionIDs)
            report.messagesDropped += 1
            return
        }
        trace("\(name(of: sender)) -> \(name(of: target)): \(describe(message))", about: message.sessionIDs)
        queue.push(.message(message, from: sender, to: target), at: now + latency())
        if chance(config.duplicate) {
            queue.push(.message(message, from: sender, to: target), at: now + latency() + latency())
        }
    }

    /// Runs `body` on the live node with incarnation `id` and executes what it returns.
    func withNode(_ id: NodeID, _ body: (inout NodeInstance, Timestamp) -> [NodeDirective]) {
        guard let slot = slotOf[id], slots[slot].node?.me.id == id else { return }
        let directives = body(&slots[slot].node!, nodeTime(slot))
        execute(directives, at: slot)
        flushFinishes()
    }

    func handle(_ event: Event) {
        switch event {
        case .tick(let slot):
            guard let id = slots[slot].node?.me.id else { return }
            withNode(id) { node, time in node.onTick(now: time) }
            queue.push(.tick(slot: slot), at: now + Self.tickMillis)
        case .beacon(let beacon, let slot):
            guard let id = slots[slot].node?.me.id else { return }
            withNode(id) { node, time in node.onBeacon(beacon, now: time) }
        case .message(let message, let from, let to):
            withNode(to) { node, time in node.onMessage(message, from: from, now: time) }
        case .linkRefused(let at, let peer):
            withNode(at) { node, time in node.onLinkRefused(peer, now: time) }
        case .clientStep(let index):
            if index >= 0 { clientStep(index) }
        case .crash(let slot):
            if traced != nil { print("t+\(now - start) CRASH \(slots[slot].name)") }
            crashNode(slot)
        case .restart(let slot):
            if workloadRunning { startNode(slot) }
        case .partition(let newSides):
            sides = newSides
            report.partitions += 1
        case .heal:
            sides = nil
        case .endWorkload:
            workloadRunning = false
            sides = nil
            for slot in slots.indices where slots[slot].node == nil { startNode(slot) }
        }
    }

    // MARK: Faults

    /// Crashes (each followed by a restart) and partitions (each followed by a heal) at random times in the
    /// workload. In sync mode faults never overlap, so at most `nodesPerCrash` (`copies − 1`) holders of a session
    /// fail at a time.
    private func scheduleFaults() {
        let window = config.workloadMillis
        var busyUntil: Int64 = now + 800
        var faults = Array(repeating: true, count: config.crashes) + Array(repeating: false, count: config.partitions)
        for index in faults.indices.reversed() {
            faults.swapAt(index, Int(random.next() % UInt64(index + 1)))
        }
        for isCrash in faults {
            let earliest = config.ack == .sync ? busyUntil : now + 500
            let latest = now + window - 2_000
            guard earliest < latest else { break }
            let at = earliest + Int64(random.next() % UInt64(latest - earliest))
            let duration = 400 + Int64(random.next() % 1_200)
            if isCrash {
                // `nodesPerCrash` distinct nodes at the same moment (one, with two copies: the draws of every seed
                // recorded before copies existed stay the same).
                let first = Int(random.next() % UInt64(slots.count))
                var victims = [first]
                if config.nodesPerCrash > 1 {
                    var order = Array(slots.indices.filter { $0 != first })
                    for index in order.indices.reversed() {
                        order.swapAt(index, Int(random.next() % UInt64(index + 1)))
                    }
                    victims += order.prefix(min(config.nodesPerCrash - 1, slots.count - 2))
                }
                for slot in victims {
                    queue.push(.crash(slot), at: at)
                    queue.push(.restart(slot), at: at + duration)
                }
            } else {
                var newSides = slots.indices.map { _ in 0 }
                let minority = 1 + Int(random.next() % UInt64(max(1, slots.count / 2)))
                var order = Array(slots.indices)
                for index in order.indices.reversed() { order.swapAt(index, Int(random.next() % UInt64(index + 1))) }
                for slot in order.prefix(minority) { newSides[slot] = 1 }
                queue.push(.partition(newSides), at: at)
                queue.push(.heal, at: at + duration)
            }
            // Leave time after each fault for detection, re-replication and state transfer.
            busyUntil = at + duration + 2_000
        }
    }
}
