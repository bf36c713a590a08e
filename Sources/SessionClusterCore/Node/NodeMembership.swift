/// A node's membership: the beacon protocol (`MembershipInstance`) or SWIM (`SwimInstance`), as
/// `MembershipSettings.protocolKind` chose. Exactly one of `beacon` and `swim` is set, for the node's lifetime.
///
/// Two optionals rather than an enum with payloads: a mutating call through `beacon!` or `swim!` changes the
/// instance in place, where re-wrapping an enum payload would copy the whole member table on every event.
/// Its outputs are `NodeDirective`s (sends and `.member` events), so `NodeInstance` tells replication of a change
/// in one way whatever the protocol.
package struct NodeMembership: Sendable {
    package private(set) var beacon: MembershipInstance?
    package private(set) var swim: SwimInstance?

    package init(settings: MembershipSettings, cluster: String, shards: Int, me: MemberInfo, now: Timestamp) {
        switch settings.protocolKind {
        case .beacon:
            beacon = MembershipInstance(settings: settings, cluster: cluster, shards: shards, me: me, now: now)
        case .swim:
            swim = SwimInstance(
                swim: SwimSettings(heartbeatMillis: settings.heartbeatMillis), membership: settings, cluster: cluster,
                shards: shards, me: me, now: now)
        }
    }

    package var protocolKind: MembershipProtocol { swim == nil ? .beacon : .swim }

    package var me: MemberInfo { swim?.me ?? beacon!.me }

    /// Every remembered member, dead and left ones included until forgotten, sorted by name then id.
    package var members: [Member] { swim?.members ?? beacon!.members }

    /// Alive or suspect members, sorted by name then id.
    package var peers: [MemberInfo] { swim?.peers ?? beacon!.peers }

    package func member(_ id: NodeID) -> Member? { swim != nil ? swim!.member(id) : beacon!.member(id) }

    // MARK: Inputs

    mutating func onTick(now: Timestamp) -> [NodeDirective] {
        if swim != nil { return Self.wrap(swim!.onTick(now: now)) }
        return Self.wrap(beacon!.onTick(now: now))
    }

    /// A beacon: only the beacon protocol listens (a SWIM node ignores beacon nodes, and they it).
    mutating func onBeacon(_ beacon: Beacon, now: Timestamp) -> [NodeDirective] {
        guard self.beacon != nil else { return [] }
        return Self.wrap(self.beacon!.onBeacon(beacon, now: now))
    }

    /// A SWIM datagram: only SWIM listens.
    mutating func onSwim(_ datagram: SwimDatagram, now: Timestamp) -> [NodeDirective] {
        guard swim != nil else { return [] }
        return Self.wrap(swim!.onDatagram(datagram, now: now))
    }

    /// Whether the protocol running here listens to `beacon` (this cluster, this number of shards).
    func admits(_ beacon: Beacon) -> Bool { self.beacon?.admits(beacon) ?? false }

    /// Whether the protocol running here listens to `datagram` (this cluster, this number of shards).
    func admits(_ datagram: SwimDatagram) -> Bool { swim?.admits(datagram) ?? false }

    mutating func onLinkRefused(_ peer: NodeID, now: Timestamp) -> [NodeDirective] {
        if swim != nil { return Self.wrap(swim!.onLinkRefused(peer, now: now)) }
        return Self.wrap(beacon!.onLinkRefused(peer, now: now))
    }

    mutating func onLinkLost(_ peer: NodeID, now: Timestamp) -> [NodeDirective] {
        if swim != nil { return Self.wrap(swim!.onLinkLost(peer, now: now)) }
        return Self.wrap(beacon!.onLinkLost(peer, now: now))
    }

    mutating func leave(now: Timestamp) -> [NodeDirective] {
        if swim != nil { return Self.wrap(swim!.leave(now: now)) }
        return Self.wrap(beacon!.leave(now: now))
    }

    // MARK: Plumbing

    private static func wrap(_ directives: [MembershipDirective]) -> [NodeDirective] {
        directives.map { directive in
            switch directive {
            case .sendBeacon(let beacon, let multicast, let unicast):
                .beacon(beacon, multicast: multicast, unicast: unicast)
            case .event(let event): .member(event)
            }
        }
    }

    private static func wrap(_ directives: [SwimDirective]) -> [NodeDirective] {
        directives.map { directive in
            switch directive {
            case .send(let datagram, let multicast, let unicast):
                .swim(datagram, multicast: multicast, unicast: unicast)
            case .event(let event): .member(event)
            }
        }
    }
}

extension SwimSettings {
    /// SWIM's timing scaled to the node's `membership.heartbeatMillis`, so one key speeds up or slows down failure
    /// detection whichever protocol runs: probe every 2 heartbeats, probe time-out 1 heartbeat, gossip every 2/5 (at
    /// the default 500 ms heartbeat, memberlist's LAN profile). `SwimSettings()`, which the scale simulator runs,
    /// has a shorter probe time-out (300 ms, 0.6 heartbeat): the node keeps the longer one until it has been
    /// measured on real networks.
    package init(heartbeatMillis: Int64) {
        self.init()
        let heartbeat = max(1, heartbeatMillis)
        probeIntervalMillis = 2 * heartbeat
        probeTimeoutMillis = heartbeat
        gossipIntervalMillis = max(1, heartbeat * 2 / 5)
    }
}
