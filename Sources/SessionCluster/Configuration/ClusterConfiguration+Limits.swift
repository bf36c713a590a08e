extension ClusterConfiguration {
    /// The `limits` section: what one node lets clients and peers hold, and how long it waits for them. Every key
    /// is optional; the defaults are the values the node used before the section existed (new caps: sensible
    /// bounds where there were none).
    ///
    /// ```json
    /// "limits": {
    ///   "tickMillis": 50,
    ///   "http": { "maxConnections": 1024, "headerTimeoutMillis": 10000, "bodyTimeoutMillis": 30000,
    ///             "idleTimeoutMillis": 60000, "maxHeaderBytes": 32768, "maxBodyBytes": 1048576 },
    ///   "replication": { "maxFrameBytes": 16777216, "maxQueuedBytesPerPeer": 67108864,
    ///                    "helloTimeoutMillis": 5000, "maxInboundLinks": 256 }
    /// }
    /// ```
    public struct Limits: Sendable, Equatable {
        /// How often the protocol's timers are checked, in ms (1–1000). Default 50.
        public var tickMillis: Int64 = 50
        /// `limits.http`.
        public var http = HTTP()
        /// `limits.replication`.
        public var replication = Replication()

        /// The defaults above.
        public init() {}

        /// `limits.http`: the HTTP front end of `session-node`.
        public struct HTTP: Sendable, Equatable {
            /// Most open client connections (1–1,000,000); at the cap the longest-idle keep-alive connection
            /// makes room, and only when none is idle is a newcomer answered 503. Default 1,024.
            public var maxConnections = 1_024
            /// Time to receive a request head from its first byte, in ms (100–3,600,000). Then 408. Default 10,000.
            public var headerTimeoutMillis: Int64 = 10_000
            /// Time to receive a body once its head arrived, in ms (100–3,600,000). Then 408. Default 30,000.
            public var bodyTimeoutMillis: Int64 = 30_000
            /// Time a keep-alive connection may idle between requests, in ms (100–3,600,000). Default 60,000.
            public var idleTimeoutMillis: Int64 = 60_000
            /// All header lines of one request, in bytes (1 KiB–1 MiB). Beyond: 431. Default 32 KiB.
            public var maxHeaderBytes = 32 * 1024
            /// Largest request body, in bytes (0–64 MiB). Beyond: 413. Default 1 MiB.
            public var maxBodyBytes = 1024 * 1024

            /// The defaults above.
            public init() {}
        }

        /// `limits.replication`: peer links.
        public struct Replication: Sendable, Equatable {
            /// Largest frame accepted from or sent to a peer, in bytes (64 KiB–1 GiB). Default 16 MiB. A session
            /// must fit in one: see `sessions.maxSessionBytes`.
            public var maxFrameBytes = 16 << 20
            /// Bytes queued to one slow peer before its link is reset (at least `maxFrameBytes`, at most 4 GiB).
            /// Default 64 MiB.
            public var maxQueuedBytesPerPeer = 64 << 20
            /// Time an inbound link has to present an authentic hello, in ms (100–600,000). Default 5,000.
            public var helloTimeoutMillis: Int64 = 5_000
            /// Most inbound replication links open at once (1–65,536); more are closed at once. Default 256.
            public var maxInboundLinks = 256

            /// The defaults above.
            public init() {}
        }
    }

    /// Room a session needs in a frame beyond its names and values: per attribute its length prefixes and stamp
    /// (at most ~40 bytes; 64 counted), and per session its id, times, version vector and the frame's header.
    static func frameOverhead(maxAttributes: Int) -> Int { 64 * 1024 + 64 * max(0, maxAttributes) }

    static func decodeLimits(_ section: ConfigurationObject, into limits: inout Limits) throws(ConfigurationError) {
        if let millis = try section.integer("tickMillis") { limits.tickMillis = millis }
        if let http = try section.object(
            "http",
            keys: [
                "maxConnections", "headerTimeoutMillis", "bodyTimeoutMillis", "idleTimeoutMillis", "maxHeaderBytes",
                "maxBodyBytes",
            ])
        {
            if let value = try http.integer("maxConnections") { limits.http.maxConnections = Int(clamping: value) }
            if let value = try http.integer("headerTimeoutMillis") { limits.http.headerTimeoutMillis = value }
            if let value = try http.integer("bodyTimeoutMillis") { limits.http.bodyTimeoutMillis = value }
            if let value = try http.integer("idleTimeoutMillis") { limits.http.idleTimeoutMillis = value }
            if let value = try http.integer("maxHeaderBytes") { limits.http.maxHeaderBytes = Int(clamping: value) }
            if let value = try http.integer("maxBodyBytes") { limits.http.maxBodyBytes = Int(clamping: value) }
        }
        if let replication = try section.object(
            "replication", keys: ["maxFrameBytes", "maxQueuedBytesPerPeer", "helloTimeoutMillis", "maxInboundLinks"])
        {
            if let value = try replication.integer("maxFrameBytes") {
                limits.replication.maxFrameBytes = Int(clamping: value)
            }
            if let value = try replication.integer("maxQueuedBytesPerPeer") {
                limits.replication.maxQueuedBytesPerPeer = Int(clamping: value)
            }
            if let value = try replication.integer("helloTimeoutMillis") {
                limits.replication.helloTimeoutMillis = value
            }
            if let value = try replication.integer("maxInboundLinks") {
                limits.replication.maxInboundLinks = Int(clamping: value)
            }
        }
    }

    func validateLimits() throws(ConfigurationError) {
        let http = limits.http
        let replication = limits.replication
        let ranges: [(String, Int64, ClosedRange<Int64>)] = [
            ("limits.tickMillis", limits.tickMillis, 1...1_000),
            ("limits.http.maxConnections", Int64(http.maxConnections), 1...1_000_000),
            ("limits.http.headerTimeoutMillis", http.headerTimeoutMillis, 100...3_600_000),
            ("limits.http.bodyTimeoutMillis", http.bodyTimeoutMillis, 100...3_600_000),
            ("limits.http.idleTimeoutMillis", http.idleTimeoutMillis, 100...3_600_000),
            ("limits.http.maxHeaderBytes", Int64(http.maxHeaderBytes), 1_024...(1 << 20)),
            ("limits.http.maxBodyBytes", Int64(http.maxBodyBytes), 0...(64 << 20)),
            ("limits.replication.maxFrameBytes", Int64(replication.maxFrameBytes), (64 << 10)...(1 << 30)),
            (
                "limits.replication.maxQueuedBytesPerPeer", Int64(replication.maxQueuedBytesPerPeer),
                Int64(replication.maxFrameBytes)...(4 << 30)
            ),
            ("limits.replication.helloTimeoutMillis", replication.helloTimeoutMillis, 100...600_000),
            ("limits.replication.maxInboundLinks", Int64(replication.maxInboundLinks), 1...65_536),
        ]
        for (key, value, range) in ranges where !range.contains(value) {
            throw ConfigurationError(
                keyPath: key, value: String(value), problem: "must be in \(range.lowerBound)...\(range.upperBound)")
        }
        let room = replication.maxFrameBytes - Self.frameOverhead(maxAttributes: sessions.maxAttributes)
        if sessions.maxSessionBytes > room {
            throw ConfigurationError(
                keyPath: "sessions.maxSessionBytes", value: String(sessions.maxSessionBytes),
                problem: "does not fit in one replication frame: at most \(room) bytes with "
                    + "limits.replication.maxFrameBytes \(replication.maxFrameBytes) and sessions.maxAttributes "
                    + "\(sessions.maxAttributes) (64 KiB + 64 bytes per attribute of framing); a larger session "
                    + "could never be replicated")
        }
    }
}
