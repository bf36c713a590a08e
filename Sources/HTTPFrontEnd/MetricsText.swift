import SessionCluster

/// Node figures as JSON fields and as Prometheus text.
enum MetricsText {
    /// (name, value) pairs shared by `/cluster/stats` and `/metrics`.
    static func fields(_ stats: NodeStats) -> [(name: String, value: Int)] {
        let counters = stats.replication
        return [
            ("sessions", stats.sessions), ("sessions_emptied", stats.emptied), ("primaries", stats.primaries),
            ("copies", stats.copies),
            ("commits", counters.commits), ("deltas_sent", counters.deltasSent),
            ("deltas_applied", counters.deltasApplied), ("duplicates", counters.duplicates),
            ("gaps_held", counters.gapsHeld), ("fetches_sent", counters.fetchesSent),
            ("snapshots_sent", counters.snapshotsSent), ("snapshots_merged", counters.snapshotsMerged),
            ("concurrent_merges", counters.concurrentMerges), ("conflicts", counters.conflicts),
            ("sessions_expired", counters.sessionsExpired), ("tombstones_purged", counters.tombstonesPurged),
            ("empty_purged", counters.emptyPurged), ("writes_lost", counters.writesLost),
            ("sessions_lost", counters.sessionsLost), ("sync_acknowledged", counters.syncAcknowledged),
            ("sync_timed_out", counters.syncTimedOut), ("takeovers", counters.takeovers),
            ("promotions", counters.promotions), ("backups_moved", counters.backupsMoved),
            ("transfers_completed", counters.transfersCompleted), ("frames_received", stats.framesReceived),
            ("frames_sent", stats.framesSent), ("bytes_sent", stats.bytesSent),
            ("malformed_dropped", stats.malformedDropped), ("links_refused", stats.linksRefused),
            ("links_overflowed", stats.linksOverflowed), ("links_inbound", stats.inboundLinks),
            ("links_timed_out", stats.linksTimedOut),
            ("links_rejected", stats.linksRejected), ("replication_accept_errors", stats.acceptErrors),
            ("log_records_dropped", stats.logRecordsDropped),
            ("dropped_malformed", stats.dropped["malformed", default: 0]),
            ("dropped_unknown_key", stats.dropped["unknownKey", default: 0]),
            ("dropped_unauthenticated", stats.dropped["unauthenticated", default: 0]),
            ("dropped_replayed", stats.dropped["replayed", default: 0]),
            ("dropped_stale", stats.dropped["stale", default: 0]),
            ("tokens_rejected", stats.tokensRejected), ("clock_ahead_rejected", counters.clockAheadRejected),
            ("clock_ms", Int(stats.clockMillis)), ("hlc_ms", Int(stats.hlcMillis)),
            ("lag_stamps_sent", stats.replicationLag.stampsSent), ("lag_samples", stats.replicationLag.count),
            ("lag_max_us", stats.replicationLag.maxMicros),
            ("lag_recent_p50_us", stats.replicationLag.recentPercentile(0.5) ?? 0),
            ("lag_recent_p99_us", stats.replicationLag.recentPercentile(0.99) ?? 0),
            ("loop_turns", stats.loopTurns.count), ("loop_turn_max_us", stats.loopTurns.maxMicros),
            ("loop_turn_max_ms", stats.loopTurns.maxMicros / 1_000),
            ("snapshot_last_ms", Int(stats.persistence.lastSnapshotMillis)),
            ("snapshot_bytes", stats.persistence.snapshotBytes),
            ("snapshot_sessions_written", stats.persistence.sessionsWritten),
            ("snapshot_sessions_restored", stats.persistence.sessionsRestored),
            ("snapshot_sessions_expired", stats.persistence.sessionsExpired),
            ("snapshot_records_skipped", stats.persistence.recordsSkipped),
            ("snapshot_load_ms", Int(stats.persistence.loadMillis)),
            ("snapshot_write_failures", stats.persistence.writeFailures),
            ("log_bytes", stats.persistence.logBytes), ("log_records_appended", stats.persistence.logRecordsAppended),
            ("log_sessions_appended", stats.persistence.logSessionsAppended),
            ("log_write_failures", stats.persistence.logWriteFailures),
            ("log_writer_waits", stats.persistence.logWriterWaits),
            ("log_writer_lag_ms", Int(stats.persistence.logWriterLagMillis)),
            ("log_writer_lag_max_ms", Int(stats.persistence.logWriterLagMaxMillis)),
            ("log_fsyncs", stats.persistence.fsyncLatency.count),
            ("log_fsync_max_us", stats.persistence.fsyncLatency.maxMicros),
            ("log_compactions", stats.persistence.compactions),
            ("log_compaction_failures", stats.persistence.compactionFailures),
            ("log_last_compaction_ms", Int(stats.persistence.lastCompactionMillis)),
            ("log_sessions_replayed", stats.persistence.logSessionsReplayed),
            ("log_records_skipped", stats.persistence.logRecordsSkipped),
            ("log_torn_tails", stats.persistence.logTornTails),
            ("members_alive", stats.membership.alive), ("members_suspect", stats.membership.suspect),
            ("members_dead", stats.membership.dead), ("members_left", stats.membership.left),
            ("swim_probes", stats.membership.probes), ("swim_indirect_probes", stats.membership.indirectProbes),
            ("swim_probes_failed", stats.membership.probesFailed),
            ("swim_refutations", stats.membership.refutations), ("swim_local_health", stats.membership.localHealth),
        ] + turnBuckets(stats.loopTurns) + turnBuckets(stats.persistence.fsyncLatency, prefix: "log_fsync")
    }

    /// The loop-turn histogram as JSON fields, one per bucket, not cumulative: `loop_turn_le_100us`, …,
    /// `loop_turn_over_100000us`.
    /// The same for the log's fsync latencies with `prefix` `log_fsync`: `log_fsync_le_100us`, ….
    static func turnBuckets(_ turns: LoopTurnStats, prefix: String = "loop_turn") -> [(name: String, value: Int)] {
        turns.buckets.enumerated().map { index, count in
            index < LoopTurnStats.bounds.count
                ? ("\(prefix)_le_\(LoopTurnStats.bounds[index])us", count)
                : ("\(prefix)_over_\(LoopTurnStats.bounds.last!)us", count)
        }
    }

    static func prometheus(_ stats: NodeStats, node: String, server: HTTPServerStats? = nil) -> String {
        var text = ""
        for (name, value) in fields(stats) + (server?.fields ?? []) {
            let metric = "sessioncluster_\(name)"
            if name.hasPrefix("loop_turn_le_") || name.hasPrefix("loop_turn_over_") { continue }  // histogram below
            if name.hasPrefix("log_fsync_le_") || name.hasPrefix("log_fsync_over_") { continue }
            let gauge = [
                "sessions", "sessions_emptied", "primaries", "copies", "lag_max_us", "lag_recent_p50_us",
                "lag_recent_p99_us", "clock_ms", "hlc_ms", "loop_turn_max_us", "loop_turn_max_ms",
                "http_connections_open", "links_inbound",
                "snapshot_last_ms", "snapshot_bytes", "snapshot_sessions_written", "snapshot_sessions_restored",
                "snapshot_sessions_expired", "snapshot_records_skipped", "snapshot_load_ms", "log_bytes",
                "log_fsync_max_us", "log_last_compaction_ms", "log_sessions_replayed", "log_records_skipped",
                "log_torn_tails", "log_writer_lag_ms", "log_writer_lag_max_ms", "members_alive", "members_suspect",
                "members_dead", "members_left", "swim_local_health",
            ].contains(name)
            text += "# TYPE \(metric) \(gauge ? "gauge" : "counter")\n\(metric){node=\"\(node)\"} \(value)\n"
        }
        let lag = stats.replicationLag
        text += histogram(
            "sessioncluster_replication_lag_seconds", node: node, buckets: lag.buckets, bounds: ReplicationLag.bounds,
            sumMicros: lag.sumMicros, count: lag.count)
        let turns = stats.loopTurns
        text += histogram(
            "sessioncluster_loop_turn_seconds", node: node, buckets: turns.buckets, bounds: LoopTurnStats.bounds,
            sumMicros: turns.sumMicros, count: turns.count)
        let fsyncs = stats.persistence.fsyncLatency
        text += histogram(
            "sessioncluster_log_fsync_seconds", node: node, buckets: fsyncs.buckets, bounds: LoopTurnStats.bounds,
            sumMicros: fsyncs.sumMicros, count: fsyncs.count)
        return text
    }

    /// A Prometheus histogram in seconds from per-bucket counts whose upper bounds are `bounds` microseconds (the
    /// last bucket, past every bound, is `+Inf`).
    static func histogram(
        _ metric: String, node: String, buckets: [Int], bounds: [Int], sumMicros: Int, count: Int
    ) -> String {
        var text = "# TYPE \(metric) histogram\n"
        var cumulative = 0
        for (index, inBucket) in buckets.enumerated() {
            cumulative += inBucket
            let bound = index < bounds.count ? seconds(bounds[index]) : "+Inf"
            text += "\(metric)_bucket{node=\"\(node)\",le=\"\(bound)\"} \(cumulative)\n"
        }
        text += "\(metric)_sum{node=\"\(node)\"} \(seconds(sumMicros))\n"
        return text + "\(metric)_count{node=\"\(node)\"} \(count)\n"
    }

    /// Microseconds as decimal seconds, exactly (`1500` → `0.0015`).
    static func seconds(_ micros: Int) -> String {
        let whole = micros / 1_000_000
        var fraction = String(micros % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
    }
}
