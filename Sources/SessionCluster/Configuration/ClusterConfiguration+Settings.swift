extension ClusterConfiguration {
    /// The core's membership settings for this cluster: heartbeat, suspect and dead timeouts (defaults resolved),
    /// multicast on or off, the seeds as `host:port` strings, and the file's node names as the expected members.
    ///
    /// `deadRetentionMillis` keeps its one-minute default unless `deadAfterMillis` is longer, in which case it
    /// follows it (the core requires retention ≥ dead timeout, and no configuration key sets it).
    public func membershipSettings() -> MembershipSettings {
        var settings = MembershipSettings()
        settings.protocolKind = membership.protocolKind
        settings.heartbeatMillis = membership.heartbeatMillis
        settings.suspectAfterMillis = membership.effectiveSuspectAfterMillis
        settings.deadAfterMillis = membership.effectiveDeadAfterMillis
        settings.deadRetentionMillis = max(settings.deadRetentionMillis, settings.deadAfterMillis)
        settings.multicast = membership.multicast != nil
        settings.seeds = membership.seeds.map(\.description)
        settings.expectedMembers = nodes.map(\.name)
        return settings
    }

    /// The core's replication settings for this cluster: mode, acknowledgement, copies, the default max inactive
    /// interval and the clock drift bound; every other tunable keeps the core's default.
    public func replicationSettings() -> ReplicationSettings {
        var settings = ReplicationSettings(mode: replication.mode, ack: replication.ack)
        settings.copies = replication.copies
        settings.defaultMaxInactiveSeconds = sessions.maxInactiveSeconds
        settings.maxClockDriftMillis = Int64(replication.maxClockDriftMillis)
        settings.syncAckTimeoutMillis = Int64(replication.syncAckTimeoutMillis)
        return settings
    }
}
