import SessionCluster

#if canImport(Glibc)
    import Glibc
#endif

/// The connection and server commands: `HELLO`, `AUTH`, `SELECT`, `PING`, `ECHO`, `RESET`, `CLIENT`, `INFO`,
/// `COMMAND`, `CONFIG GET`, `DBSIZE`, `SCAN`, `KEYS`.
extension RESPCommands {
    /// The version this node tells clients it speaks (the commands served behave as Redis 7.2's).
    static let redisVersion = "7.2.4"

    /// The longest `WAIT` (Redis's `WAIT n 0` blocks forever).
    static let maxWaitMillis = 60_000

    static func connectionPlan(_ name: String, _ args: ArraySlice<[UInt8]>, _ connection: RESPConnection) -> Plan? {
        let a = Array(args)
        func text(_ index: Int) -> String { String(decoding: a[index], as: UTF8.self) }
        switch name {
        case "PING":
            guard a.count <= 1 else { return .reply(.err("wrong number of arguments for 'ping' command")) }
            return .reply(a.first.map { .bulk($0) } ?? .simple("PONG"))
        case "ECHO": return .reply(.bulk(a[0]))
        case "SELECT":
            guard let index = RESPKeyCommands.integer(a[0]) else { return .reply(RESPKeyCommands.notInteger) }
            return .reply(index == 0 ? .ok : .err("DB index is out of range"))
        case "AUTH":
            guard a.count <= 2 else { return .reply(RESPKeyCommands.syntax) }
            let named = a.count == 2
            return .reply(authenticate(user: named ? text(0) : "default", password: a.last!, named: named, connection))
        case "HELLO": return .reply(hello(a, connection))
        case "RESET":
            connection.version = 2
            connection.name = nil
            connection.queued = nil
            connection.authenticated = connection.settings.password == nil
            return .reply(.simple("RESET"))
        case "CLIENT": return .reply(client(a, connection))
        case "COMMAND": return .reply(command(a))
        case "CONFIG": return .reply(config(a, connection))
        case "INFO": return info(a.map { String(decoding: $0, as: UTF8.self).lowercased() }, connection)
        case "DBSIZE":
            return .run { keys, reply in
                var count = 0
                keys.walk({ _, _ in count += 1 }, done: { reply(.integer(count)) })
            }
        case "KEYS":
            guard a[0].count <= GlobPattern.maxBytes else { return .reply(GlobPattern.tooLong) }
            let pattern = GlobPattern(a[0])
            return .run { keys, reply in
                var found = [RESPValue]()
                // Measured as it grows: past `maxReplyBytes` nothing more is kept and the answer is an error.
                var bytes = 0
                keys.walk(
                    { key, _ in
                        guard bytes <= KeySpace.maxReplyBytes, pattern.matches(key) else { return }
                        bytes += 16 + key.count
                        if bytes <= KeySpace.maxReplyBytes { found.append(.bulk(key)) } else { found = [] }
                    },
                    done: {
                        guard bytes <= KeySpace.maxReplyBytes else {
                            return reply(
                                KeySpace.replyTooLarge("KEYS", bytes: bytes, ran: false, asking: "a narrower pattern"))
                        }
                        reply(.array(found))
                    })
            }
        case "SCAN": return scan(a)
        case "WAIT":
            guard let replicas = RESPKeyCommands.integer(a[0]) else { return .reply(RESPKeyCommands.notInteger) }
            guard let timeout = RESPKeyCommands.integer(a[1]) else {
                return .reply(.err("timeout is not an integer or out of range"))
            }
            guard timeout >= 0 else { return .reply(.err("timeout is negative")) }
            // Redis waits forever on 0; every wait here is bounded.
            let millis = Int64(timeout == 0 ? maxWaitMillis : min(timeout, maxWaitMillis))
            return .run { keys, reply in
                keys.confirmWrites(replicas: replicas, timeoutMillis: millis) { reply(.integer($0)) }
            }
        default: return nil
        }
    }

    // MARK: Authentication and protocol

    private static func authenticate(
        user: String, password: [UInt8], named: Bool, _ connection: RESPConnection
    ) -> RESPValue {
        guard let expected = connection.settings.password else {
            // As Redis's `default` user with `nopass`: any password of `default` works (a client URL carrying
            // credentials connects), another user does not exist, and a bare `AUTH <password>` is a mistake.
            guard named else {
                return .err(
                    "AUTH <password> called without any password configured for the default user. "
                        + "Are you sure your configuration is correct?")
            }
            guard user == "default" else {
                return .error("WRONGPASS invalid username-password pair or user is disabled.")
            }
            return .ok
        }
        guard user == "default", constantTimeEqual(password, Array(expected.utf8)) else {
            return .error("WRONGPASS invalid username-password pair or user is disabled.")
        }
        connection.authenticated = true
        return .ok
    }

    /// `HELLO [protover [AUTH username password] [SETNAME clientname]]`: switches the protocol and answers the
    /// server map.
    private static func hello(_ a: [[UInt8]], _ connection: RESPConnection) -> RESPValue {
        var version = connection.version
        if let first = a.first {
            guard let asked = RESPKeyCommands.integer(first) else {
                return .err("Protocol version is not an integer or out of range")
            }
            guard asked == 2 || asked == 3 else { return .error("NOPROTO unsupported protocol version") }
            version = asked
        }
        var index = 1
        var setName: [UInt8]?
        while index < a.count {
            let option = String(decoding: a[index], as: UTF8.self).uppercased()
            if option == "AUTH", index + 2 < a.count {
                let user = String(decoding: a[index + 1], as: UTF8.self)
                let reply = authenticate(user: user, password: a[index + 2], named: true, connection)
                if case .error = reply { return reply }
                index += 3
            } else if option == "SETNAME", index + 1 < a.count {
                setName = a[index + 1]
                index += 2
            } else {
                return .err("Syntax error in HELLO option '\(String(decoding: a[index], as: UTF8.self))'")
            }
        }
        guard connection.authenticated else {
            return .error(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> "
                    + "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
                    + "protocol version at the same time")
        }
        if let setName {
            guard validName(setName) else { return invalidName }
            connection.name = setName.isEmpty ? nil : setName
        }
        connection.version = version
        return .map([
            (.text("server"), .text("redis")), (.text("version"), .text(redisVersion)),
            (.text("proto"), .integer(version)), (.text("id"), .integer(connection.id)),
            (.text("mode"), .text("standalone")), (.text("role"), .text("master")), (.text("modules"), .array([])),
        ])
    }

    /// Compares without an early exit, so the time taken does not tell how much of a guess was right.
    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    private static let invalidName = RESPValue.err(
        "Client names cannot contain spaces, newlines or special characters.")

    private static func validName(_ name: [UInt8]) -> Bool { name.allSatisfy { $0 > 32 && $0 < 127 } }

    // MARK: Introspection

    private static func client(_ a: [[UInt8]], _ connection: RESPConnection) -> RESPValue {
        let sub = String(decoding: a[0], as: UTF8.self).uppercased()
        switch (sub, a.count) {
        case ("ID", 1): return .integer(connection.id)
        case ("GETNAME", 1): return connection.name.map { .bulk($0) } ?? .null
        case ("SETNAME", 2):
            guard validName(a[1]) else { return invalidName }
            connection.name = a[1].isEmpty ? nil : a[1]
            return .ok
        case ("SETINFO", 3):
            let attribute = String(decoding: a[1], as: UTF8.self).uppercased()
            guard attribute == "LIB-NAME" || attribute == "LIB-VER" else {
                return .err("Unrecognized option '\(String(decoding: a[1], as: UTF8.self))'")
            }
            return .ok
        case ("ID", _), ("GETNAME", _), ("SETNAME", _), ("SETINFO", _):
            return .err("wrong number of arguments for 'client|\(sub.lowercased())' command")
        default:
            return .err("unknown subcommand '\(String(decoding: a[0], as: UTF8.self))'. Try CLIENT HELP.")
        }
    }

    /// `COMMAND`, `COMMAND COUNT`, `COMMAND DOCS` (enough for `redis-cli`: it asks for the docs, for its hints).
    private static func command(_ a: [[UInt8]]) -> RESPValue {
        let names = arity.keys.sorted()
        guard let sub = a.first.map({ String(decoding: $0, as: UTF8.self).uppercased() }) else {
            return .array(
                names.map { name in
                    .array([
                        .text(name.lowercased()), .integer(arity[name]!), .set([]), .integer(0), .integer(0),
                        .integer(0),
                    ])
                })
        }
        switch sub {
        case "COUNT": return .integer(names.count)
        case "DOCS": return .map([])
        default: return .err("unknown subcommand '\(String(decoding: a[0], as: UTF8.self))'. Try COMMAND HELP.")
        }
    }

    /// `CONFIG GET pattern…`: what the node knows of Redis's parameters; `CONFIG SET` is refused (the cluster file
    /// configures the node).
    private static func config(_ a: [[UInt8]], _ connection: RESPConnection) -> RESPValue {
        let sub = String(decoding: a[0], as: UTF8.self).uppercased()
        guard sub == "GET" else {
            if sub == "SET" || sub == "RESETSTAT" || sub == "REWRITE" {
                return .err("CONFIG \(sub) is not supported: the cluster file configures the node")
            }
            return .err("unknown subcommand '\(String(decoding: a[0], as: UTF8.self))'. Try CONFIG HELP.")
        }
        guard a.count >= 2 else { return .err("wrong number of arguments for 'config|get' command") }
        let known: [(String, String)] = [
            ("appendonly", "no"), ("databases", "1"),
            ("maxclients", String(connection.state?.maxClients ?? connection.settings.maxConnections)),
            ("maxmemory", "0"), ("notify-keyspace-events", ""),
            ("proto-max-bulk-len", String(connection.settings.limits.maxBulkBytes)), ("save", ""), ("timeout", "0"),
        ]
        var pairs = [(RESPValue, RESPValue)]()
        for (name, value) in known
        where a.dropFirst().contains(where: { GlobPattern($0.map { lower($0) }).matches(Array(name.utf8)) }) {
            pairs.append((.text(name), .text(value)))
        }
        return .map(pairs)
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    /// `INFO [section …]`: the sections clients read (`redis_version`, `loading:0`, `role:master`, a `# Keyspace`
    /// line); only those asked for, all for none, `default`, `all` or `everything`.
    private static func info(_ asked: [String], _ connection: RESPConnection) -> Plan {
        guard let state = connection.state else { return .reply(.err("server is stopping")) }
        let everything = asked.isEmpty || asked.contains { ["default", "all", "everything"].contains($0) }
        func wanted(_ section: String) -> Bool { everything || asked.contains(section) }
        return .run { keys, reply in
            var count = 0
            var expiring = 0
            let done = {
                let uptime = (EventLoop.monotonicMillis() - state.startedAt) / 1000
                let port = state.address.split(separator: ":").last.map(String.init) ?? ""
                let totals = state.totals
                let sections: [(String, [String])] = [
                    (
                        "server",
                        [
                            "redis_version:\(redisVersion)", "redis_mode:standalone", "os:Linux", "arch_bits:64",
                            "process_id:\(getpid())", "tcp_port:\(port)", "uptime_in_seconds:\(uptime)",
                            "executable:session-node",
                        ]
                    ),
                    (
                        "clients",
                        [
                            "connected_clients:\(totals.open)",
                            "maxclients:\(state.maxClients)",
                        ]
                    ),
                    ("persistence", ["loading:0", "async_loading:0", "rdb_changes_since_last_save:0"]),
                    (
                        "stats",
                        [
                            "total_connections_received:\(totals.accepted)",
                            "total_commands_processed:\(totals.commands)", "rejected_connections:\(totals.rejected)",
                            "expired_keys:\(totals.expired)",
                            "client_output_buffer_limit_disconnections:\(totals.closedForOutput)",
                        ]
                    ),
                    ("replication", ["role:master", "connected_slaves:0"]),
                    ("keyspace", count > 0 ? ["db0:keys=\(count),expires=\(expiring),avg_ttl=0"] : []),
                ]
                var text = ""
                for (name, lines) in sections where wanted(name) {
                    if !text.isEmpty { text += "\r\n" }
                    text += "# \(name.prefix(1).uppercased() + name.dropFirst())\r\n"
                    for line in lines { text += line + "\r\n" }
                }
                reply(.text(text))
            }
            // Counting keys walks every held session: only when the keyspace section is asked for.
            guard wanted("keyspace") else { return done() }
            keys.walk(
                { _, key in
                    count += 1
                    if key.expiresAt != nil { expiring += 1 }
                }, done: done)
        }
    }

    /// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`. The cursor is the high 64 bits of the last session
    /// id looked at (ids are walked in the node's order, `ClusterNode.heldSessions`), so a scan sees every key
    /// present for its whole duration at least once, as Redis promises. That order is keyed by a secret of the
    /// process (never the scrambled value itself as the cursor: that would give the secret away): a cursor is
    /// good only on the node that gave it, until it restarts, as a Redis cursor is good only on its server.
    private static func scan(_ a: [[UInt8]]) -> Plan {
        guard let cursor = UInt64(String(decoding: a[0], as: UTF8.self)) else { return .reply(.err("invalid cursor")) }
        var pattern: GlobPattern?
        var count = 10
        var type: String?
        var index = 1
        while index < a.count {
            let option = String(decoding: a[index], as: UTF8.self).uppercased()
            guard index + 1 < a.count else { return .reply(RESPKeyCommands.syntax) }
            switch option {
            case "MATCH":
                guard a[index + 1].count <= GlobPattern.maxBytes else { return .reply(GlobPattern.tooLong) }
                pattern = GlobPattern(a[index + 1])
            case "COUNT":
                guard let value = RESPKeyCommands.integer(a[index + 1]) else {
                    return .reply(RESPKeyCommands.notInteger)
                }
                guard value >= 1 else { return .reply(RESPKeyCommands.syntax) }
                count = value
            case "TYPE": type = String(decoding: a[index + 1], as: UTF8.self).lowercased()
            default: return .reply(RESPKeyCommands.syntax)
            }
            index += 2
        }
        let start = cursor == 0 ? nil : SessionID(high: cursor, low: .max)
        return .run { keys, reply in
            keys.node.heldSessions(after: start, limit: min(count, 100_000)) { sessions, next in
                let now = KeySpace.now()
                var found = [RESPValue]()
                var bytes = 0
                for held in sessions {
                    let attributes = held.attributes
                    guard let name = attributes[KeyLayout.name], let state = KeyState(attributes: attributes, now: now)
                    else { continue }
                    if let type, state.typeName != type { continue }
                    if let pattern, !pattern.matches(name) { continue }
                    bytes += 16 + name.count
                    guard bytes <= KeySpace.maxReplyBytes else {
                        return reply(
                            .err(
                                "SCAN reply too large: over \(KeySpace.maxReplyBytes >> 20) MiB of key names; "
                                    + "ask for a smaller COUNT"))
                    }
                    found.append(.bulk(name))
                }
                // A cursor of 0 would end the scan: the id whose high half is 0 (one random id in 2^64; never a key's,
                // whose top bit is set) resumes after the ids whose high half is 1, wherever those sort.
                let resume = next.map { max($0.high, 1) } ?? 0
                reply(.array([.text(String(resume)), .array(found)]))
            }
        }
    }
}
