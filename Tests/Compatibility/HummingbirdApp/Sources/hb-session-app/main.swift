import Foundation
import Hummingbird
import HummingbirdAuth
import SessionCluster

/// What the app keeps per login: the user and the attributes written through `/attr/NAME`.
struct AppSession: Codable, Sendable {
    var user: String
    var attributes: [String: String] = [:]
}

typealias Context = BasicSessionRequestContext<AppSession, AppSession>

let usage = """
    usage: hb-session-app --config FILE --node NAME   serve on NAME's http address, sessions in the cluster
           hb-session-app --memory --http HOST:PORT   sessions in memory only (Hummingbird's MemoryPersistDriver)
    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("hb-session-app: \(message)\n".utf8))
    exit(2)
}

func option(_ name: String) -> String? {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

func routes(_ router: Router<Context>, name: String, node: ClusterNode?) {
    router.addMiddleware {
        // Which instance answered, for the scenario's "every instance served" check.
        ServedByMiddleware(name: name)
    }
    router.post("/login") { request, context -> Response in
        guard let user = request.uri.queryParameters.get("user") else { return Response(status: .badRequest) }
        context.sessions.createSession(AppSession(user: user), expiresIn: .seconds(1800))
        return text(.ok, "{\"user\":\"\(user)\"}\n")
    }
    router.put("/attr/:name") { request, context -> Response in
        guard var session = context.sessions.session else { return Response(status: .unauthorized) }
        let name = try context.parameters.require("name")
        let body = try await request.body.collect(upTo: 64 * 1024)
        session.attributes[name] = String(buffer: body)
        _ = context.sessions.updateSession(session)  // written by the session middleware after this handler
        return Response(status: .noContent)
    }
    router.get("/attr/:name") { _, context -> Response in
        guard let session = context.sessions.session else { return Response(status: .unauthorized) }
        let name = try context.parameters.require("name")
        guard let value = session.attributes[name] else { return Response(status: .notFound) }
        return text(.ok, value)
    }
    router.get("/whoami") { _, context -> Response in
        guard let session = context.sessions.session else { return Response(status: .unauthorized) }
        return text(.ok, "{\"user\":\"\(session.user)\",\"attributes\":\(session.attributes.count)}\n")
    }
    router.post("/logout") { _, context -> Response in
        context.sessions.clearSession()
        return Response(status: .noContent)
    }
    router.get("/health") { _, _ -> Response in
        // The live peers this node sees (the scenario waits for the whole cluster); 0 without a cluster.
        let peers = await node?.members().filter { $0.status == .alive }.count ?? 0
        return text(.ok, "peers \(peers)\n")
    }
}

func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
    Response(status: status, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: body)))
}

struct ServedByMiddleware: RouterMiddleware {
    let name: String
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response = try await next(request, context)
        response.headers[.init("X-Served-By")!] = name
        return response
    }
}

func serve(driver: some PersistDriver, host: String, port: Int, name: String, node: ClusterNode?) async throws {
    let router = Router(context: Context.self)
    router.addMiddleware { SessionMiddleware(storage: driver) }
    routes(router, name: name, node: node)
    // The driver is a service of the app: at SIGTERM the server stops first, then the driver (the node leaves).
    let app = Application(
        router: router, configuration: .init(address: .hostname(host, port: port)), services: [driver],
        onServerRunning: { _ in print("hb-session-app \(name) serving on \(host):\(port)") })
    try await app.runService()
}

if CommandLine.arguments.contains("--memory") {
    guard let address = option("--http"), let endpoint = Endpoint(address) else { fail(usage) }
    try await serve(
        driver: MemoryPersistDriver(), host: endpoint.host, port: Int(endpoint.port), name: "memory", node: nil)
} else {
    guard let path = option("--config"), let name = option("--node") else { fail(usage) }
    let configuration: ClusterConfiguration
    do { configuration = try ClusterConfiguration.load(path: path) } catch { fail("\(error)") }
    guard let settings = ClusterNodeSettings(configuration: configuration, node: name),
        let entry = configuration.node(named: name)
    else { fail("\(path) has no node \(name)") }
    let node = try await ClusterNode.start(settings)
    try await serve(
        driver: ClusterPersistDriver(node: node), host: entry.http.host, port: Int(entry.http.port), name: name,
        node: node)
}
