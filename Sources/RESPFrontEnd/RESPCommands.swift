import SessionCluster

/// Command dispatch: authentication, `MULTI` queueing, arity, the connection commands; key commands go to
/// `RESPKeyCommands`. Error words are Redis 7's, where clients test them.
enum RESPCommands {
    /// Answers a command: the reply (nil: none), and whether the connection closes after it (`QUIT`).
    typealias Done = (RESPValue?, _ close: Bool) -> Void

    /// Redis's arity of every command served: n exactly (the name included), or at least n when negative.
    static let arity: [String: Int] = [
        "GET": 2, "SET": -3, "SETNX": 3, "SETEX": 4, "PSETEX": 4, "GETDEL": 2, "GETEX": -2, "MGET": -2, "DEL": -2,
        "UNLINK": -2, "EXISTS": -2, "TYPE": 2, "EXPIRE": -3, "PEXPIRE": -3, "EXPIREAT": -3, "PEXPIREAT": -3,
        "PERSIST": 2, "TTL": 2, "PTTL": 2, "RENAME": 3, "SCAN": -2, "KEYS": 2, "HGET": 3, "HMGET": -3, "HGETALL": 2,
        "HKEYS": 2, "HVALS": 2, "HLEN": 2, "HEXISTS": 3, "HSET": -4, "HMSET": -4, "HSETNX": 4, "HDEL": -3,
        "HELLO": -1, "AUTH": -2, "SELECT": 2, "PING": -1, "ECHO": 2, "QUIT": -1, "RESET": 1, "CLIENT": -2,
        "INFO": -1, "COMMAND": -1, "CONFIG": -2, "DBSIZE": 1, "WAIT": 3, "MULTI": 1, "EXEC": 1, "DISCARD": 1,
    ]

    /// Commands a client may send before authenticating, and those not queued by `MULTI`.
    private static let beforeAuth: Set<String> = ["AUTH", "HELLO", "QUIT", "RESET"]
    private static let notQueued: Set<String> = ["EXEC", "DISCARD", "MULTI", "QUIT", "RESET"]

    static func execute(_ command: [[UInt8]], on connection: RESPConnection, _ done: @escaping Done) {
        let name = String(decoding: command[0], as: UTF8.self).uppercased()
        let args = command.dropFirst()
        if name == "POST" || name == "HOST:" {
            // An HTTP request sent to this port (a web page the host's browser opened, an SSRF): its body would
            // run as commands. Closed without a word, as Redis does ("Possible SECURITY ATTACK detected").
            connection.state?.crossProtocolAttempts += 1
            return done(nil, true)
        }
        if !connection.authenticated && !beforeAuth.contains(name) {
            return done(.error("NOAUTH Authentication required."), false)
        }
        guard let arity = arity[name] else {
            if connection.queued != nil { connection.queueFailed = true }
            return done(unknownCommand(command), false)
        }
        guard arity > 0 ? command.count == arity : command.count >= -arity else {
            if connection.queued != nil { connection.queueFailed = true }
            return done(.err("wrong number of arguments for '\(name.lowercased())' command"), false)
        }
        if connection.queued != nil && !notQueued.contains(name) {
            let bytes = command.reduce(0) { $0 + $1.count }
            guard connection.queued!.count < connection.settings.maxQueuedCommands,
                connection.queuedBytes + bytes <= connection.settings.maxQueuedBytes
            else {
                connection.queueFailed = true
                connection.queued = []  // what was queued is dropped now: EXEC will only abort
                return done(
                    .err(
                        "MULTI block too large (at most \(connection.settings.maxQueuedCommands) commands and "
                            + "\(connection.settings.maxQueuedBytes) bytes)"), false)
            }
            connection.queuedBytes += bytes
            connection.queued!.append(command)
            return done(.simple("QUEUED"), false)
        }
        let reply: (RESPValue) -> Void = { done($0, false) }
        switch name {
        case "QUIT": done(.ok, true)
        case "MULTI", "EXEC", "DISCARD": transaction(name, connection, reply)
        default:
            if let plan = connectionPlan(name, args, connection) ?? RESPKeyCommands.plan(name, args) {
                connection.keys.run(plan, reply)
            } else {
                reply(unknownCommand(command))
            }
        }
    }

    static func unknownCommand(_ command: [[UInt8]]) -> RESPValue {
        var args = ""
        for argument in command.dropFirst() where args.utf8.count < 128 {
            args += "'\(String(decoding: argument.prefix(128 - args.utf8.count), as: UTF8.self))' "
        }
        let name = String(decoding: command[0].prefix(128), as: UTF8.self)
        return .err("unknown command '\(name)', with args beginning with: \(args)")
    }

    // MARK: Transactions

    /// `MULTI`, `EXEC`, `DISCARD`. A block whose commands all name one key runs as one write of that key: its
    /// changes commit as one delta. Otherwise the commands run one after the other (no other command of this
    /// connection runs in between; other clients' may).
    private static func transaction(
        _ name: String, _ connection: RESPConnection, _ reply: @escaping (RESPValue) -> Void
    ) {
        switch name {
        case "MULTI":
            guard connection.queued == nil else { return reply(.err("MULTI calls can not be nested")) }
            connection.queued = []
            connection.queueFailed = false
            reply(.ok)
        case "DISCARD":
            guard connection.queued != nil else { return reply(.err("DISCARD without MULTI")) }
            connection.queued = nil
            reply(.ok)
        default:
            guard let queued = connection.queued else { return reply(.err("EXEC without MULTI")) }
            connection.queued = nil
            if connection.queueFailed {
                return reply(.error("EXECABORT Transaction discarded because of previous errors."))
            }
            let plans = queued.map { command in
                let name = String(decoding: command[0], as: UTF8.self).uppercased()
                return connectionPlan(name, command.dropFirst(), connection)
                    ?? RESPKeyCommands.plan(name, command.dropFirst()) ?? .reply(unknownCommand(command))
            }
            if let (key, bodies) = oneKey(plans) {
                // Every body runs (the block is one write); past the reply limit their answers are not kept.
                let block: (inout KeyModel) -> RESPValue = { model in
                    var answers = [RESPValue]()
                    var bytes = 0
                    for body in bodies {
                        let answer = body(&model)
                        bytes += answer.encodedSizeEstimate
                        if bytes <= KeySpace.maxReplyBytes { answers.append(answer) }
                    }
                    guard bytes <= KeySpace.maxReplyBytes else {
                        return KeySpace.replyTooLarge("EXEC", bytes: bytes, ran: true)
                    }
                    return .array(answers)
                }
                connection.keys.write(key, block) { reply($0.replyOrError) }
            } else {
                connection.keys.runAll(
                    plans, { reply(.array($0)) },
                    tooLarge: { reply(KeySpace.replyTooLarge("EXEC", bytes: $0, ran: true)) })
            }
        }
    }

    /// The key and the bodies of a block whose plans all read or write one key; nil otherwise.
    private static func oneKey(_ plans: [Plan]) -> ([UInt8], [(inout KeyModel) -> RESPValue])? {
        var key: [UInt8]?
        var bodies = [(inout KeyModel) -> RESPValue]()
        for plan in plans {
            switch plan {
            case .read(let name, let body):
                guard key == nil || key == name else { return nil }
                key = name
                bodies.append { model in body(model.view) }
            case .write(let name, let body):
                guard key == nil || key == name else { return nil }
                key = name
                bodies.append(body)
            case .reply(let value):
                bodies.append { _ in value }
            case .run:
                return nil
            }
        }
        return key.map { ($0, bodies) }
    }
}
