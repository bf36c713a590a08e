#if canImport(Glibc)
    import Glibc
#endif

/// The process's limit on open descriptors, and the connection caps that fit in it.
///
/// Every HTTP or Redis connection, replication link, listener and open file takes a descriptor. A node whose caps
/// exceed its limit runs out at the limit instead: `accept` fails for everyone, and idle connections of one front
/// end can lock out the other's clients. So the node raises its soft limit to the hard one at start, and when even
/// that is short, lowers the caps to fit (like Redis lowers `maxclients`) and says so.
enum DescriptorLimit {
    /// Raises the soft `RLIMIT_NOFILE` to the hard limit (at most 1,048,576); returns the limit in effect and the
    /// one before, nil when it cannot be read.
    static func raiseToHard() -> (now: Int, before: Int)? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        let before = Int(clamping: limit.rlim_cur)
        let wanted = min(limit.rlim_max, 1 << 20)
        if wanted > limit.rlim_cur {
            var raised = limit
            raised.rlim_cur = wanted
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return (Int(wanted), before) }
        }
        return (before, before)
    }

    /// The caps that fit in `limit` descriptors once `reserve` are set aside: unchanged when they fit, else both
    /// lowered in proportion (each at least 1).
    static func fit(limit: Int, reserve: Int, http: Int, redis: Int?) -> (http: Int, redis: Int?) {
        let wanted = http + (redis ?? 0)
        let available = max(2, limit - reserve)
        guard wanted > available else { return (http, redis) }
        guard let redis else { return (available, nil) }
        let httpShare = max(1, min(available - 1, available * http / wanted))
        return (httpShare, max(1, min(redis, available - httpShare)))
    }
}
