import Testing

@testable import SessionCluster

/// Every unknown key, wrong type and bad value is refused with its key path and value.
@Suite struct ConfigurationErrorTests {
    typealias Fixtures = ConfigurationFixtures

    struct UnknownKeyCase: Sendable, CustomTestStringConvertible {
        let document: [UInt8]
        let keyPath: String
        var testDescription: String { keyPath }
    }

    static let unknownKeys: [UnknownKeyCase] = [
        .init(document: Fixtures.document(extra: #""clustr": "x""#), keyPath: "clustr"),
        .init(
            document: Fixtures.document(replication: #"{"mode": "delta", "acks": "sync"}"#), keyPath: "replication.acks"
        ),
        .init(
            document: Fixtures.document(membership: #"{"multicast": {"prot": 47001}}"#),
            keyPath: "membership.multicast.prot"),
        .init(document: Fixtures.document(membership: #"{"heartbeat": 500}"#), keyPath: "membership.heartbeat"),
        .init(document: Fixtures.document(sessions: #"{"cookiename": "SID"}"#), keyPath: "sessions.cookiename"),
        .init(
            document: Fixtures.document(
                nodes:
                    #"[{"name": "a", "replication": "127.0.0.1:1", "http": "127.0.0.1:2"}, {"name": "b", "replication": "127.0.0.1:3", "http": "127.0.0.1:4", "weight": 2}]"#
            ),
            keyPath: "nodes[1].weight"),
        .init(document: Fixtures.document(membership: #"{"a.b\n": 1}"#), keyPath: #"membership["a.b\n"]"#),
    ]

    @Test(arguments: unknownKeys)
    func unknownKeyIsNamedByItsFullPath(_ testCase: UnknownKeyCase) {
        let error = Fixtures.error(testCase.document)
        #expect(error?.keyPath == testCase.keyPath)
        #expect(error?.problem.hasPrefix("is not a known key; expected one of ") == true)
        #expect(error?.value == nil)
    }

    @Test func unknownKeySuggestsTheKeyItResembles() {
        let error = Fixtures.error(Fixtures.document(membership: #"{"multicast": {"prot": 47001}}"#))
        #expect(
            error?.description
                == "membership.multicast.prot is not a known key; expected one of group, port, interface "
                + "(did you mean port?)")
    }

    @Test func unknownKeyIsReportedBeforeABadValueBesideIt() {
        let error = Fixtures.error(Fixtures.document(replication: #"{"mode": "fast", "ak": "sync"}"#))
        #expect(error?.keyPath == "replication.ak")
    }

    struct BadValueCase: Sendable, CustomTestStringConvertible {
        let document: [UInt8]
        let keyPath: String
        let value: String?
        let problem: String
        var testDescription: String { "\(keyPath) \(value ?? "-")" }
    }

    static func multicast(_ members: String) -> [UInt8] {
        Fixtures.document(membership: #"{"multicast": {\#(members)}}"#)
    }

    static func node(_ replication: String, _ http: String = "127.0.0.1:48101") -> [UInt8] {
        Fixtures.document(nodes: #"[{"name": "n1", "replication": "\#(replication)", "http": "\#(http)"}]"#)
    }

    static let badValues: [BadValueCase] = [
        .init(
            document: Fixtures.document(replication: #"{"mode": "fast"}"#), keyPath: "replication.mode",
            value: #""fast""#, problem: "is not one of delta, backup"),
        .init(
            document: Fixtures.document(replication: #"{"ack": "maybe"}"#), keyPath: "replication.ack",
            value: #""maybe""#, problem: "is not one of async, sync"),
        .init(
            document: Fixtures.document(replication: #"{"mode": 1}"#), keyPath: "replication.mode",
            value: "1", problem: "must be one of delta, backup"),
        .init(
            document: multicast(#""port": 0"#), keyPath: "membership.multicast.port", value: "0",
            problem: "is not a port in 1...65535"),
        .init(
            document: multicast(#""port": 70000"#), keyPath: "membership.multicast.port", value: "70000",
            problem: "is not a port in 1...65535"),
        .init(
            document: multicast(#""port": "x""#), keyPath: "membership.multicast.port", value: #""x""#,
            problem: "must be an integer port in 1...65535"),
        .init(
            document: multicast(#""port": 47001.5"#), keyPath: "membership.multicast.port", value: "47001.5",
            problem: "must be an integer port in 1...65535"),
        .init(
            document: node("127.0.0.1:0"), keyPath: "nodes[0].replication", value: #""127.0.0.1:0""#,
            problem: "does not end in a port in 1...65535"),
        .init(
            document: node("127.0.0.1:70000"), keyPath: "nodes[0].replication", value: #""127.0.0.1:70000""#,
            problem: "does not end in a port in 1...65535"),
        .init(
            document: node("127.0.0.1:47101", "127.0.0.1:x"), keyPath: "nodes[0].http", value: #""127.0.0.1:x""#,
            problem: "does not end in a port in 1...65535"),
        .init(
            document: node("db.example.com:47101"), keyPath: "nodes[0].replication", value: #""db.example.com:47101""#,
            problem: "does not have an IPv4 address (like 198.51.100.5) or localhost before the ':'"),
        .init(
            document: node("47101"), keyPath: "nodes[0].replication", value: #""47101""#,
            problem: "is not host:port (like 127.0.0.1:47101)"),
        .init(
            document: multicast(#""group": "198.51.100.1""#), keyPath: "membership.multicast.group",
            value: #""198.51.100.1""#,
            problem: "is not an IPv4 multicast address (224.0.0.0 to 239.255.255.255)"),
        .init(
            document: multicast(#""group": "240.0.0.1""#), keyPath: "membership.multicast.group",
            value: #""240.0.0.1""#, problem: "is not an IPv4 multicast address (224.0.0.0 to 239.255.255.255)"),
        .init(
            document: multicast(#""interface": "localhost""#), keyPath: "membership.multicast.interface",
            value: #""localhost""#, problem: "is not an IPv4 address (like 127.0.0.1)"),
        .init(
            document: Fixtures.document(membership: #"{"protocol": "gossip"}"#), keyPath: "membership.protocol",
            value: #""gossip""#, problem: "is not one of beacon, swim"),
        .init(
            document: Fixtures.document(membership: #"{"protocol": true}"#), keyPath: "membership.protocol",
            value: "true", problem: "must be one of beacon, swim"),
        .init(
            document: Fixtures.document(membership: #"{"heartbeatMillis": 0}"#), keyPath: "membership.heartbeatMillis",
            value: "0", problem: "must be in 1...60000 (milliseconds)"),
        .init(
            document: Fixtures.document(membership: #"{"heartbeatMillis": 500.0}"#),
            keyPath: "membership.heartbeatMillis", value: "500.0",
            problem: "must be an integer, without fraction or exponent"),
        .init(
            document: Fixtures.document(membership: #"{"heartbeatMillis": 1e400}"#),
            keyPath: "membership.heartbeatMillis", value: "1e400",
            problem: "must be an integer, without fraction or exponent"),
        .init(
            document: Fixtures.document(sessions: #"{"maxInactiveSeconds": 1.5}"#),
            keyPath: "sessions.maxInactiveSeconds", value: "1.5",
            problem: "must be an integer, without fraction or exponent"),
        .init(
            document: Fixtures.document(sessions: #"{"maxInactiveSeconds": 99999999999999999999}"#),
            keyPath: "sessions.maxInactiveSeconds", value: "99999999999999999999",
            problem: "is too large for an integer setting"),
        .init(
            document: Fixtures.document(sessions: #"{"maxInactiveSeconds": 0}"#),
            keyPath: "sessions.maxInactiveSeconds", value: "0", problem: "must be in 1...31536000 (seconds)"),
        .init(
            document: Fixtures.document(membership: #"{"suspectAfterMillis": 400}"#),
            keyPath: "membership.suspectAfterMillis", value: "400",
            problem: "must be greater than membership.heartbeatMillis (500)"),
        .init(
            document: Fixtures.document(membership: #"{"deadAfterMillis": 1000}"#),
            keyPath: "membership.deadAfterMillis", value: "1000",
            problem: "must be greater than membership.suspectAfterMillis (1500)"),
        .init(
            document: Fixtures.document(membership: #"{"seeds": ["127.0.0.1"]}"#), keyPath: "membership.seeds[0]",
            value: #""127.0.0.1""#, problem: "is not host:port (like 127.0.0.1:47101)"),
        .init(
            document: Fixtures.document(membership: #"{"seeds": "127.0.0.1:1"}"#), keyPath: "membership.seeds",
            value: #""127.0.0.1:1""#, problem: "must be an array"),
        .init(
            document: Fixtures.document(sessions: #"{"cookieName": "SESSION ID"}"#), keyPath: "sessions.cookieName",
            value: #""SESSION ID""#,
            problem: "is not a cookie name: use letters, digits and !#$%&'*+-.^_`|~ only (an RFC 6265 token)"),
        .init(
            document: Fixtures.document(sessions: #"{"cookieName": "sid;path=/"}"#), keyPath: "sessions.cookieName",
            value: #""sid;path=/""#,
            problem: "is not a cookie name: use letters, digits and !#$%&'*+-.^_`|~ only (an RFC 6265 token)"),
        .init(
            document: Fixtures.document(sessions: #"{"cookieName": ""}"#), keyPath: "sessions.cookieName",
            value: #""""#,
            problem: "is not a cookie name: use letters, digits and !#$%&'*+-.^_`|~ only (an RFC 6265 token)"),
        .init(
            document: Fixtures.document(sessions: #"{"cookieName": "__Host-SID"}"#), keyPath: "sessions.cookieName",
            value: #""__Host-SID""#,
            problem: "needs sessions.secureCookies: true, or browsers drop a __Secure- or __Host- cookie"),
        .init(
            document: Fixtures.document(sessions: #"{"routeSuffix": "yes"}"#), keyPath: "sessions.routeSuffix",
            value: #""yes""#, problem: "must be true or false"),
        .init(
            document: Fixtures.document(cluster: #""demo cluster""#), keyPath: "cluster", value: #""demo cluster""#,
            problem: "must be 1 to 64 characters of A-Z a-z 0-9 . _ -"),
        .init(
            document: Fixtures.document(cluster: "\"" + String(repeating: "c", count: 65) + "\""), keyPath: "cluster",
            value: "\"" + String(repeating: "c", count: 65) + "\"",
            problem: "must be 1 to 64 characters of A-Z a-z 0-9 . _ -"),
        .init(
            document: Fixtures.document(cluster: "null"), keyPath: "cluster", value: "null",
            problem: "must be a string"),
        .init(
            document: Fixtures.document(replication: #""delta""#), keyPath: "replication", value: #""delta""#,
            problem: "must be an object"),
        .init(
            document: Fixtures.document(nodes: "[]"), keyPath: "nodes", value: "[]",
            problem: "must list at least one node"),
        .init(
            document: Fixtures.document(
                nodes:
                    #"[{"name": "n1", "replication": "127.0.0.1:1", "http": "127.0.0.1:2"}, {"name": "n1", "replication": "127.0.0.1:3", "http": "127.0.0.1:4"}]"#
            ),
            keyPath: "nodes[1].name", value: #""n1""#,
            problem: "is already the name of nodes[0]; node names must be unique"),
        .init(
            document: Fixtures.document(
                nodes: #"[{"name": "n.1", "replication": "127.0.0.1:1", "http": "127.0.0.1:2"}]"#),
            keyPath: "nodes[0].name", value: #""n.1""#, problem: "must be 1 to 64 characters of A-Z a-z 0-9 _ -"),
        .init(
            document: Fixtures.document(
                nodes:
                    #"[{"name": "a", "replication": "127.0.0.1:1", "http": "127.0.0.1:2"}, {"name": "b", "replication": "127.0.0.1:1", "http": "127.0.0.1:4"}]"#
            ),
            keyPath: "nodes[1].replication", value: #""127.0.0.1:1""#,
            problem: "is already used by nodes[0].replication; every endpoint must be distinct"),
        .init(
            document: Fixtures.document(
                nodes:
                    #"[{"name": "a", "replication": "127.0.0.1:1", "http": "127.0.0.1:2"}, {"name": "b", "replication": "127.0.0.1:3", "http": "127.0.0.1:1"}]"#
            ),
            keyPath: "nodes[1].http", value: #""127.0.0.1:1""#,
            problem: "is already used by nodes[0].replication; every endpoint must be distinct"),
        .init(
            document: Fixtures.document(
                nodes: #"[{"name": "a", "replication": "127.0.0.1:1", "http": "localhost:1"}]"#),
            keyPath: "nodes[0].http", value: #""localhost:1""#,
            problem: "is already used by nodes[0].replication; every endpoint must be distinct"),
        .init(document: Fixtures.document(cluster: "1"), keyPath: "cluster", value: "1", problem: "must be a string"),
        .init(
            document: Fixtures.document(nodes: #"[{"name": "a", "replication": "127.0.0.1:1"}]"#),
            keyPath: "nodes[0].http", value: nil, problem: "is required but missing"),
        .init(
            document: Fixtures.document(nodes: nil), keyPath: "nodes", value: nil, problem: "is required but missing"),
        .init(
            document: Array(#"{"secret": "0123456789abcdef0123456789abcdef", "nodes": []}"#.utf8), keyPath: "cluster",
            value: nil, problem: "is required but missing"),
        .init(document: Array("[1, 2]".utf8), keyPath: "", value: "[1, 2]", problem: "must be an object"),
    ]

    @Test(arguments: badValues)
    func badValueIsNamedByKeyPathAndValue(_ testCase: BadValueCase) {
        let error = Fixtures.error(testCase.document)
        #expect(error?.keyPath == testCase.keyPath)
        #expect(error?.value == testCase.value)
        #expect(error?.problem == testCase.problem)
        #expect(error?.line == nil)
    }

    @Test func badModeReadsAsOneLine() {
        let error = Fixtures.error(Fixtures.document(replication: #"{"mode": "fast"}"#))
        #expect(error?.description == #"replication.mode: "fast" is not one of delta, backup"#)
    }

    @Test func shortSecretSaysWhyAndNeverShowsTheSecret() {
        let error = Fixtures.error(Fixtures.document(secret: #""hunter2-hunter2""#))
        #expect(error?.keyPath == "secret")
        #expect(error?.value == "(15 bytes, not shown)")
        #expect(error?.problem.contains("at least 32 bytes") == true)
        #expect(error?.problem.contains("AES-256") == true)
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test func secretOfTheWrongTypeIsNotShownEither() {
        let error = Fixtures.error(Fixtures.document(secret: "123456789"))
        #expect(error?.description == "secret must be a string, not a number")
    }

    @Test func secretOfExactly32BytesIsAccepted() throws {
        _ = try ClusterConfiguration.parse(Fixtures.document(secret: #""0123456789abcdef0123456789abcdef""#))
        let error = Fixtures.error(Fixtures.document(secret: #""0123456789abcdef0123456789abcde""#))
        #expect(error?.keyPath == "secret")
    }

    @Test func controlCharactersInValuesAreEscapedInMessages() {
        let error = Fixtures.error(Fixtures.document(replication: #"{"mode": "a\nb\u202e"}"#))
        #expect(error?.value == #""a\nb\u202E""#)
        #expect(error?.description.contains("\n") == false)
    }

    @Test func longValuesAreShortenedInMessages() {
        let long = String(repeating: "x", count: 10_000)
        let error = Fixtures.error(Fixtures.document(replication: #"{"mode": "\#(long)"}"#))
        #expect((error?.value?.count ?? .max) <= 81)
        #expect(error?.value?.hasSuffix("…") == true)
    }

    @Test func programmaticConfigurationIsValidatedByTheSameRules() {
        var configuration = ClusterConfiguration(
            cluster: "x", secret: ConfigurationFixtures.secret,
            nodes: [
                .init(name: "n1", replication: Endpoint(host: "example.com", port: 1), http: Endpoint("127.0.0.1:2")!)
            ])
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        configuration.nodes[0].replication = Endpoint(host: "127.0.0.1", port: 1)
        #expect(throws: Never.self) { try configuration.validate() }
        configuration.membership.heartbeatMillis = .max  // the 3× / 6× defaults must not overflow
        let error = #expect(throws: ConfigurationError.self) { try configuration.validate() }
        #expect(error?.keyPath == "membership.heartbeatMillis")
    }
}
