import SessionClusterCore

/// One node's membership as the scale simulation drives it: the protocol under test behind a small surface, so
/// the same harness measures the full-list beacons and their replacement.
package protocol ScaleNode {
    /// What travels between nodes (one datagram).
    associatedtype Datagram

    /// A node of the cluster `cluster` with incarnation `me`, started at `now`.
    init(me: MemberInfo, cluster: String, settings: MembershipSettings, now: Timestamp)

    /// Timer tick: returns datagrams to send and membership events.
    mutating func onTick(now: Timestamp) -> ScaleOutput<Datagram>
    /// A datagram arrived.
    mutating func onDatagram(_ datagram: Datagram, now: Timestamp) -> ScaleOutput<Datagram>
    /// The replication link to `peer` was refused (the shell's hard evidence of a crash).
    mutating func onLinkRefused(_ peer: NodeID, now: Timestamp) -> ScaleOutput<Datagram>

    /// The size of `datagram` on the wire: its encoding plus the cluster envelope (UDP/IP headers not counted).
    static func wireBytes(_ datagram: Datagram) -> Int
}

/// What a `ScaleNode` asks of the network.
package struct ScaleOutput<Datagram> {
    /// Each datagram goes to the multicast group when `multicast`, and to each address in `unicast`.
    package var sends: [(datagram: Datagram, multicast: Bool, unicast: [String])] = []
    package var events: [MembershipEvent] = []

    package init() {}
}

/// Bytes every datagram carries besides its payload: the frame header (`Frame.headerSize`, 8) and the cluster
/// envelope (`ClusterCipher.overhead`: a 21-byte header and the 16-byte AES-GCM tag).
package let envelopeOverheadBytes = Frame.headerSize + 37

/// Today's protocol (`MembershipInstance`): every node beacons its whole member list every heartbeat.
package struct BeaconScaleNode: ScaleNode {
    var instance: MembershipInstance

    package init(me: MemberInfo, cluster: String, settings: MembershipSettings, now: Timestamp) {
        instance = MembershipInstance(settings: settings, cluster: cluster, me: me, now: now)
    }

    package mutating func onTick(now: Timestamp) -> ScaleOutput<Beacon> {
        Self.output(instance.onTick(now: now))
    }

    package mutating func onDatagram(_ datagram: Beacon, now: Timestamp) -> ScaleOutput<Beacon> {
        Self.output(instance.onBeacon(datagram, now: now))
    }

    package mutating func onLinkRefused(_ peer: NodeID, now: Timestamp) -> ScaleOutput<Beacon> {
        Self.output(instance.onLinkRefused(peer, now: now))
    }

    package static func wireBytes(_ datagram: Beacon) -> Int {
        WireCodec.encode(datagram).count + envelopeOverheadBytes
    }

    static func output(_ directives: [MembershipDirective]) -> ScaleOutput<Beacon> {
        var output = ScaleOutput<Beacon>()
        for directive in directives {
            switch directive {
            case .sendBeacon(let beacon, let multicast, let unicast):
                output.sends.append((beacon, multicast, unicast))
            case .event(let event):
                output.events.append(event)
            }
        }
        return output
    }
}

/// SWIM (`SwimInstance`): probes, piggybacked changes, push-pull; multicast for announcements and the fast path.
package struct SwimScaleNode: ScaleNode {
    var instance: SwimInstance
    package init(me: MemberInfo, cluster: String, settings: MembershipSettings, now: Timestamp) {
        instance = SwimInstance(swim: SwimSettings(), membership: settings, cluster: cluster, me: me, now: now)
    }

    package mutating func onTick(now: Timestamp) -> ScaleOutput<SwimDatagram> {
        Self.output(instance.onTick(now: now))
    }

    package mutating func onDatagram(_ datagram: SwimDatagram, now: Timestamp) -> ScaleOutput<SwimDatagram> {
        Self.output(instance.onDatagram(datagram, now: now))
    }

    package mutating func onLinkRefused(_ peer: NodeID, now: Timestamp) -> ScaleOutput<SwimDatagram> {
        Self.output(instance.onLinkRefused(peer, now: now))
    }

    package static func wireBytes(_ datagram: SwimDatagram) -> Int {
        WireCodec.encode(datagram).count + envelopeOverheadBytes
    }

    static func output(_ directives: [SwimDirective]) -> ScaleOutput<SwimDatagram> {
        var output = ScaleOutput<SwimDatagram>()
        for directive in directives {
            switch directive {
            case .send(let datagram, let multicast, let unicast):
                output.sends.append((datagram, multicast, unicast))
            case .event(let event):
                output.events.append(event)
            }
        }
        return output
    }
}
