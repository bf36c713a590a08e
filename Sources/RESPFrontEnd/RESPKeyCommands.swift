/// The string, key and hash commands, as plans over the key space. Answers and error words are Redis 7's.
enum RESPKeyCommands {
    typealias Args = ArraySlice<[UInt8]>

    static let wrongType = RESPValue.error("WRONGTYPE Operation against a key holding the wrong kind of value")
    static let notInteger = RESPValue.err("value is not an integer or out of range")
    static let syntax = RESPValue.err("syntax error")

    /// The plan for a key command (`name` upper-cased, arity already checked); nil for a name not handled here.
    static func plan(_ name: String, _ args: Args) -> Plan? {
        let a = Array(args)
        switch name {
        case "GET": return .read(a[0]) { key in stringReply(key) { .bulk($0) } }
        case "SET": return set(a)
        case "SETNX":
            return .write(a[0]) { model in
                guard model.state == nil else { return .integer(0) }
                model.setString(a[1])
                return .integer(1)
            }
        case "SETEX", "PSETEX":
            guard let amount = integer(a[1]) else { return .reply(notInteger) }
            let millis: (partialValue: Int, overflow: Bool) =
                name == "SETEX" ? amount.multipliedReportingOverflow(by: 1000) : (amount, false)
            guard amount > 0, !millis.overflow else { return .reply(invalidExpire(name)) }
            return .write(a[0]) { model in
                guard let at = expiry(after: millis.partialValue, from: model.now) else { return invalidExpire(name) }
                model.setString(a[2])
                model.setExpiry(at)
                return .ok
            }
        case "GETDEL":
            return .write(a[0]) { model in
                guard let state = model.state else { return .null }
                guard case .string(let value) = state.value else { return wrongType }
                model.delete()
                return .bulk(value)
            }
        case "GETEX": return getex(a)
        case "MGET":
            return .run { keys, reply in
                keys.runAll(
                    a.map { name in .read(name) { key in stringReply(key, wrongTypeIsNull: true) { .bulk($0) } } },
                    { reply(.array($0)) },
                    tooLarge: { reply(KeySpace.replyTooLarge("MGET", bytes: $0, ran: false)) })
            }
        case "DEL", "UNLINK":
            return .run { keys, reply in
                keys.runAll(a.map { key in .write(key) { model in deleteCount(&model) } }) { replies in
                    reply(sum(replies))
                }
            }
        case "EXISTS":
            return .run { keys, reply in
                keys.runAll(a.map { key in .read(key) { .integer($0.kind == nil ? 0 : 1) } }) { reply(sum($0)) }
            }
        case "TYPE": return .read(a[0]) { .simple($0.typeName) }
        case "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT": return expire(name, a)
        case "PERSIST":
            return .write(a[0]) { model in
                guard model.state?.expiresAt != nil else { return .integer(0) }
                model.setExpiry(nil)
                return .integer(1)
            }
        case "TTL", "PTTL":
            return .read(a[0]) { key in
                guard key.kind != nil else { return .integer(-2) }
                guard let at = key.expiresAt else { return .integer(-1) }
                let left = at - key.now
                return .integer(Int(name == "TTL" ? (left + 500) / 1000 : left))
            }
        case "RENAME": return rename(a)
        case "HGET": return .read(a[0]) { key in hashReply(key) { .bulk($0.field(a[1])) } }
        case "HMGET":
            return .read(a[0]) { key in
                hashReply(key, absent: .array(a.dropFirst().map { _ in .null })) { key in
                    guard let values = key.fields(named: a.dropFirst(), upTo: KeySpace.maxReplyBytes) else {
                        return KeySpace.replyTooLarge(
                            "HMGET", bytes: KeySpace.maxReplyBytes, ran: false, asking: "fewer fields")
                    }
                    return .array(values.map { $0.map(RESPValue.bulk) ?? .null })
                }
            }
        case "HGETALL":
            return .read(a[0]) { key in
                hashReply(key, absent: .map([])) {
                    .map($0.sortedFields.map { (.bulk($0.field), .bulk($0.value)) })
                }
            }
        case "HKEYS":
            return .read(a[0]) {
                hashReply($0, absent: .array([])) { .array($0.sortedFields.map { .bulk($0.field) }) }
            }
        case "HVALS":
            return .read(a[0]) {
                hashReply($0, absent: .array([])) { .array($0.sortedFields.map { .bulk($0.value) }) }
            }
        case "HLEN": return .read(a[0]) { hashReply($0, absent: .integer(0)) { .integer($0.fieldCount) } }
        case "HEXISTS":
            return .read(a[0]) { hashReply($0, absent: .integer(0)) { .integer($0.field(a[1]) == nil ? 0 : 1) } }
        case "HSET", "HMSET":
            guard a.count % 2 == 1 else {
                return .reply(.err("wrong number of arguments for '\(name.lowercased())' command"))
            }
            let pairs = stride(from: 1, to: a.count, by: 2).map { (field: a[$0], value: a[$0 + 1]) }
            return .write(a[0]) { model in
                if let state = model.state, case .string = state.value { return wrongType }
                let added = model.setFields(pairs)
                return name == "HSET" ? .integer(added) : .ok
            }
        case "HSETNX":
            return .write(a[0]) { model in
                if let state = model.state, case .string = state.value { return wrongType }
                guard model.state?.field(a[1]) == nil else { return .integer(0) }
                model.setFields([(a[1], a[2])])
                return .integer(1)
            }
        case "HDEL":
            return .write(a[0]) { model in
                if let state = model.state, case .string = state.value { return wrongType }
                return .integer(model.removeFields(Array(a.dropFirst())))
            }
        default: return nil
        }
    }

    // MARK: Strings

    /// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]`.
    private static func set(_ a: [[UInt8]]) -> Plan {
        var nx = false
        var xx = false
        var get = false
        var keepTTL = false
        var expiry: (unit: String, amount: Int)?
        var index = 2
        while index < a.count {
            let option = String(decoding: a[index], as: UTF8.self).uppercased()
            switch option {
            case "NX" where !xx: nx = true
            case "XX" where !nx: xx = true
            case "GET": get = true
            case "KEEPTTL" where expiry == nil: keepTTL = true
            case "EX", "PX", "EXAT", "PXAT":
                guard expiry == nil, !keepTTL, index + 1 < a.count else { return .reply(syntax) }
                guard let amount = integer(a[index + 1]) else { return .reply(notInteger) }
                guard amount > 0 else { return .reply(invalidExpire("SET")) }
                expiry = (option, amount)
                index += 1
            default: return .reply(syntax)
            }
            index += 1
        }
        return .write(a[0]) { model in
            let old = model.state
            if get, let old, case .hash = old.value { return wrongType }
            let previous: RESPValue = if case .string(let value)? = old?.value { .bulk(value) } else { .null }
            if (nx && old != nil) || (xx && old == nil) { return get ? previous : .null }
            var at: Int64?
            if let expiry {
                guard let time = absolute(expiry.unit, expiry.amount, now: model.now) else {
                    return invalidExpire("SET")
                }
                at = time
            }
            model.setString(a[1], keepTTL: keepTTL)
            if let at { model.setExpiry(at) }
            return get ? previous : .ok
        }
    }

    /// `GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]`.
    private static func getex(_ a: [[UInt8]]) -> Plan {
        var change: (unit: String, amount: Int)?
        var persist = false
        var index = 1
        while index < a.count {
            let option = String(decoding: a[index], as: UTF8.self).uppercased()
            switch option {
            case "PERSIST" where change == nil && !persist: persist = true
            case "EX", "PX", "EXAT", "PXAT":
                guard change == nil, !persist, index + 1 < a.count else { return .reply(syntax) }
                guard let amount = integer(a[index + 1]) else { return .reply(notInteger) }
                guard amount > 0 else { return .reply(invalidExpire("GETEX")) }
                change = (option, amount)
                index += 1
            default: return .reply(syntax)
            }
            index += 1
        }
        return .write(a[0]) { model in
            guard let state = model.state else { return .null }
            guard case .string(let value) = state.value else { return wrongType }
            if persist { model.setExpiry(nil) }
            if let change {
                guard let at = absolute(change.unit, change.amount, now: model.now) else {
                    return invalidExpire("GETEX")
                }
                model.setExpiry(at)
            }
            return .bulk(value)
        }
    }

    // MARK: Keys

    /// `EXPIRE key seconds [NX | XX | GT | LT]` and its `PEXPIRE`, `EXPIREAT`, `PEXPIREAT` siblings.
    private static func expire(_ name: String, _ a: [[UInt8]]) -> Plan {
        guard let amount = integer(a[1]) else { return .reply(notInteger) }
        var condition: String?
        for option in a.dropFirst(2) {
            let word = String(decoding: option, as: UTF8.self).uppercased()
            guard ["NX", "XX", "GT", "LT"].contains(word) else {
                return .reply(.err("Unsupported option \(String(decoding: option, as: UTF8.self))"))
            }
            if let condition, condition != word {
                return .reply(
                    .err(
                        (["GT", "LT"].contains(condition) && ["GT", "LT"].contains(word))
                            ? "GT and LT options at the same time are not compatible"
                            : "NX and XX, GT or LT options at the same time are not compatible"))
            }
            condition = word
        }
        let unit = ["EXPIRE": "EX", "PEXPIRE": "PX", "EXPIREAT": "EXAT", "PEXPIREAT": "PXAT"][name]!
        return .write(a[0]) { model in
            guard let state = model.state else { return .integer(0) }
            guard let at = absolute(unit, amount, now: model.now, allowPast: true) else {
                return invalidExpire(name)
            }
            let current = state.expiresAt
            switch condition {
            case "NX" where current != nil: return .integer(0)
            case "XX" where current == nil: return .integer(0)
            case "GT" where current == nil || at <= current!: return .integer(0)
            case "LT" where current != nil && at >= current!: return .integer(0)
            default: break
            }
            model.setExpiry(at)
            return .integer(1)
        }
    }

    /// `RENAME key newkey`: the new key gets the value and expiry (written first: a failure in between loses
    /// nothing), then the old key is deleted.
    private static func rename(_ a: [[UInt8]]) -> Plan {
        let (source, target) = (a[0], a[1])
        return .run { keys, reply in
            keys.read(source) { read in
                guard case .success(let model) = read else { return reply(read.map { _ in .ok }.replyOrError) }
                guard let state = model.state else { return reply(.err("no such key")) }
                if source == target { return reply(.ok) }
                keys.write(
                    target,
                    { target in
                        target.delete()
                        switch state.value {
                        case .string(let value): target.setString(value)
                        case .hash(let fields): target.setFields(fields)
                        }
                        target.setExpiry(state.expiresAt)
                        return .ok
                    }
                ) { written in
                    guard case .success = written else { return reply(written.replyOrError) }
                    keys.write(
                        source,
                        {
                            $0.delete()
                            return .ok
                        }
                    ) { reply($0.replyOrError) }
                }
            }
        }
    }

    private static func deleteCount(_ model: inout KeyModel) -> RESPValue {
        guard model.state != nil else { return .integer(0) }
        model.delete()
        return .integer(1)
    }

    // MARK: Helpers

    /// Redis's `string2ll`: an optional `-` and digits, nothing else, within 64 bits.
    static func integer(_ bytes: [UInt8]) -> Int? { RESPCommandParser.integer(bytes[...]) }

    private static func invalidExpire(_ name: String) -> RESPValue {
        .err("invalid expire time in '\(name.lowercased())' command")
    }

    /// The absolute expiry (Unix ms) for an `EX`/`PX`/`EXAT`/`PXAT` amount; nil when it overflows.
    private static func absolute(_ unit: String, _ amount: Int, now: Int64, allowPast: Bool = false) -> Int64? {
        let millis: (partialValue: Int, overflow: Bool) =
            unit == "EX" || unit == "EXAT" ? amount.multipliedReportingOverflow(by: 1000) : (amount, false)
        guard !millis.overflow else { return nil }
        if unit == "EXAT" || unit == "PXAT" { return Int64(millis.partialValue) }
        return expiry(after: millis.partialValue, from: now)
    }

    private static func expiry(after millis: Int, from now: Int64) -> Int64? {
        let (at, overflow) = now.addingReportingOverflow(Int64(millis))
        return overflow ? nil : at
    }

    private static func stringReply(
        _ key: KeyView, wrongTypeIsNull: Bool = false, _ answer: ([UInt8]) -> RESPValue
    ) -> RESPValue {
        guard key.kind != nil else { return .null }
        guard let value = key.string else { return wrongTypeIsNull ? .null : wrongType }
        return answer(value)
    }

    private static func hashReply(
        _ key: KeyView, absent: RESPValue = .null, _ answer: (KeyView) -> RESPValue
    ) -> RESPValue {
        switch key.kind {
        case nil: return absent
        case .string?: return wrongType
        case .hash?: return answer(key)
        }
    }

    private static func sum(_ replies: [RESPValue]) -> RESPValue {
        var total = 0
        for reply in replies {
            switch reply {
            case .integer(let count): total += count
            case .error: return reply
            default: break
            }
        }
        return .integer(total)
    }
}

extension RESPValue {
    fileprivate static func bulk(_ bytes: [UInt8]?) -> RESPValue { bytes.map { .bulk($0) } ?? .null }
}
