import SessionClusterCore

extension ClusterNodeSettings {
    /// The settings of node `name` of a cluster file. Nil when the file has no such node.
    public init?(configuration: ClusterConfiguration, node name: String) {
        guard let entry = configuration.node(named: name) else { return nil }
        self.init(cluster: configuration.cluster, name: name)
        secret = configuration.secret
        keyring = try? configuration.keyring()
        replicationHost = entry.replication.host
        replicationPort = entry.replication.port
        httpAddress = entry.http.description
        if let multicast = configuration.membership.multicast {
            self.multicast = MulticastSettings(
                group: multicast.group, port: multicast.port, interface: multicast.interface)
        }
        maxAttributesPerSession = configuration.sessions.maxAttributes
        maxSessionBytes = configuration.sessions.maxSessionBytes
        maxSessions = configuration.sessions.maxSessions
        lagSampleMillis = Int64(configuration.replication.lagSampleMillis)
        tickMillis = configuration.limits.tickMillis
        loops = configuration.loops
        maxFrameBytes = configuration.limits.replication.maxFrameBytes
        maxQueuedBytesPerPeer = configuration.limits.replication.maxQueuedBytesPerPeer
        helloTimeoutMillis = configuration.limits.replication.helloTimeoutMillis
        maxInboundLinks = configuration.limits.replication.maxInboundLinks
        membership = configuration.membershipSettings()
        replication = configuration.replicationSettings()
        persistence = configuration.persistence.map {
            var settings = PersistenceSettings(directory: $0.directory, mode: $0.mode, fsync: $0.fsync)
            settings.compactionMinimumBytes = $0.compactionMinimumBytes
            return settings
        }
    }
}
