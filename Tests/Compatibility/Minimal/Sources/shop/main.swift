import SessionCluster

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
