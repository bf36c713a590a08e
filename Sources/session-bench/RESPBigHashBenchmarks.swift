/// One command on a big hash: how long it held the node (the client waits for the answer; `delta/sync` includes the
/// peers' acknowledgements, so their join of the change counts too).
struct BigHashFigure: Sendable {
    var test: String
    /// Fields the hash held when the command ran, or that it named.
    var fields: Int
    var medianMillis: Double
    var maxMillis: Double
}

/// Section 6, second part: commands on hashes far beyond the default `sessions.maxAttributes` (raised here to
/// 30,000). Before `AttributeMap.join` merged in one pass, a command naming k fields of a hash of n cost k × n: one
/// `DEL` of 25,000 fields held the loop ~40 s and the peers declared the node dead. Now each costs k + n.
struct RESPBigHashBenchmarks {
    let binary: String
    let directory: String

    static let maxFields = 30_000
    static let repeats = 3

    func run() throws -> [BigHashFigure] {
        let cluster = try LocalCluster(
            nodes: 3, mode: "delta", ack: "sync", binary: binary, directory: directory, redis: true,
            settings: ["sessions": ["maxAttributes": Self.maxFields + 1, "maxSessionBytes": 8 << 20]])
        defer {
            cluster.stopAll()
            cluster.removeFiles()
        }
        try cluster.start(cluster.first(3))
        let client = try RESPClient(host: "127.0.0.1", port: cluster.redisPort["n1"]!)
        defer { client.close() }
        // Milliseconds per (test, fields), in the order first run.
        var times = [(test: String, fields: Int, millis: [Double])]()
        func record(_ test: String, fields: Int, _ millis: Double) {
            if let index = times.firstIndex(where: { $0.test == test && $0.fields == fields }) {
                times[index].millis.append(millis)
            } else {
                times.append((test, fields, [millis]))
            }
        }
        func time(_ test: String, fields: Int, _ commands: [[[UInt8]]]) throws {
            let began = Measure.seconds()
            for command in commands { try client.call(command) }
            record(test, fields: fields, (Measure.seconds() - began) * 1000)
        }
        func hset(_ key: String, _ range: Range<Int>) -> [[UInt8]] {
            var command = [Array("HSET".utf8), Array(key.utf8)]
            for index in range {
                command.append(Array("field:\(index)".utf8))
                command.append(Array(repeating: UInt8(ascii: "v"), count: 20))
            }
            return command
        }
        for round in 0..<Self.repeats {
            for count in [1_000, 8_000] {
                let key = Array("big:\(count):\(round)".utf8)
                try time("HSET, every field of a new hash", fields: count, [hset("big:\(count):\(round)", 0..<count)])
                try time("HSET, one more field", fields: count, [hset("big:\(count):\(round)", count..<count + 1)])
                try time("HLEN", fields: count + 1, [[Array("HLEN".utf8), key]])
                try time("DEL", fields: count + 1, [[Array("DEL".utf8), key]])
            }
            let key = "huge:\(round)"
            try time(
                "25 HSETs of 1,000 fields, in all", fields: 25_000,
                (0..<25).map { hset(key, $0 * 1_000..<($0 + 1) * 1_000) })
            try time("DEL", fields: 25_000, [[Array("DEL".utf8), Array(key.utf8)]])
        }
        let figures = times.map {
            BigHashFigure(
                test: $0.test, fields: $0.fields, medianMillis: Measure.median($0.millis),
                maxMillis: $0.millis.max() ?? 0)
        }
        for figure in figures {
            progress(
                "resp big hash: \(figure.test), \(figure.fields) fields: median \(fixed(figure.medianMillis, 1)) ms, "
                    + "max \(fixed(figure.maxMillis, 1)) ms")
        }
        return figures
    }
}
