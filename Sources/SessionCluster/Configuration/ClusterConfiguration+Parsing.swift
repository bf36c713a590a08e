extension ClusterConfiguration {
    /// Parses and validates a configuration from the UTF-8 bytes of a JSON document.
    ///
    /// Throws for malformed JSON (with line and column), for any unknown key, for a missing required key, and for
    /// any value of the wrong type or out of range (naming its key path and value). Never traps on any input.
    public static func parse(_ bytes: [UInt8]) throws(ConfigurationError) -> ClusterConfiguration {
        let document: JSONValue
        do throws(JSONParseError) {
            document = try JSONParser.parse(bytes)
        } catch {
            throw ConfigurationError(syntax: error)
        }
        let configuration = try decode(document)
        try configuration.validate()
        return configuration
    }

    /// Reads the document's shape and types into a configuration; ranges and cross-field rules are `validate()`'s.
    private static func decode(_ document: JSONValue) throws(ConfigurationError) -> ClusterConfiguration {
        let root = try ConfigurationObject(
            document, at: "",
            keys: [
                "cluster", "secret", "keys", "currentKey", "replication", "membership", "sessions", "limits", "redis",
                "persistence", "nodes", "loops",
            ])
        guard let cluster = try root.string("cluster") else { throw missing(root, "cluster") }
        guard let secret = try root.string("secret", redacted: true) else { throw missing(root, "secret") }
        var configuration = ClusterConfiguration(cluster: cluster, secret: secret, nodes: [])
        for (value, path) in try root.array("keys") ?? [] {
            let entry = try ConfigurationObject(value, at: path, keys: ["id", "secret"])
            guard let id = try entry.integer("id") else { throw missing(entry, "id") }
            guard (2...255).contains(id) else {
                throw ConfigurationError(
                    keyPath: entry.keyPath("id"), value: String(id), problem: "must be in 2...255 (1 is secret)")
            }
            guard let keySecret = try entry.string("secret", redacted: true) else { throw missing(entry, "secret") }
            guard configuration.keys[UInt8(id)] == nil else {
                throw ConfigurationError(keyPath: entry.keyPath("id"), value: String(id), problem: "is listed twice")
            }
            configuration.keys[UInt8(id)] = keySecret
        }
        if let current = try root.integer("currentKey") {
            guard current == 1 || (2...255).contains(current) && configuration.keys[UInt8(current)] != nil else {
                throw ConfigurationError(
                    keyPath: "currentKey", value: String(current), problem: "is neither 1 (secret) nor an id in keys")
            }
            configuration.currentKey = UInt8(current)
        }
        if let section = try root.object(
            "replication",
            keys: ["mode", "ack", "copies", "lagSampleMillis", "maxClockDriftMillis", "syncAckTimeoutMillis"])
        {
            try decodeReplication(section, into: &configuration.replication)
        }
        if let section = try root.object(
            "membership",
            keys: ["protocol", "multicast", "heartbeatMillis", "suspectAfterMillis", "deadAfterMillis", "seeds"])
        {
            try decodeMembership(section, into: &configuration.membership)
        }
        if let section = try root.object(
            "sessions",
            keys: [
                "maxInactiveSeconds", "cookieName", "routeSuffix", "secureCookies", "maxAttributes", "maxSessionBytes",
                "maxSessions",
            ])
        {
            try decodeSessions(section, into: &configuration.sessions)
        }
        if let section = try root.object("limits", keys: ["tickMillis", "http", "replication"]) {
            try decodeLimits(section, into: &configuration.limits)
        }
        if let section = try root.object("redis", keys: ["password", "maxClients"]) {
            if section.value("password") != .null {
                configuration.redis.password = try section.string("password", redacted: true)
            }
            if let value = try section.integer("maxClients") { configuration.redis.maxClients = Int(clamping: value) }
        }
        if root.value("persistence") != .null,
            let section = try root.object(
                "persistence", keys: ["directory", "mode", "fsync", "compactionMinimumBytes"])
        {
            configuration.persistence = try decodePersistence(section)
        }
        if let loops = try root.integer("loops") { configuration.loops = Int(clamping: loops) }
        guard let nodes = try root.array("nodes") else { throw missing(root, "nodes") }
        for (value, path) in nodes {
            configuration.nodes.append(try decodeNode(value, at: path))
        }
        return configuration
    }

    private static func missing(_ object: ConfigurationObject, _ key: String) -> ConfigurationError {
        ConfigurationError(keyPath: object.keyPath(key), value: nil, problem: "is required but missing")
    }

    private static func decodeReplication(
        _ section: ConfigurationObject, into replication: inout Replication
    ) throws(ConfigurationError) {
        if let mode = try section.choice("mode", as: ReplicationMode.self) { replication.mode = mode }
        if let ack = try section.choice("ack", as: AckMode.self) { replication.ack = ack }
        if let copies = try section.integer("copies") { replication.copies = Int(clamping: copies) }
        if let millis = try section.integer("lagSampleMillis") { replication.lagSampleMillis = Int(clamping: millis) }
        if let millis = try section.integer("maxClockDriftMillis") {
            replication.maxClockDriftMillis = Int(clamping: millis)
        }
        if let millis = try section.integer("syncAckTimeoutMillis") {
            replication.syncAckTimeoutMillis = Int(clamping: millis)
        }
    }

    private static func decodeMembership(
        _ section: ConfigurationObject, into membership: inout Membership
    ) throws(ConfigurationError) {
        if let kind = try section.choice("protocol", as: MembershipProtocol.self) { membership.protocolKind = kind }
        switch section.value("multicast") {
        case nil: break
        case .null?: membership.multicast = nil
        case let value?:
            let object = try ConfigurationObject(
                value, at: section.keyPath("multicast"), keys: ["group", "port", "interface"])
            var multicast = Multicast()
            if let group = try object.string("group") { multicast.group = group }
            if let port = try object.port("port") { multicast.port = port }
            if let interface = try object.string("interface") { multicast.interface = interface }
            membership.multicast = multicast
        }
        if let heartbeat = try section.integer("heartbeatMillis") { membership.heartbeatMillis = heartbeat }
        // An explicit null asks for the default, like leaving the key out.
        if section.value("suspectAfterMillis") != .null {
            membership.suspectAfterMillis = try section.integer("suspectAfterMillis")
        }
        if section.value("deadAfterMillis") != .null {
            membership.deadAfterMillis = try section.integer("deadAfterMillis")
        }
        if let seeds = try section.array("seeds") {
            membership.seeds = []
            for (value, path) in seeds {
                membership.seeds.append(try ConfigurationObject.endpoint(value, at: path))
            }
        }
    }

    private static func decodeSessions(
        _ section: ConfigurationObject, into sessions: inout Sessions
    ) throws(ConfigurationError) {
        if let seconds = try section.integer("maxInactiveSeconds") { sessions.maxInactiveSeconds = seconds }
        if let name = try section.string("cookieName") { sessions.cookieName = name }
        if let flag = try section.bool("routeSuffix") { sessions.routeSuffix = flag }
        if let flag = try section.bool("secureCookies") { sessions.secureCookies = flag }
        if let count = try section.integer("maxAttributes") { sessions.maxAttributes = Int(clamping: count) }
        if let bytes = try section.integer("maxSessionBytes") { sessions.maxSessionBytes = Int(clamping: bytes) }
        if let count = try section.integer("maxSessions") { sessions.maxSessions = Int(clamping: count) }
    }

    private static func decodeNode(_ value: JSONValue, at path: String) throws(ConfigurationError) -> NodeEntry {
        let object = try ConfigurationObject(value, at: path, keys: ["name", "replication", "http", "redis"])
        guard let name = try object.string("name") else { throw missing(object, "name") }
        let replication = try ConfigurationObject.endpoint(
            try object.required("replication"), at: object.keyPath("replication"))
        let http = try ConfigurationObject.endpoint(try object.required("http"), at: object.keyPath("http"))
        var redis: Endpoint?
        if let value = object.value("redis"), value != .null {
            redis = try ConfigurationObject.endpoint(value, at: object.keyPath("redis"))
        }
        return NodeEntry(name: name, replication: replication, http: http, redis: redis)
    }
}
