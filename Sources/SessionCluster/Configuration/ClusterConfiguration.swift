/// A cluster definition: its name and secret, how it replicates, how members find each other, how sessions look to
/// browsers, and the nodes that make it up. Read from a JSON file with `load(path:)` or `parse(_:)`.
///
/// The full file, with every default spelled out (only `cluster`, `secret` and `nodes` are required):
///
/// ```json
/// {
///   "cluster": "demo",
///   "secret": "at least 32 bytes, e.g. the output of: openssl rand -base64 33",
///   "replication": { "mode": "delta", "ack": "async" },
///   "membership": {
///     "protocol": "beacon",
///     "multicast": { "group": "239.255.77.1", "port": 47001, "interface": "127.0.0.1" },
///     "heartbeatMillis": 500,
///     "suspectAfterMillis": 1500,
///     "deadAfterMillis": 3000,
///     "seeds": []
///   },
///   "sessions": {
///     "maxInactiveSeconds": 1800,
///     "cookieName": "SESSIONID",
///     "routeSuffix": true,
///     "secureCookies": false
///   },
///   "limits": { "tickMillis": 50, "http": { … }, "replication": { … } },   (see `Limits`)
///   "redis": { "password": null, "maxClients": 10000 },
///   "loops": 1,   (event loops per node: each owns a shard of the sessions; every node runs the same number)
///   "persistence": null,   (or { "directory": "data", "mode": "snapshot", "fsync": "everysec" }: see `Persistence`)
///   "nodes": [
///     { "name": "n1", "replication": "127.0.0.1:47101", "http": "127.0.0.1:48101", "redis": "127.0.0.1:46101" }
///   ]
/// }
/// ```
///
/// The rules, checked once by `parse(_:)` (and by `validate()` for a configuration built in code):
///
/// - `cluster`: 1–64 characters of `A-Z a-z 0-9 . _ -`. Nodes of different clusters ignore each other.
/// - `secret`: at least 32 bytes; it keys the encryption and authentication of all cluster traffic.
/// - `replication.mode`: `delta` (every node holds every session) or `backup` (a primary and `copies − 1` backups);
///   `replication.ack`: `async` (the request returns at once) or `sync` (after peers acknowledged).
///   `replication.copies`: backup mode's copies per session, 2...8 (default 2); delta mode allows only 2.
/// - `membership.protocol`: `beacon` (every beacon carries the whole member list) or `swim` (probes and
///   piggybacked changes: per-node traffic independent of the cluster's size). Every node must run the same one.
/// - `membership.multicast`: `null` turns multicast beacons off (then list `seeds`). `group` is an IPv4 multicast
///   address (224.0.0.0–239.255.255.255), `interface` an IPv4 address, `port` 1–65535.
/// - `membership.heartbeatMillis`: 1–60000. `suspectAfterMillis` and `deadAfterMillis` default to 3× and 6× the
///   heartbeat (either may be `null` for the default) and must grow: heartbeat < suspect < dead ≤ 3600000.
/// - `membership.seeds`: `host:port` replication endpoints that beacons are also unicast to.
/// - `sessions.maxInactiveSeconds`: 1–31536000 (a year). `cookieName`: an RFC 6265 token; a `__Secure-` or
///   `__Host-` name requires `secureCookies: true`, or browsers drop the cookie.
/// - `limits`: see `Limits` for each key's range; `sessions.maxSessionBytes` must fit in one
///   `limits.replication.maxFrameBytes` frame with room for framing (64 KiB + 64 bytes per `maxAttributes`).
/// - `nodes`: at least one; `name` 1–64 characters of `A-Z a-z 0-9 _ -`, unique (it is the session id's route
///   suffix); every `replication`, `http` and `redis` endpoint distinct from every other (`localhost` counts as
///   `127.0.0.1`). `redis` (optional) is where the node speaks the Redis protocol.
/// - `redis.maxClients`: 1–1,000,000 connections per node (default 10,000).
/// - `redis.password`: a string of 1–512 bytes, or null (none). A `redis` endpoint that is not on loopback requires
///   it: the Redis protocol carries no other credential.
/// - `persistence`: see `Persistence`; `directory` is required and non-empty.
/// - Endpoints are `host:port` with an IPv4 address or `localhost` as host and a port in 1–65535.
///
/// Any other key is an error naming its path, so a typo never silently falls back to a default. JSON is strict: no
/// comments, trailing commas or duplicate keys; at most 1 MiB.
public struct ClusterConfiguration: Sendable, Equatable {
    /// The cluster's name; beacons and frames of another cluster are ignored.
    public var cluster: String
    /// The shared secret all cluster traffic is encrypted and authenticated with. MUST NOT be logged.
    public var secret: String
    /// How committed changes travel.
    public var replication: Replication
    /// How members find each other and detect failures.
    public var membership: Membership
    /// How sessions appear to browsers.
    public var sessions: Sessions
    /// What one node lets clients and peers hold, and how long it waits for them (`limits`).
    public var limits = Limits()
    /// Every node of the cluster; a process runs as one of them (see `node(named:)`).
    public var nodes: [NodeEntry]
    /// The Redis-protocol front end's settings (the top-level `redis` section).
    public var redis = Redis()
    /// Where sessions are kept across a restart (the top-level `persistence` section); nil: in memory only.
    public var persistence: Persistence?
    /// Event loops (threads) each node runs, 1–64 (the top-level `loops`; `ClusterNodeSettings.loops`). The
    /// same for every node of the cluster, as it must be. Default 1.
    public var loops = 1

    /// The top-level `redis` section: what every node's `redis` endpoint requires of its clients.
    public struct Redis: Sendable, Equatable {
        /// When set, clients must `AUTH` (or `HELLO 3 AUTH default <password>`) first. Required for a `redis`
        /// endpoint that is not on loopback. MUST NOT be logged.
        public var password: String?
        /// The most Redis connections a node holds at once (`maxclients`), 1–1,000,000; at the cap the idlest makes
        /// room or the newcomer gets `max number of clients reached`. Default 10,000.
        public var maxClients = 10_000

        /// The Redis front end, with `requirepass` when `password` is given.
        public init(password: String? = nil, maxClients: Int = 10_000) {
            self.password = password
            self.maxClients = maxClients
        }
    }

    /// Further cluster keys by id (2…255), for rotation without downtime; `secret` is key 1.
    public var keys: [UInt8: String] = [:]
    /// The key that seals traffic (1 = `secret`). Every installed key opens it.
    public var currentKey: UInt8 = 1

    /// The keyring the file describes: `secret` as key 1, `keys`, sealing with `currentKey`.
    public func keyring() throws(KeyringError) -> Keyring {
        var keyring = try Keyring(secret: secret)
        for (id, secret) in keys.sorted(by: { $0.key < $1.key }) { try keyring.install(secret, id: id) }
        try keyring.use(currentKey)
        return keyring
    }

    /// Whether `other` describes this cluster but for its keys (`secret`, `keys`, `currentKey`) — the part a running
    /// node can reload (SIGHUP); any other difference needs a restart.
    public func equalsIgnoringKeys(_ other: ClusterConfiguration) -> Bool {
        func withoutKeys(_ configuration: ClusterConfiguration) -> ClusterConfiguration {
            var stripped = configuration
            stripped.secret = ""
            stripped.keys = [:]
            stripped.currentKey = 1
            return stripped
        }
        return withoutKeys(self) == withoutKeys(other)
    }

    /// A configuration with the required parts given and every section at its defaults. Not yet validated.
    public init(
        cluster: String, secret: String, nodes: [NodeEntry], replication: Replication = Replication(),
        membership: Membership = Membership(), sessions: Sessions = Sessions()
    ) {
        self.cluster = cluster
        self.secret = secret
        self.nodes = nodes
        self.replication = replication
        self.membership = membership
        self.sessions = sessions
    }

    /// The node called `name`, or nil when the cluster has none by that name.
    public func node(named name: String) -> NodeEntry? {
        nodes.first { $0.name == name }
    }

    /// The `replication` section.
    public struct Replication: Sendable, Equatable {
        /// `delta` (default: every node holds every session) or `backup` (a primary and `copies − 1` backups per
        /// session).
        public var mode: ReplicationMode = .delta
        /// `async` (default: the request returns at once) or `sync` (after the backup / all peers acknowledged).
        public var ack: AckMode = .async
        /// Backup mode: copies of each session, the primary's included (2...8; default 2, Tomcat's BackupManager).
        /// In `sync` mode `copies − 1` nodes may fail at once without losing an acknowledged write. Delta mode
        /// keeps a copy on every node: any other value than 2 there is an error.
        public var copies = 2
        /// Stamp a replication frame with the sender's clock at most this often per link (ms; 0 = off, the
        /// default), so receivers measure replication lag (`/metrics`, `/cluster/stats`). Meaningful only when
        /// the nodes' clocks agree (one host, or PTP-synchronised hosts).
        public var lagSampleMillis = 0
        /// How far (ms) a peer's stamps may run ahead of this node's clock before its changes are refused and
        /// counted (`clock_ahead_rejected`): a node with a wrong clock must not drag every node's clock along.
        /// 100...86,400,000; default 60,000.
        public var maxClockDriftMillis = 60_000
        /// `sync` mode: how long (ms) a commit waits for the peers' acknowledgements before it is answered as not
        /// acknowledged (HTTP 503, RESP `-NOREPLICAS`). 1...600,000; default 2,000.
        public var syncAckTimeoutMillis = 2_000

        /// The defaults: delta replication, asynchronous acknowledgement.
        public init() {}
    }

    /// The `membership` section.
    public struct Membership: Sendable, Equatable {
        /// `"beacon"` (the default) or `"swim"`: see `MembershipProtocol`. Every node of a cluster must run the same.
        public var protocolKind: MembershipProtocol = .beacon
        /// Where multicast beacons go; nil (`"multicast": null`) turns multicast off, leaving `seeds` and gossip.
        public var multicast: Multicast? = Multicast()
        /// Interval between beacons, in ms. 500 ms is Tomcat's default.
        public var heartbeatMillis: Int64 = 500
        /// Silence (ms) after which a member is suspect; nil means 3 × `heartbeatMillis`.
        public var suspectAfterMillis: Int64?
        /// Silence (ms) after which a member is dead; nil means 6 × `heartbeatMillis`.
        public var deadAfterMillis: Int64?
        /// Replication endpoints beacons are always unicast to, for networks without multicast. Empty by default.
        public var seeds: [Endpoint] = []

        /// The defaults: multicast on 239.255.77.1:47001 via 127.0.0.1, 500 ms heartbeat, no seeds.
        public init() {}

        /// `suspectAfterMillis`, or its default of three missed heartbeats.
        public var effectiveSuspectAfterMillis: Int64 { suspectAfterMillis ?? Self.saturating(heartbeatMillis, 3) }
        /// `deadAfterMillis`, or its default of six missed heartbeats.
        public var effectiveDeadAfterMillis: Int64 { deadAfterMillis ?? Self.saturating(heartbeatMillis, 6) }

        private static func saturating(_ value: Int64, _ factor: Int64) -> Int64 {
            let (product, overflow) = value.multipliedReportingOverflow(by: factor)
            return overflow ? (value < 0 ? .min : .max) : product
        }
    }

    /// The `membership.multicast` object.
    public struct Multicast: Sendable, Equatable {
        /// IPv4 multicast group beacons are sent to; 239.255.0.0/16 is the organisation-local scope.
        public var group: String = "239.255.77.1"
        /// UDP port of the group.
        public var port: UInt16 = 47_001
        /// IPv4 address of the interface beacons leave by; 127.0.0.1 keeps a local cluster off the network.
        public var interface: String = "127.0.0.1"

        /// The defaults: 239.255.77.1:47001 on 127.0.0.1.
        public init() {}
    }

    /// The `sessions` section.
    public struct Sessions: Sendable, Equatable {
        /// Max inactive interval of new sessions, in seconds. 1800 s is the servlet default.
        public var maxInactiveSeconds: Int64 = 1_800
        /// Name of the session-id cookie. `SESSIONID` avoids advertising the stack (`JSESSIONID`).
        public var cookieName: String = "SESSIONID"
        /// Name of the cookie the HTTP front end keeps the version token in; `cookieName` MUST differ from it.
        public static let versionCookieName = "SESSIONVERSION"
        /// Whether session ids carry a `.<node name>` suffix a sticky load balancer can route on.
        public var routeSuffix: Bool = true
        /// Whether cookies get the `Secure` attribute. Off by default so plain-HTTP local clusters work;
        /// turn it on behind TLS.
        public var secureCookies: Bool = false
        /// Most attributes per session (HTTP 413 beyond).
        public var maxAttributes: Int = 256
        /// Most bytes of names and values per session (HTTP 413 beyond).
        public var maxSessionBytes: Int = 256 * 1024
        /// Most live sessions per node (HTTP 503 + Retry-After beyond; nothing is evicted).
        public var maxSessions: Int = 1_000_000

        /// The defaults: 1800 s, `SESSIONID`, route suffix on, no `Secure` attribute.
        public init() {}
    }

    /// One entry of `nodes`.
    public struct NodeEntry: Sendable, Equatable {
        /// The node's name, unique in the cluster; also the route suffix of the session ids it creates.
        public var name: String
        /// Where the node accepts peer links (TCP) and unicast beacons.
        public var replication: Endpoint
        /// Where the node serves HTTP.
        public var http: Endpoint
        /// Where the node speaks the Redis protocol (RESP2/RESP3); nil: not at all.
        public var redis: Endpoint?

        /// A node entry; not validated until the configuration is.
        public init(name: String, replication: Endpoint, http: Endpoint, redis: Endpoint? = nil) {
            self.name = name
            self.replication = replication
            self.http = http
            self.redis = redis
        }

        /// The node's endpoints with their keys: each must be distinct from every other node's.
        var endpoints: [(key: String, endpoint: Endpoint)] {
            [("replication", replication), ("http", http)] + (redis.map { [("redis", $0)] } ?? [])
        }
    }
}

extension ClusterConfiguration: CustomStringConvertible {
    /// A one-line summary with the secret left out, so logging a configuration cannot leak it.
    public var description: String {
        let multicast = membership.multicast.map { "\($0.group):\($0.port)" } ?? "off"
        return "ClusterConfiguration(cluster: \(JSONValue.quoted(cluster)), replication: "
            + "\(replication.mode.rawValue)/\(replication.ack.rawValue)"
            + (replication.copies != 2 ? "/\(replication.copies) copies" : "") + ", multicast: \(multicast), "
            + (membership.protocolKind == .beacon ? "" : "membership: \(membership.protocolKind.rawValue), ")
            + "seeds: \(membership.seeds.count), nodes: \(nodes.map(\.name).joined(separator: ", ")), "
            + "secret: <\(secret.utf8.count) bytes, redacted>)"
    }
}
