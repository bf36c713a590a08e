/// Tuning of the SWIM membership protocol (`SwimInstance`). Durations in ms of the shell's `Timestamp`.
///
/// Defaults follow hashicorp/memberlist's LAN profile where it has one (probe 1 s, probe time-out 500 ms,
/// 3 indirect probes, gossip to 3 every 200 ms, retransmit multiplier 4, Lifeguard awareness up to 8) and are
/// faster where this cluster needs it (suspicion, see `suspicionMultiplier`).
package struct SwimSettings: Sendable, Equatable {
    /// Each node probes one member per period. memberlist: 1 s.
    package var probeIntervalMillis: Int64 = 1_000
    /// A direct ping not acknowledged by then is retried through `indirectProbes` other members, whose nacks come at
    /// 80 % of it. memberlist: 500 ms; 300 here (still hundreds of LAN round trips), so a failed probe becomes a
    /// suspicion about 0.55 s after it was sent instead of 0.95 s: a third of the time to agree on a crash.
    package var probeTimeoutMillis: Int64 = 300
    /// Members asked to ping a silent target on the prober's behalf. memberlist: 3.
    package var indirectProbes = 3
    /// Pending changes are also sent to `gossipFanout` random members every `gossipIntervalMillis`. memberlist:
    /// 3 every 200 ms.
    package var gossipIntervalMillis: Int64 = 200
    package var gossipFanout = 3
    /// A change is piggybacked `retransmitMultiplier × ⌈log10(N + 1)⌉` times, then dropped. memberlist: 4.
    package var retransmitMultiplier = 4
    /// Suspicion lasts `suspicionMultiplier × max(1, log10 N) × probeIntervalMillis` once confirmed by
    /// `suspicionConfirmations` other members, up to `suspicionMaxMultiplier` times that without confirmation
    /// (Lifeguard's dynamic suspicion). memberlist uses 4 and 6; 0.3 and 5 here (0.9 to 4.5 s at 1,024 members):
    /// a suspected member hears of it at once (the suspicion is sent to it, and multicast where there is
    /// multicast) and its refutation is relayed by every receiver, and the failed indirect probes' nacks count as
    /// confirmations from the start. So a crash is agreed on within 3 s at 1,024 members (first suspicion about
    /// 1.9 s after it, SWIM's expected 1.58 probe periods plus the probe's own), while an unconfirmed suspicion
    /// keeps the 1.5 × log10 N s it had.
    package var suspicionMultiplier = 0.3
    package var suspicionMaxMultiplier = 5.0
    package var suspicionConfirmations = 3
    /// Lifeguard local health: a node whose probes fail without the nacks that prove the network works stretches
    /// its own probe interval and time-outs by up to this factor. memberlist: 8.
    package var maxAwareness = 8
    /// A full-state push-pull with one random member every `pushPullIntervalMillis` (more rarely past 32 members,
    /// as memberlist scales it). memberlist: 30 s.
    package var pushPullIntervalMillis: Int64 = 30_000
    /// The largest datagram, envelope included. 1,400 fits an Ethernet MTU with room for IP, UDP and tunnels.
    package var maxDatagramBytes = 1_400

    package init() {}
}
