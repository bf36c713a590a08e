import SessionClusterCore

/// One simulation run's parameters. Everything random derives from `seed`, so a seed replays a run exactly.
public struct SimulationConfig: Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var mode: ReplicationMode
    public var ack: AckMode
    /// Backup mode: copies per session (`ReplicationSettings.copies`). Above 2, each crash takes `copies − 1`
    /// nodes down at the same moment, so a `sync` run checks that no acknowledged write dies with them.
    public var copies: Int
    /// Nodes each crash takes down at the same moment: `copies − 1` (at least 1). A test raises it to show that
    /// fewer copies than simultaneous failures do lose acknowledged writes, which the checks catch.
    public var nodesPerCrash: Int
    /// Node slots; a crashed slot restarts as a new incarnation under the same name.
    public var nodes: Int
    /// Independent clients (each with its own session) and clients that share a session with a partner
    /// (two browser tabs writing different attributes through different nodes at once).
    public var clients: Int
    public var sharedSessionPairs: Int
    /// Simulated milliseconds of client load; then faults heal, crashed nodes restart and the cluster settles.
    public var workloadMillis: Int64
    public var settleMillis: Int64
    /// One-way network latency range (ms); random per message, so messages reorder.
    public var latency: ClosedRange<Int64>
    /// Probabilities per message.
    public var dropBeacon: Double
    public var dropReplication: Double
    public var duplicate: Double
    /// Fault schedule.
    public var crashes: Int
    public var partitions: Int
    /// Each node's clock is off by up to this many ms.
    public var maxClockSkewMillis: Int64
    /// State transfer in small windows, so that joins after crashes pull several windows, resume from another
    /// donor and see late or lost chunks.
    public var transferChunkSessions: Int
    public var transferWindowChunks: Int
    /// A deliberate bug in every node, to show the checks catch it.
    public var plantedFault: PlantedFault?

    /// The run for `seed`: the fault mix varies with the seed. In `sync` mode faults never overlap (at most
    /// `copies − 1` holders failed at a time) and replication links are reliable while up — as TCP is — so the
    /// "no acknowledged write lost" promise applies; `async` runs mix crashes, partitions and lossy links.
    public init(seed: UInt64, mode: ReplicationMode, ack: AckMode, copies: Int = 2) {
        var random = SplitMix64(seed: seed ^ 0x5EED_0F_C0FFEE)
        self.seed = seed
        self.mode = mode
        self.ack = ack
        self.copies = copies
        nodesPerCrash = max(1, copies - 1)
        nodes = mode == .delta ? 3 + Int(random.next() % 2) : 4 + Int(random.next() % 2)
        // Room for `copies − 1` crashed nodes with a full set of copies left on the survivors.
        if copies > 2 { nodes = max(nodes, copies + 2 + Int(random.next() % 2)) }
        clients = 4 + Int(random.next() % 4)
        sharedSessionPairs = 1 + Int(random.next() % 2)
        workloadMillis = 6_000
        settleMillis = 6_000
        latency = 1...(2 + Int64(random.next() % 12))
        dropBeacon = 0.05
        duplicate = 0.02
        maxClockSkewMillis = Int64(random.next() % 200)
        let faultMix = random.next() % 4
        switch ack {
        case .async:
            dropReplication = 0.01
            crashes = faultMix == 0 ? 0 : 1 + Int(random.next() % 2)
            partitions = faultMix == 1 ? 0 : Int(random.next() % 2)
        case .sync:
            dropReplication = 0
            crashes = faultMix >= 2 ? 1 + Int(random.next() % 2) : 0
            partitions = faultMix == 1 ? 1 : 0
        }
        transferChunkSessions = [1, 2, 8][Int(random.next() % 3)]
        transferWindowChunks = 1 + Int(random.next() % 3)
        plantedFault = nil
    }

    /// Whether `makeHealthy()` took every fault out of this run.
    public private(set) var healthy = false

    /// Takes every fault out: no crashes, partitions, drops, duplicates or clock skew — only latency, so messages
    /// on different links still reorder. Such a cluster must serve every request.
    public mutating func makeHealthy() {
        healthy = true
        crashes = 0
        partitions = 0
        dropBeacon = 0
        dropReplication = 0
        duplicate = 0
        maxClockSkewMillis = 0
    }

    /// The environment assignment that replays this run (see the README).
    public var replayKey: String {
        "\(mode.rawValue)-\(ack.rawValue)-\(seed)" + (plantedFault.map { "-\($0.rawValue)" } ?? "")
            + (healthy ? "-healthy" : "") + (copies != 2 ? "-copies\(copies)" : "")
    }

    /// Parses `replayKey` (`delta-async-123`, optionally `-noMerge`, optionally `-healthy`, optionally `-copies3`).
    /// The copies come first (they change the node count the seed draws); then the other parts apply.
    public static func parse(replayKey: String) -> SimulationConfig? {
        let parts = replayKey.split(separator: "-")
        guard parts.count >= 3, let mode = ReplicationMode(rawValue: String(parts[0])),
            let ack = AckMode(rawValue: String(parts[1])), let seed = UInt64(parts[2])
        else { return nil }
        let copies = parts.dropFirst(3).compactMap { $0.hasPrefix("copies") ? Int($0.dropFirst(6)) : nil }.last ?? 2
        var config = SimulationConfig(seed: seed, mode: mode, ack: ack, copies: copies)
        for part in parts.dropFirst(3) {
            if part.hasPrefix("copies"), Int(part.dropFirst(6)) != nil {
                continue
            } else if part == "healthy" {
                config.makeHealthy()
            } else if let fault = PlantedFault(rawValue: String(part)) {
                config.plantedFault = fault
            } else {
                return nil
            }
        }
        return config
    }

    public var description: String {
        "\(replayKey): \(nodes) nodes, \(clients)+\(sharedSessionPairs * 2) clients, \(crashes) crashes"
            + (nodesPerCrash > 1 ? " of \(nodesPerCrash) nodes at once" : "") + ", "
            + "\(partitions) partitions, latency \(latency.lowerBound)-\(latency.upperBound) ms, "
            + "skew ≤\(maxClockSkewMillis) ms, transfer windows of \(transferWindowChunks)×\(transferChunkSessions)"
    }
}
