/// What a member says about itself: identity and where to reach it.
public struct MemberInfo: Hashable, Sendable, CustomStringConvertible {
    /// This incarnation's id.
    public var id: NodeID
    /// The configured node name (`n1`); stable across restarts, unlike `id`.
    public var name: String
    /// `host:port` of the replication (TCP) endpoint.
    public var replication: String
    /// `host:port` of the HTTP endpoint (empty when the embedder has none).
    public var http: String

    /// A member: its id, name, replication address (`host:port`) and HTTP address (informational).
    public init(id: NodeID, name: String, replication: String, http: String) {
        self.id = id
        self.name = name
        self.replication = replication
        self.http = http
    }

    public var description: String { "\(name)(\(id))" }
}

/// A member's state as the membership protocol sees it.
public enum MemberStatus: UInt8, Hashable, Sendable, CustomStringConvertible {
    case alive = 1
    case suspect = 2
    case leaving = 3
    case dead = 4

    public var description: String {
        switch self {
        case .alive: "alive"
        case .suspect: "suspect"
        case .leaving: "leaving"
        case .dead: "dead"
        }
    }
}

/// One member as gossiped in a beacon.
package struct GossipEntry: Hashable, Sendable {
    package var member: MemberInfo
    package var status: MemberStatus

    package init(member: MemberInfo, status: MemberStatus) {
        self.member = member
        self.status = status
    }
}

/// The periodic membership datagram (multicast, and unicast to seeds and known members).
package struct Beacon: Hashable, Sendable {
    /// The cluster name; beacons of other clusters are ignored.
    package var cluster: String
    /// The sender's number of shards (its `loops`). Shard k replicates only with shard k of each peer, so a node
    /// with another number cannot take part: its beacons are ignored like another cluster's.
    package var shards: Int
    package var sender: MemberInfo
    /// `.alive`, or `.leaving` on graceful stop.
    package var status: MemberStatus
    /// Increases with every beacon of this incarnation; lets receivers ignore stale or replayed ones.
    package var sequence: UInt64
    /// The members the sender currently sees (gossip): a node that missed multicast learns of others here.
    package var members: [GossipEntry]

    package init(
        cluster: String, shards: Int = 1, sender: MemberInfo, status: MemberStatus, sequence: UInt64,
        members: [GossipEntry]
    ) {
        self.cluster = cluster
        self.shards = shards
        self.sender = sender
        self.status = status
        self.sequence = sequence
        self.members = members
    }
}
