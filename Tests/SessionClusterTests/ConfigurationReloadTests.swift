import SessionCluster
import Testing

@Suite struct ConfigurationReloadTests {
    static func document(
        cookieName: String = "SESSIONID", secret: String = "0123456789abcdef0123456789abcdef",
        mode: String = "delta", keys: String = ""
    ) -> [UInt8] {
        Array(
            """
            {"cluster": "c", "secret": "\(secret)", \(keys)
             "replication": {"mode": "\(mode)"}, "sessions": {"cookieName": "\(cookieName)"},
             "nodes": [{"name": "n1", "replication": "127.0.0.1:47101", "http": "127.0.0.1:48101"}]}
            """.utf8)
    }

    @Test func theSessionCookieMayNotTakeTheVersionCookiesName() {
        do {
            _ = try ClusterConfiguration.parse(Self.document(cookieName: "SESSIONVERSION"))
            Issue.record("a session cookie named like the version cookie was accepted")
        } catch {
            #expect(error.keyPath == "sessions.cookieName" && error.description.contains("version-token cookie"))
        }
    }

    @Test func aKeyReloadTellsKeysFromEverythingElse() throws {
        let original = try ClusterConfiguration.parse(Self.document())
        let rotated = try ClusterConfiguration.parse(
            Self.document(
                secret: "another secret of thirty-two bytes!!",
                keys: #""keys": [{"id": 2, "secret": "0123456789abcdef0123456789abcdef"}], "currentKey": 2,"#))
        let remoded = try ClusterConfiguration.parse(Self.document(mode: "backup"))
        #expect(original.equalsIgnoringKeys(rotated))
        #expect(!original.equalsIgnoringKeys(remoded))
    }

    @Test func anUnknownKeyReadsAsASentence() {
        do {
            _ = try ClusterConfiguration.parse(
                Array(#"{"cluster": "c", "secret": "0123456789abcdef0123456789abcdef", "nodes": [], "extra": 1}"#.utf8))
            Issue.record("an unknown key was accepted")
        } catch {
            #expect(error.description.hasPrefix("extra is not a known key"), "\(error.description)")
        }
    }

    @Test func noMulticastAndNoSeedsIsRefusedForSeveralNodes() {
        let nodes = #"[{"name": "n1", "replication": "127.0.0.1:47101", "http": "127.0.0.1:48101"},"#
            + #" {"name": "n2", "replication": "127.0.0.1:47102", "http": "127.0.0.1:48102"}]"#
        let document = #"{"cluster": "c", "secret": "0123456789abcdef0123456789abcdef", "#
            + #""membership": {"multicast": null, "seeds": []}, "nodes": "# + nodes + "}"
        do {
            _ = try ClusterConfiguration.parse(Array(document.utf8))
            Issue.record("two nodes with no way to find each other were accepted")
        } catch {
            #expect(error.keyPath == "membership.seeds")
        }
    }
}
