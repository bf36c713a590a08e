/// The membership protocol a node runs (configuration key `membership.protocol`).
public enum MembershipProtocol: String, Sendable, CaseIterable {
    /// Periodic beacons, each with the whole member list (multicast, or unicast to seeds and members).
    case beacon
    /// SWIM with Lifeguard (`SwimInstance`): one probe per period, changes piggybacked, cost per node independent
    /// of the cluster's size.
    case swim
}

/// Tuning of the membership protocol: beacon cadence, failure-detection timeouts and where beacons go.
///
/// All durations are milliseconds of the `Timestamp` the shell passes in. Call `validate()` once at start-up;
/// `MembershipInstance` assumes valid settings.
public struct MembershipSettings: Sendable, Equatable {
    /// Interval between beacons, in ms. 500 ms is Tomcat's default `McastService` frequency.
    public var heartbeatMillis: Int64 = 500

    /// Silence, in ms, after which an alive member becomes suspect: three missed beacons at the default heartbeat,
    /// so one or two lost datagrams do not raise an alarm.
    public var suspectAfterMillis: Int64 = 1_500

    /// Silence, in ms, after which a member is declared dead: six missed beacons, Tomcat's 3 s drop time.
    public var deadAfterMillis: Int64 = 3_000

    /// How long, in ms, a dead or left member is remembered after it died or left, so second-hand gossip from
    /// peers that have not yet noticed cannot resurrect it. One minute is far beyond any peer's `deadAfterMillis`.
    public var deadRetentionMillis: Int64 = 60_000

    /// Whether beacons go to the multicast group. On by default: on a LAN it needs no configuration.
    public var multicast: Bool = true

    /// `host:port` replication endpoints that beacons are always unicast to, for networks without multicast
    /// (clouds, containers). Empty by default: multicast alone finds the members.
    public var seeds: [String] = []

    /// The names of the members the cluster is made of (a cluster file's `nodes`), when known; empty when not.
    /// Used to tell "gone" from "out of reach": a session no live member holds is declared lost (401) only once
    /// every named member is live here — so every one was asked — or `deadRetentionMillis` after this node
    /// started. Without it a node that starts into a partition cannot tell a live writer it has never heard from
    /// from an incarnation before a restart, and would end sessions that are alive across the partition.
    public var expectedMembers: [String] = []

    /// Whether beacons are also unicast to the replication address of every known live member.
    /// `nil` (the default) means: exactly when `multicast` is off, because then seeds and members are the only
    /// way beacons travel.
    public var unicastToMembers: Bool? = nil

    /// Which membership protocol the node runs: `.beacon` (every beacon carries the whole member list) or `.swim`
    /// (`SwimInstance`: probes and piggybacked changes, per-node cost independent of the cluster's size). Both ends
    /// must run the same one: each ignores the other's datagrams.
    public var protocolKind: MembershipProtocol = .beacon

    /// Settings with the defaults documented on each field.
    public init() {}

    /// `unicastToMembers` with its default resolved.
    public var effectiveUnicastToMembers: Bool { unicastToMembers ?? !multicast }

    /// Checks the settings once, naming the first field that is out of range.
    ///
    /// Multicast off with no seeds is allowed: that is a lone node, which is legitimate (tests, a one-node start).
    public func validate() throws(SettingsError) {
        guard heartbeatMillis > 0 else {
            throw .notPositive(field: "membership.heartbeatMillis", value: heartbeatMillis)
        }
        guard suspectAfterMillis > heartbeatMillis else {
            throw .notAbove(
                field: "membership.suspectAfterMillis", value: suspectAfterMillis, bound: "membership.heartbeatMillis",
                boundValue: heartbeatMillis)
        }
        guard deadAfterMillis > suspectAfterMillis else {
            throw .notAbove(
                field: "membership.deadAfterMillis", value: deadAfterMillis, bound: "membership.suspectAfterMillis",
                boundValue: suspectAfterMillis)
        }
        // Peers gossip a member until they time it out themselves; forgetting it sooner would let that
        // gossip bring it back.
        guard deadRetentionMillis >= deadAfterMillis else {
            throw .below(
                field: "membership.deadRetentionMillis", value: deadRetentionMillis,
                bound: "membership.deadAfterMillis",
                boundValue: deadAfterMillis)
        }
        for (index, seed) in seeds.enumerated() where !Self.isHostPort(seed) {
            throw .badAddress(field: "membership.seeds[\(index)]", value: seed)
        }
    }

    /// Whether `address` reads as `host:port` with a non-empty host and a port in 1...65535 (`[v6]:port` allowed).
    static func isHostPort(_ address: String) -> Bool {
        guard let colon = address.lastIndex(of: ":") else { return false }
        let host = address[..<colon]
        let port = address[address.index(after: colon)...]
        guard !host.isEmpty, !host.contains(where: \.isWhitespace) else { return false }
        if host.contains(":") {
            // A bare IPv6 literal is ambiguous with its port; require brackets.
            guard host.first == "[", host.last == "]", host.count > 2 else { return false }
        }
        guard port.count <= 5, port.allSatisfy(\.isASCIIDigit), let number = Int(port) else { return false }
        return (1...65_535).contains(number)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
