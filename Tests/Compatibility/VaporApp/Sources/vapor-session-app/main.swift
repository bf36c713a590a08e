import Foundation
import SessionCluster
import Vapor

let usage = "usage: vapor-session-app --config FILE --node NAME   (serves on NAME's http address of the cluster FILE)"

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("vapor-session-app: \(message)\n".utf8))
    exit(2)
}

func option(_ name: String) -> String? {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

/// Names the instance that answered (X-Served-By), for the scenario's "every instance served" check.
struct ServedBy: AsyncMiddleware {
    let name: String
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let response = try await next.respond(to: request)
        response.headers.replaceOrAdd(name: "X-Served-By", value: name)
        return response
    }
}

/// The logged-in user; a request whose cookie names no live session gets its cookie expired (and nil).
func user(_ request: Request) -> String? {
    guard request.hasSession else { return nil }
    guard let user = request.session.data["user"] else {
        request.session.destroy()
        return nil
    }
    return user
}

func routes(_ app: Application, node: ClusterNode) {
    app.post("login") { request -> Response in
        guard let name = request.query[String.self, at: "user"] else { return Response(status: .badRequest) }
        request.session.data["user"] = name
        return Response(status: .ok, body: .init(string: "{\"user\":\"\(name)\"}\n"))
    }
    app.on(.PUT, "attr", ":name", body: .collect(maxSize: "64kb")) { request -> Response in
        guard user(request) != nil else { return Response(status: .unauthorized) }
        request.session.data["attr." + request.parameters.get("name")!] = request.body.string ?? ""
        return Response(status: .noContent)  // written by the sessions middleware after this handler
    }
    app.get("attr", ":name") { request -> Response in
        guard user(request) != nil else { return Response(status: .unauthorized) }
        guard let value = request.session.data["attr." + request.parameters.get("name")!] else {
            return Response(status: .notFound)
        }
        return Response(status: .ok, body: .init(string: value))
    }
    app.get("whoami") { request -> Response in
        guard let name = user(request) else { return Response(status: .unauthorized) }
        return Response(status: .ok, body: .init(string: "{\"user\":\"\(name)\"}\n"))
    }
    app.post("logout") { request -> Response in
        if request.hasSession { request.session.destroy() }
        return Response(status: .noContent)
    }
    app.get("health") { _ -> Response in
        // The live peers this node sees (the scenario waits for the whole cluster).
        let peers = await node.members().filter { $0.status == .alive }.count
        return Response(status: .ok, body: .init(string: "peers \(peers)\n"))
    }
}

guard let path = option("--config"), let name = option("--node") else { fail(usage) }
let configuration: ClusterConfiguration
do { configuration = try ClusterConfiguration.load(path: path) } catch { fail("\(error)") }
guard let settings = ClusterNodeSettings(configuration: configuration, node: name),
    let entry = configuration.node(named: name)
else { fail("\(path) has no node \(name)") }

var environment = Environment(name: "production", arguments: ["vapor-session-app"])
try LoggingSystem.bootstrap(from: &environment)
let node = try await ClusterNode.start(settings)
let app = try await Application.make(environment)
app.http.server.configuration.hostname = entry.http.host
app.http.server.configuration.port = Int(entry.http.port)
let driver = ClusterSessionDriver(node: node)
app.sessions.use { _ in driver }  // one driver: Vapor calls this factory again on every access
// Vapor's default session cookie is readable by scripts; a login cookie should not be.
app.sessions.configuration = SessionsConfiguration(cookieName: "vapor-session") { id in
    HTTPCookies.Value(string: id.string, isHTTPOnly: true, sameSite: .lax)
}
app.middleware.use(ServedBy(name: name))
app.middleware.use(app.sessions.middleware)
routes(app, node: node)
print("vapor-session-app \(name) serving on \(entry.http)")
do {
    try await app.execute()  // until SIGTERM / SIGINT (Vapor's serve command handles them)
} catch {
    FileHandle.standardError.write(Data("vapor-session-app: \(error)\n".utf8))
}
await node.shutdown()  // leave the cluster once the server has stopped
try await app.asyncShutdown()
