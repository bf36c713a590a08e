import SessionClusterCore

/// Where membership beacons are multicast.
public struct MulticastSettings: Sendable, Equatable {
    /// An IPv4 multicast group, e.g. `239.255.77.1`. Give every cluster (and every test) its own group/port.
    public var group: String
    /// The UDP port beacons are sent to and received on.
    public var port: UInt16
    /// The IPv4 address of the interface to join and send on (`127.0.0.1` on one machine): without it,
    /// multicast would leave by the default route.
    public var interface: String

    /// Beacons to `group`:`port`, joined and sent on `interface`.
    public init(group: String, port: UInt16, interface: String) {
        self.group = group
        self.port = port
        self.interface = interface
    }
}

/// Everything a `ClusterNode` needs to start. Every field but `cluster` and `name` has a default.
public struct ClusterNodeSettings: Sendable {
    /// The cluster name; beacons and links of other clusters are ignored.
    public var cluster: String
    /// This node's stable name (`n1`); its ring position derives from it.
    public var name: String
    /// The shared cluster secret, at least 32 bytes: it keys the authenticated encryption of every beacon and
    /// frame (AES-256-GCM). A node refuses to start without one. Rotate keys with `ClusterNode.keyring`.
    public var secret = ""
    /// A full keyring (several keys, one current); when set it is used instead of `secret`.
    public var keyring: Keyring?
    /// Host for the replication listener (TCP) and unicast beacons (UDP on the same port).
    public var replicationHost = "127.0.0.1"
    /// Port for replication; 0 picks a free one (tests).
    public var replicationPort: UInt16 = 0
    /// The HTTP address this node advertises to others (informational; may be empty).
    public var httpAddress = ""
    /// Multicast beacons; nil means unicast only (`membership.seeds` and known members).
    public var multicast: MulticastSettings?
    /// Heartbeat period, failure-detection timeouts, seeds (`MembershipSettings`, all in ms).
    public var membership = MembershipSettings()
    /// Mode (`delta` / `backup`), ack (`async` / `sync`) and timeouts (`ReplicationSettings`, in ms).
    public var replication = ReplicationSettings()
    /// Event loops (threads) serving the node, 1–64: the sessions are split into as many shards by a fixed hash
    /// of their id, each owned by one loop with no lock between them, so a node uses that many cores. Every node of
    /// a cluster MUST run the same number (shard k replicates with shard k of each peer); a peer's link with
    /// another number is refused and logged. Default 1.
    public var loops = 1
    /// How often (ms) the protocol's timers are checked, 1–1000. 50 ms keeps failure detection and sync
    /// time-outs within a tick of their settings.
    public var tickMillis: Int64 = 50
    /// Largest frame accepted from a peer (bytes, 64 KiB–1 GiB). A session of `maxSessionBytes` must fit in one.
    public var maxFrameBytes = 16 << 20
    /// Bound on bytes queued to one peer; a peer that falls further behind is disconnected and re-synced.
    public var maxQueuedBytesPerPeer = 64 << 20
    /// Time an inbound replication link has to present an authentic hello (ms); a link still anonymous then is
    /// closed and counted (`NodeStats.linksTimedOut`). Default 5,000.
    public var helloTimeoutMillis: Int64 = 5_000
    /// Most inbound replication links open at once. At the cap the oldest link that has not said hello yet is
    /// closed to admit a newcomer (so strangers cannot lock peers out), or the newcomer when all are
    /// authenticated; counted in `NodeStats.linksRejected`. Default 256 — a cluster needs one per peer.
    public var maxInboundLinks = 256
    /// TCP keepalive on peer links: idle seconds before the first probe, seconds between probes, probes
    /// unanswered before the link fails (a peer gone without FIN or RST is noticed in 10 + 5 × 3 = 25 s by
    /// default, even when membership beacons still arrive by another path). Nil turns keepalive off.
    public var peerKeepalive: (idleSeconds: Int32, intervalSeconds: Int32, count: Int32)? = (10, 5, 3)
    /// Most attributes one session may hold; a request that would exceed it fails with `.tooLarge` (HTTP 413).
    public var maxAttributesPerSession = 256
    /// Most bytes (names + values) one session may hold; beyond it `.tooLarge` (HTTP 413).
    public var maxSessionBytes = 256 * 1024
    /// Most live sessions this node holds a copy of; creating more fails with `.full` (HTTP 503 +
    /// Retry-After) — live sessions are never evicted to make room. Emptied sessions (every attribute removed: a
    /// deleted Redis key, kept for `tombstoneRetentionMillis`) are not counted, but all valid copies held, emptied
    /// ones included, stop at twice this.
    public var maxSessions = 1_000_000
    /// Stamps a replication frame with this node's clock at most this often per link (ms; 0 = off), so peers
    /// measure replication lag (`NodeStats.replicationLag`). Meaningful only when the nodes' clocks agree.
    public var lagSampleMillis: Int64 = 0
    /// Receives the node's log records at or above `logLevel` (member joined, state transfer done, link reset, …),
    /// e.g. `{ print($0.formatted) }`. Nil (the default) logs nothing.
    ///
    /// Called on a thread of the node's own, one record at a time, in order — never on the event loop, so the
    /// handler may block (a full stdout pipe) without stalling the node. While it does, records wait in a queue
    /// of `logQueueCapacity`; beyond that they are dropped and counted (`NodeStats.logRecordsDropped`), and the
    /// next record delivered is preceded by a `warning` record `N log records dropped` (field `dropped`).
    /// `ClusterNode.shutdown()` waits at most a second for the records still queued to be handed over.
    public var logHandler: (@Sendable (LogRecord) -> Void)?
    /// The lowest level handed to `logHandler`. Default `.info`; records below it are not even built.
    public var logLevel = LogLevel.info
    /// Most log records waiting for a slow `logHandler` before new ones are dropped (and counted). Default 10,000.
    public var logQueueCapacity = 10_000

    /// Where the node keeps its sessions across a restart; nil (the default): in memory only. With `snapshot`
    /// mode the node writes every copy it holds to `<directory>/<name>/sessions.snapshot` on graceful stop and
    /// restores them on start, before joining.
    public var persistence: PersistenceSettings?

    /// The defaults for node `name` of cluster `cluster`; set `secret` before starting.
    public init(cluster: String, name: String) {
        self.cluster = cluster
        self.name = name
    }

    /// Checks the shell's limits (`ClusterNode.start` calls it): `tickMillis` 1–1000, `maxFrameBytes` 64 KiB–1 GiB,
    /// `maxQueuedBytesPerPeer` at least one frame, `helloTimeoutMillis` 1–600,000, `maxInboundLinks` ≥ 1,
    /// `logQueueCapacity` ≥ 1, `maxSessions` and `maxAttributesPerSession` ≥ 1, `defaultMaxInactiveSeconds`
    /// 0–31,536,000, `cluster` and `name` 1–128 bytes, a multicast group in 224.0.0.0/4 and an IPv4 interface, and
    /// a session of `maxSessionBytes` fitting in one frame. The error names the setting and its value.
    /// The four octets of a dotted IPv4 address, nil when `text` is not one.
    static func ipv4Octets(_ text: String) -> [Int]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets = [Int]()
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCII), let value = Int(part), value <= 255
            else { return nil }
            octets.append(value)
        }
        return octets
    }

    public func validateLimits() throws(ConfigurationError) {
        let ranges: [(String, Int64, ClosedRange<Int64>)] = [
            ("tickMillis", tickMillis, 1...1_000),
            ("loops", Int64(loops), 1...64),
            ("maxFrameBytes", Int64(maxFrameBytes), (64 << 10)...(1 << 30)),
            ("maxQueuedBytesPerPeer", Int64(maxQueuedBytesPerPeer), Int64(maxFrameBytes)...Int64.max),
            ("helloTimeoutMillis", helloTimeoutMillis, 1...600_000),
            ("maxInboundLinks", Int64(maxInboundLinks), 1...Int64.max),
            ("maxSessionBytes", Int64(maxSessionBytes), 1...Int64.max),
            ("logQueueCapacity", Int64(logQueueCapacity), 1...Int64.max),
            ("maxSessions", Int64(maxSessions), 1...Int64.max),
            ("maxAttributesPerSession", Int64(maxAttributesPerSession), 1...Int64.max),
            ("replication.defaultMaxInactiveSeconds", replication.defaultMaxInactiveSeconds, 0...31_536_000),
        ]
        for (key, text) in [("cluster", cluster), ("name", name)] where text.isEmpty || text.utf8.count > 128 {
            throw ConfigurationError(
                keyPath: key, value: "\"\(text.prefix(40))\"" + (text.count > 40 ? "…" : ""),
                problem: "must be 1 to 128 bytes (it travels in every beacon)")
        }
        if let multicast {
            let octets = Self.ipv4Octets(multicast.group)
            if octets == nil || !(224...239).contains(octets![0]) {
                throw ConfigurationError(
                    keyPath: "multicast.group", value: "\"\(multicast.group)\"",
                    problem: "is not an IPv4 multicast group (224.0.0.0 to 239.255.255.255)")
            }
            if Self.ipv4Octets(multicast.interface) == nil {
                throw ConfigurationError(
                    keyPath: "multicast.interface", value: "\"\(multicast.interface)\"",
                    problem: "is not an IPv4 address (the interface's own, e.g. 127.0.0.1)")
            }
        }
        for (key, value, range) in ranges where !range.contains(value) {
            throw ConfigurationError(
                keyPath: key, value: String(value), problem: "must be in \(range.lowerBound)...\(range.upperBound)")
        }
        let room = maxFrameBytes - ClusterConfiguration.frameOverhead(maxAttributes: maxAttributesPerSession)
        if maxSessionBytes > room {
            throw ConfigurationError(
                keyPath: "maxSessionBytes", value: String(maxSessionBytes),
                problem: "does not fit in one replication frame: at most \(room) bytes with maxFrameBytes "
                    + "\(maxFrameBytes) and maxAttributesPerSession \(maxAttributesPerSession)")
        }
    }
}
