import Foundation
import SessionCluster
import Testing

/// The README's embedding example, compiled and run as written: the text between the markers MUST stay
/// identical to the example under "### Embedding" in README.md and to `Tests/Compatibility/Minimal` (the tests
/// below compare them).
private func readmeEmbeddingExample() async throws {
    // README example begins
    struct Cart: Codable, Sendable {
        var items: [String]
    }

    var settings = ClusterNodeSettings(cluster: "shop", name: "n1")
    settings.secret = "32+ bytes from your secret store, the same on every node"  // required: keys AES-256-GCM
    settings.replicationPort = 0  // any free port: peers learn it from the beacons
    settings.multicast = MulticastSettings(group: "239.255.77.9", port: 47_091, interface: "127.0.0.1")
    settings.replication = ReplicationSettings(mode: .backup, ack: .sync)
    let node = try await ClusterNode.start(settings)
    let watcher = Task { for await event in node.events { print(event) } }  // members joined / dead, transfers…

    let login = try await node.create { $0.set("user", "alice") }  // fresh CSPRNG id
    // The client keeps its session id and version token in two cookies; SessionCookies writes the answer's
    // Set-Cookie values and reads the next request's Cookie header (a token that does not authenticate is ignored).
    let cookies = SessionCookies()
    print(cookies.setCookieHeaders(for: login))  // ["SESSIONID=…; Path=/; HttpOnly; SameSite=Lax", "SESSIONVERSION=…"]
    let browser = "SESSIONID=\(login.id.encoded); SESSIONVERSION=\(login.version.text)"  // its next request's Cookie
    let client = cookies.session(cookieHeaders: [browser])!
    let answer = try await node.update(client.id, token: client.token) { session, changes in
        var cart = try session.decode(Cart.self, "cart") ?? Cart(items: [])
        cart.items.append("book")
        try changes.set("cart", cart)  // Codable attributes are stored as JSON
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

    /// The Swift blocks of README.md, in order.
    static func readmeSwiftBlocks() throws -> [String] {
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        var blocks = [String]()
        var rest = readme[...]
        while let open = rest.range(of: "```swift\n") {
            let close = try #require(rest.range(of: "```", range: open.upperBound..<rest.endIndex))
            blocks.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return blocks
    }

    /// This file's copy of the example, as the README shows it (`import SessionCluster` first, unindented).
    static func exampleHere() throws -> String {
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let begin = try #require(source.range(of: "    // README example begins\n"))
        let end = try #require(source.range(of: "    // README example ends\n"))
        let body = source[begin.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : String($0) }.joined(separator: "\n")
        return "import SessionCluster\n\n" + body
    }

    /// Every Swift file something compiles from the README: this test's example, the minimal package scenario 25
    /// builds, and the framework adapters the compatibility apps build (scenario 24).
    static func compiledFiles() throws -> [String: String] {
        var files = ["ReadmeExampleTests.swift (the example)": try exampleHere()]
        let compatibility = root.appendingPathComponent("Tests/Compatibility")
        let walker = FileManager.default.enumerator(at: compatibility, includingPropertiesForKeys: nil)
        while let url = walker?.nextObject() as? URL {
            if url.lastPathComponent.hasPrefix(".build") {
                walker?.skipDescendants()
                continue
            }
            guard url.pathExtension == "swift" else { continue }
            files[String(url.path.dropFirst(root.path.count + 1))] = try String(contentsOf: url, encoding: .utf8)
        }
        return files
    }

    @Test func everySwiftBlockOfTheReadmeIsAFileThatIsCompiled() throws {
        let blocks = try Self.readmeSwiftBlocks()
        let files = try Self.compiledFiles()
        #expect(blocks.count >= 2, "README.md has its package and example blocks")
        for block in blocks {
            let source = files.first { $0.value == block }?.key
            #expect(
                source != nil,
                "this README.md Swift block is compiled nowhere (make it one of \(files.keys.sorted())):\n\(block)")
        }
        // The minimal package's program is the example this test runs.
        let minimal = files["Tests/Compatibility/Minimal/Sources/shop/main.swift"]
        #expect(minimal == (try Self.exampleHere()), "the minimal package's main.swift and this test's copy differ")
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
