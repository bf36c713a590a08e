import Foundation
import SessionCluster
import Testing

/// The README's embedding example, compiled and run as written: the text between the markers MUST stay
/// identical to the Swift block under "### Embedding" in README.md (the test below compares them).
private func readmeEmbeddingExample() async throws {
    // README example begins
    var settings = ClusterNodeSettings(cluster: "shop", name: "n1")
    settings.secret = "32+ bytes from your secret store, the same on every node"  // required: keys AES-256-GCM
    settings.replicationPort = 0  // any free port: peers learn it from the beacons
    settings.multicast = MulticastSettings(group: "239.255.77.9", port: 47_091, interface: "127.0.0.1")
    settings.replication = ReplicationSettings(mode: .backup, ack: .sync)
    let node = try await ClusterNode.start(settings)
    let watcher = Task { for await event in node.events { print(event) } }  // members joined / dead, transfers…

    let login = try await node.create { $0.set("user", "alice") }  // fresh CSPRNG id
    // Hand login.id and login.version.text (an opaque, authenticated token) to the client; take them back
    // on its next request (VersionToken(cookieText) parses it; a token that does not authenticate is ignored):
    let answer = try await node.update(login.id, token: login.version) { session, changes in
        changes.set("cart", "3 items")
        return session.string("user")
    }
    print("\(answer.value ?? "?") has a cart; the client's next token is \(answer.version.text)")
    await node.shutdown()  // leave, hand off, close; the events end
    await watcher.value
    // README example ends
}

@Suite struct ReadmeExampleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func theEmbeddingExampleIsTheOneInTheReadme() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.range(of: "### Embedding"))
        let open = try #require(
            readme.range(of: "```swift\nimport SessionCluster\n\n", range: section.upperBound..<readme.endIndex))
        let close = try #require(readme.range(of: "```", range: open.upperBound..<readme.endIndex))
        let inReadme = String(readme[open.upperBound..<close.lowerBound])

        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let begin = try #require(source.range(of: "    // README example begins\n"))
        let end = try #require(source.range(of: "    // README example ends\n"))
        let here = source[begin.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : String($0) }.joined(separator: "\n")
        #expect(here == inReadme, "README.md's embedding example and this test's copy differ")
    }

    @Test func theEmbeddingExampleRunsAsWritten() async throws {
        let finished = FirstAnswer<Bool>()
        let outcome = await withCheckedContinuation { continuation in
            finished.waiting(continuation)
            Task {
                do {
                    try await readmeEmbeddingExample()
                    finished.resume(with: true)
                } catch {
                    Issue.record("the README example threw \(error)")
                    finished.resume(with: false)
                }
            }
            Task {
                // A hang guard: generous, since on a busy machine the example's task may wait for a thread.
                try? await Task.sleep(for: .seconds(60))
                if finished.resume(with: false) { Issue.record("the README example did not finish within 60 s") }
            }
        }
        #expect(outcome)
    }
}
