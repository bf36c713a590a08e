extension ClusterConfiguration {
    /// Fewest bytes of secret accepted: 32 bytes is 256 bits, the AES-256 key size.
    static let minimumSecretBytes = 32
    /// Slowest heartbeat accepted, in ms: beyond a minute, failure detection takes longer than most HTTP timeouts.
    static let maximumHeartbeatMillis: Int64 = 60_000
    /// Longest explicit suspect or dead timeout accepted, in ms (an hour).
    static let maximumTimeoutMillis: Int64 = 3_600_000
    /// Longest default max inactive interval accepted, in seconds (a year); longer logins belong in a remember-me
    /// token, not in every node's memory.
    static let maximumInactiveSeconds: Int64 = 31_536_000

    /// Checks every rule of the file format (see the type's documentation), throwing for the first broken one with
    /// the key path and value. `parse(_:)` calls it; call it yourself for a configuration built in code.
    public func validate() throws(ConfigurationError) {
        try validateIdentity()
        for (id, secret) in keys where secret.utf8.count < 32 {
            throw ConfigurationError(
                keyPath: "keys[id \(id)].secret", value: "(\(secret.utf8.count) bytes, not shown)",
                problem: "must be at least 32 bytes (it keys AES-256-GCM for all cluster traffic)")
        }
        try validateMembership()
        try validateSessions()
        try validateLimits()
        guard (1...64).contains(loops) else {
            throw ConfigurationError(keyPath: "loops", value: String(loops), problem: "must be 1 to 64")
        }
        guard (1...1_000_000).contains(redis.maxClients) else {
            throw ConfigurationError(
                keyPath: "redis.maxClients", value: String(redis.maxClients), problem: "must be 1 to 1000000")
        }
        if let password = redis.password, !(1...512).contains(password.utf8.count) {
            throw ConfigurationError(
                keyPath: "redis.password", value: "(\(password.utf8.count) bytes, not shown)",
                problem: "must be 1 to 512 bytes (or null for none)")
        }
        try validatePersistence()
        try validateNodes()
        do throws(SettingsError) {
            try membershipSettings().validate()
            try replicationSettings().validate()
        } catch {
            throw Self.configurationError(from: error)
        }
    }

    private func validateIdentity() throws(ConfigurationError) {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-".unicodeScalars)
        guard (1...64).contains(cluster.unicodeScalars.count), cluster.unicodeScalars.allSatisfy(allowed.contains)
        else {
            throw ConfigurationError(
                keyPath: "cluster", value: JSONValue.quoted(cluster),
                problem: "must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
        }
        let length = secret.utf8.count
        guard length >= Self.minimumSecretBytes else {
            throw ConfigurationError(
                keyPath: "secret", value: "(\(length) bytes, not shown)",
                problem: "is too short: it must be at least \(Self.minimumSecretBytes) bytes, because it keys the "
                    + "AES-256-GCM encryption and authentication of all cluster traffic and a shorter secret can be "
                    + "guessed offline from one captured datagram (generate one with: openssl rand -base64 33)")
        }
    }

    private func validateMembership() throws(ConfigurationError) {
        if let multicast = membership.multicast {
            guard let group = IPv4Address(multicast.group), group.isMulticast else {
                throw ConfigurationError(
                    keyPath: "membership.multicast.group", value: JSONValue.quoted(multicast.group),
                    problem: "is not an IPv4 multicast address (224.0.0.0 to 239.255.255.255)")
            }
            guard IPv4Address(multicast.interface) != nil else {
                throw ConfigurationError(
                    keyPath: "membership.multicast.interface", value: JSONValue.quoted(multicast.interface),
                    problem: "is not an IPv4 address (like 127.0.0.1)")
            }
            guard multicast.port != 0 else {
                throw ConfigurationError(
                    keyPath: "membership.multicast.port", value: "0", problem: "is not a port in 1...65535")
            }
        }
        guard (1...Self.maximumHeartbeatMillis).contains(membership.heartbeatMillis) else {
            throw ConfigurationError(
                keyPath: "membership.heartbeatMillis", value: String(membership.heartbeatMillis),
                problem: "must be in 1...\(Self.maximumHeartbeatMillis) (milliseconds)")
        }
        let timeouts = [
            ("suspectAfterMillis", membership.suspectAfterMillis), ("deadAfterMillis", membership.deadAfterMillis),
        ]
        for case (let key, let millis?) in timeouts where millis > Self.maximumTimeoutMillis {
            throw ConfigurationError(
                keyPath: "membership.\(key)", value: String(millis),
                problem: "must be at most \(Self.maximumTimeoutMillis) (milliseconds, an hour)")
        }
        for (index, seed) in membership.seeds.enumerated() where !seed.isValid {
            throw ConfigurationError(
                keyPath: "membership.seeds[\(index)]", value: JSONValue.quoted(seed.description),
                problem: "is not an IPv4 address or localhost with a port in 1...65535")
        }
        if membership.multicast == nil && membership.seeds.isEmpty && nodes.count > 1 {
            throw ConfigurationError(
                keyPath: "membership.seeds", value: "[]",
                problem: "is empty while multicast is off (null): the nodes could never find each other; list one "
                    + "or two nodes' replication addresses as seeds, or turn multicast on")
        }
    }

    private func validateSessions() throws(ConfigurationError) {
        guard (1...Self.maximumInactiveSeconds).contains(sessions.maxInactiveSeconds) else {
            throw ConfigurationError(
                keyPath: "sessions.maxInactiveSeconds", value: String(sessions.maxInactiveSeconds),
                problem: "must be in 1...\(Self.maximumInactiveSeconds) (seconds)")
        }
        let limits: [(String, Int, ClosedRange<Int>)] = [
            ("sessions.maxAttributes", sessions.maxAttributes, 1...100_000),
            ("sessions.maxSessionBytes", sessions.maxSessionBytes, 1_024...(64 << 20)),
            ("sessions.maxSessions", sessions.maxSessions, 1...100_000_000),
            ("replication.lagSampleMillis", replication.lagSampleMillis, 0...3_600_000),
            ("replication.maxClockDriftMillis", replication.maxClockDriftMillis, 100...86_400_000),
            ("replication.syncAckTimeoutMillis", replication.syncAckTimeoutMillis, 1...600_000),
        ]
        for (key, value, range) in limits where !range.contains(value) {
            throw ConfigurationError(
                keyPath: key, value: String(value), problem: "must be in \(range.lowerBound)...\(range.upperBound)")
        }
        let name = sessions.cookieName
        guard !name.isEmpty, name.unicodeScalars.allSatisfy(Self.isCookieTokenCharacter) else {
            throw ConfigurationError(
                keyPath: "sessions.cookieName", value: JSONValue.quoted(name),
                problem: "is not a cookie name: use letters, digits and !#$%&'*+-.^_`|~ only (an RFC 6265 token)")
        }
        guard name != Sessions.versionCookieName else {
            throw ConfigurationError(
                keyPath: "sessions.cookieName", value: JSONValue.quoted(name),
                problem: "is the name of the version-token cookie: every login would overwrite its own id")
        }
        // Browsers match these prefixes case-insensitively and drop such a cookie unless it is Secure.
        let lowered = name.lowercased()
        if (lowered.hasPrefix("__secure-") || lowered.hasPrefix("__host-")) && !sessions.secureCookies {
            throw ConfigurationError(
                keyPath: "sessions.cookieName", value: JSONValue.quoted(name),
                problem: "needs sessions.secureCookies: true, or browsers drop a __Secure- or __Host- cookie")
        }
    }

    /// An RFC 6265 / RFC 2616 token character: visible ASCII except separators.
    private static func isCookieTokenCharacter(_ scalar: Unicode.Scalar) -> Bool {
        (0x21...0x7E).contains(scalar.value) && !"()<>@,;:\\\"/[]?={}".unicodeScalars.contains(scalar)
    }

    private func validateNodes() throws(ConfigurationError) {
        guard !nodes.isEmpty else {
            throw ConfigurationError(keyPath: "nodes", value: "[]", problem: "must list at least one node")
        }
        // Multicast confined to loopback means a one-machine cluster: a node endpoint elsewhere would make
        // cluster traffic leave the interface the file says it stays on.
        if let interface = membership.multicast?.interface, interface.hasPrefix("127.") {
            for (index, node) in nodes.enumerated() {
                for (kind, endpoint) in node.endpoints
                where !(endpoint.host.hasPrefix("127.") || endpoint.host == "localhost") {
                    throw ConfigurationError(
                        keyPath: "nodes[\(index)].\(kind)", value: JSONValue.quoted(endpoint.description),
                        problem: "is not on loopback, but membership.multicast.interface is \(interface): "
                            + "cluster traffic would leave the interface it is confined to")
                }
            }
        }
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-".unicodeScalars)
        var nameOwners: [String: Int] = [:]
        var endpointOwners: [Endpoint: String] = [:]
        for (index, node) in nodes.enumerated() {
            let path = "nodes[\(index)]"
            guard (1...64).contains(node.name.unicodeScalars.count),
                node.name.unicodeScalars.allSatisfy(allowed.contains)
            else {
                throw ConfigurationError(
                    keyPath: "\(path).name", value: JSONValue.quoted(node.name),
                    problem: "must be 1 to 64 characters of A-Z a-z 0-9 _ -")
            }
            if let owner = nameOwners[node.name] {
                throw ConfigurationError(
                    keyPath: "\(path).name", value: JSONValue.quoted(node.name),
                    problem: "is already the name of nodes[\(owner)]; node names must be unique")
            }
            nameOwners[node.name] = index
            if let redis = node.redis, redis.isValid, redis.host != "localhost", !redis.host.hasPrefix("127."),
                self.redis.password == nil
            {
                throw ConfigurationError(
                    keyPath: "\(path).redis", value: JSONValue.quoted(redis.description),
                    problem: "is not on loopback and redis.password is not set: anyone who can reach it could read "
                        + "and write every session (set redis.password, or listen on 127.0.0.1)")
            }
            for (kind, endpoint) in node.endpoints {
                let endpointPath = "\(path).\(kind)"
                guard endpoint.isValid else {
                    throw ConfigurationError(
                        keyPath: endpointPath, value: JSONValue.quoted(endpoint.description),
                        problem: "is not an IPv4 address or localhost with a port in 1...65535")
                }
                if let owner = endpointOwners[endpoint.canonical] {
                    throw ConfigurationError(
                        keyPath: endpointPath, value: JSONValue.quoted(endpoint.description),
                        problem: "is already used by \(owner); every endpoint must be distinct")
                }
                endpointOwners[endpoint.canonical] = endpointPath
            }
        }
    }

    /// A settings error from the core, re-addressed to the configuration key it came from.
    private static func configurationError(from error: SettingsError) -> ConfigurationError {
        let keyPath =
            switch error.field {
            case "replication.defaultMaxInactiveSeconds": "sessions.maxInactiveSeconds"
            default: error.field
            }
        // SettingsError's text reads "setting <field> = <value> <rule>"; keep the rule, the value is ours to show.
        let description = error.description
        for (prefix, value) in [
            ("setting \(error.field) = \(error.value) ", error.value),
            ("setting \(error.field) = \"\(error.value)\" ", JSONValue.quoted(error.value)),
        ] where description.hasPrefix(prefix) {
            return ConfigurationError(
                keyPath: keyPath, value: value, problem: String(description.dropFirst(prefix.count)))
        }
        return ConfigurationError(keyPath: keyPath, value: nil, problem: description)
    }
}
