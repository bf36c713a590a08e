import SessionClusterCore

/// The figures of one scale run (see `ScaleScenario.run`).
package struct ScaleFigures: Sendable {
    package var protocolName: String
    package var nodes: Int
    /// Simulated ms until every node knew every other; nil if not within the limit.
    package var formedMillis: Int64?
    /// Steady state, no loss: membership datagrams and bytes per node per second (envelope included).
    package var datagramsInPerNode: Double = 0
    package var datagramsOutPerNode: Double = 0
    package var bytesInPerNode: Double = 0
    package var bytesOutPerNode: Double = 0
    package var largestDatagram = 0
    /// Share of the datagrams sent in the steady state that exceed 1,400 bytes.
    package var shareOver1400 = 0.0
    /// A new node: ms until 99.9 % and all of the others see it.
    package var joinMost: Int64?
    package var joinAll: Int64?
    /// `kill -9` of a process: ms until 99.9 % and all declare it dead (links refused).
    package var killMost: Int64?
    package var killAll: Int64?
    /// A host gone (no link evidence): ms until 99.9 % and all declare it dead, by the protocol alone.
    package var silentMost: Int64?
    package var silentAll: Int64?
    /// The same crash: ms until 99.9 % and all hold it suspect or dead (no longer trusted).
    package var silentSuspectMost: Int64?
    package var silentSuspectAll: Int64?
    /// Under `lossShare` datagram loss, no crash: suspect and dead events about live nodes, over `lossSeconds`.
    package var lossShare = 0.05
    package var lossSeconds = 0.0
    package var falseSuspects = 0
    package var falseDeaths = 0
    /// A minority (10 %) cut off for `partitionMillis`, then healed: ms until 99.9 % / all of the majority see
    /// one of its nodes alive again.
    package var healMost: Int64?
    package var healAll: Int64?
    /// Simulated events handled (the simulator's own cost).
    package var events = 0
}

/// The scale scenario: form, steady traffic, a join, a `kill -9`, a silent crash, 5 % loss, a partition and heal.
package enum ScaleScenario {
    package struct Plan: Sendable {
        /// Long enough to hold one push-pull per node even at 1,024 members (every 180 s there), so the figures
        /// include its share.
        package var trafficMillis: Int64 = 185_000
        package var lossMillis: Int64 = 10_000
        package var phaseLimitMillis: Int64 = 20_000
        package var partitionMillis: Int64 = 5_000
        package init() {}
    }

    /// Runs every phase on one cluster of `nodes` and returns its figures.
    package static func run<Node: ScaleNode>(
        _ type: Node.Type, name: String, nodes: Int, settings: MembershipSettings, seed: UInt64 = 1,
        plan: Plan = Plan()
    ) -> ScaleFigures {
        let config = ScaleSimulation<Node>.Config(nodes: nodes, seed: seed, settings: settings)
        let sim = ScaleSimulation<Node>(config: config, extraSlots: 1)
        var figures = ScaleFigures(protocolName: name, nodes: nodes)
        sim.run(forMillis: plan.phaseLimitMillis) { sim.isFormed }
        figures.formedMillis = sim.formedAt.map { $0 - (sim.now - sim.elapsed) }
        // Let the formation's own traffic pass before measuring the steady state.
        sim.run(forMillis: 2 * settings.heartbeatMillis + 5_000)

        sim.resetTraffic()
        sim.run(forMillis: plan.trafficMillis)
        let seconds = Double(plan.trafficMillis) / 1_000
        let live = Double(sim.liveCount)
        figures.datagramsInPerNode = Double(sim.traffic.datagramsIn) / live / seconds
        figures.datagramsOutPerNode = Double(sim.traffic.datagramsOut) / live / seconds
        figures.bytesInPerNode = Double(sim.traffic.bytesIn) / live / seconds
        figures.bytesOutPerNode = Double(sim.traffic.bytesOut) / live / seconds
        figures.largestDatagram = sim.traffic.largestDatagram
        figures.shareOver1400 =
            sim.traffic.datagramsOut == 0 ? 0 : Double(sim.traffic.datagramsOver1400) / Double(sim.traffic.datagramsOut)

        // A join.
        sim.startNode(nodes)
        sim.watch(nodes, gone: false)
        sim.run(forMillis: plan.phaseLimitMillis) { sim.watchDone }
        (figures.joinMost, figures.joinAll) = sim.watched
        sim.run(forMillis: 1_000)

        // kill -9 of a process: the peers' links are refused.
        let killed = sim.randomLiveSlot(except: [nodes])!
        sim.watch(killed, gone: true)
        sim.crash(killed, linkEvidence: true)
        sim.run(forMillis: plan.phaseLimitMillis) { sim.watchDone }
        (figures.killMost, figures.killAll) = sim.watched
        sim.run(forMillis: 1_000)

        // A host gone: nothing but the protocol notices.
        let vanished = sim.randomLiveSlot(except: [nodes, killed])!
        sim.watch(vanished, gone: true)
        sim.crash(vanished, linkEvidence: false)
        sim.run(forMillis: plan.phaseLimitMillis) { sim.watchDone }
        (figures.silentMost, figures.silentAll) = sim.watched
        (figures.silentSuspectMost, figures.silentSuspectAll) = sim.distrusted
        sim.run(forMillis: 2_000)

        // Loss: no live node may be declared dead.
        sim.loss = figures.lossShare
        sim.countingFalsePositives = true
        sim.run(forMillis: plan.lossMillis)
        sim.countingFalsePositives = false
        sim.loss = 0
        figures.lossSeconds = Double(plan.lossMillis) / 1_000
        (figures.falseSuspects, figures.falseDeaths) = (sim.falseSuspects, sim.falseDeaths)
        sim.run(forMillis: 2_000)

        // A partition of 10 % and its heal: how soon the majority sees the minority again.
        var minority = Set<Int>()
        while minority.count < max(1, nodes / 10) {
            guard let slot = sim.randomLiveSlot(except: minority) else { break }
            minority.insert(slot)
        }
        sim.partition(minority)
        sim.run(forMillis: plan.partitionMillis)
        sim.heal()
        // The minority node the most majority nodes lost (a 5 s partition is a few probe rounds: at 1,024 nodes a
        // few of the minority may never have been probed in it, and one the majority never lost cannot come back).
        let lost = { (slot: Int) in sim.goneEventsSincePartition[sim.id(of: slot)] ?? 0 }
        if let probe = minority.sorted().max(by: { lost($0) < lost($1) }) {
            // The majority's nodes: each lost it during the partition (it outlasts the dead time-out).
            sim.watch(probe, gone: false, among: Set((0...nodes).filter { !minority.contains($0) }))
            sim.run(forMillis: plan.phaseLimitMillis) { sim.watchDone }
            (figures.healMost, figures.healAll) = sim.watched
        }
        figures.events = sim.eventsHandled
        return figures
    }
}

extension ScaleScenario {
    /// Today's beacons at a size too large to simulate in reasonable time (every node handles N beacons of N
    /// entries per heartbeat: O(N²) per node per period, O(N³) for the simulator): the traffic, computed from the
    /// real encoding of a beacon listing `nodes` members. Detection and agreement are left unmeasured.
    package static func beaconTrafficComputed(nodes: Int, settings: MembershipSettings) -> ScaleFigures {
        let sim = ScaleSimulation<BeaconScaleNode>(
            config: .init(nodes: 0, seed: 1, settings: settings), extraSlots: nodes)
        let members = sim.infos.map { GossipEntry(member: $0, status: .alive) }
        let beacon = Beacon(
            cluster: sim.cluster, sender: sim.infos[0], status: .alive, sequence: 1_000, members: members)
        let bytes = Double(BeaconScaleNode.wireBytes(beacon))
        let perSecond = 1_000 / Double(settings.heartbeatMillis)
        var figures = ScaleFigures(protocolName: "beacons (computed)", nodes: nodes)
        figures.datagramsOutPerNode = perSecond
        figures.datagramsInPerNode = perSecond * Double(nodes - 1)
        figures.bytesOutPerNode = perSecond * bytes
        figures.bytesInPerNode = perSecond * bytes * Double(nodes - 1)
        figures.largestDatagram = Int(bytes)
        figures.shareOver1400 = bytes > 1_400 ? 1 : 0
        return figures
    }
}

/// A one-line rendering of `ScaleFigures` (tests and debugging; the bench prints a table).
package enum ScaleFiguresText {
    package static func row(_ f: ScaleFigures) -> String {
        func ms(_ value: Int64?) -> String { value.map { "\($0)" } ?? "-" }
        var parts: [String] = ["\(f.protocolName) n=\(f.nodes)", "formed=\(ms(f.formedMillis))"]
        parts.append("in/s=\(f.datagramsInPerNode) out/s=\(f.datagramsOutPerNode)")
        parts.append("Bin/s=\(Int(f.bytesInPerNode)) Bout/s=\(Int(f.bytesOutPerNode)) largest=\(f.largestDatagram)")
        parts.append("join=\(ms(f.joinMost))/\(ms(f.joinAll)) kill=\(ms(f.killMost))/\(ms(f.killAll))")
        parts.append("suspect=\(ms(f.silentSuspectMost))/\(ms(f.silentSuspectAll))")
        parts.append("silent=\(ms(f.silentMost))/\(ms(f.silentAll)) heal=\(ms(f.healMost))/\(ms(f.healAll))")
        parts.append("loss=\(f.falseSuspects)/\(f.falseDeaths) events=\(f.events)")
        return parts.joined(separator: " ")
    }
}
