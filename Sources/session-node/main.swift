import CLinuxShims
@preconcurrency import Foundation
import HTTPFrontEnd
import RESPFrontEnd
import SessionCluster

/// Command line of `session-node`.
enum Command {
    case run(config: String, node: String, logLevel: LogLevel)
    case up(config: String)
    case help(String)
}

let usage = """
    usage:
      session-node up FILE                          start every node of FILE as a local cluster
      session-node run --config FILE --node NAME    run one node of FILE
                       [--log-level debug|info|notice|warning|error]
      session-node --help

    FILE is a cluster definition (see cluster-configs/). Exit status: 0 after a clean stop,
    2 for bad arguments or configuration, 1 when a node fails.
    """

func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("session-node: \(message)\n".utf8))
    exit(status)
}

func parse(_ arguments: [String]) -> Command {
    guard let verb = arguments.first else { return .help(usage) }
    var rest = Array(arguments.dropFirst())
    if rest.contains("--help") || rest.contains("-h") || verb == "--help" || verb == "-h" || verb == "help" {
        return .help(usage)
    }
    switch verb {
    case "up":
        guard rest.count == 1 else { fail("up takes exactly one FILE\n\(usage)") }
        return .up(config: rest[0])
    case "run":
        var config: String?
        var node: String?
        var level = LogLevel.info
        while !rest.isEmpty {
            let flag = rest.removeFirst()
            guard let value = rest.first else { fail("\(flag) needs a value") }
            rest.removeFirst()
            switch flag {
            case "--config": config = value
            case "--node": node = value
            case "--log-level":
                guard let named = LogLevel(name: value) else {
                    fail("--log-level must be one of \(LogLevel.allCases.map(\.description)), not \(value)")
                }
                level = named
            default: fail("unknown option \(flag)\n\(usage)")
            }
        }
        guard let config, let node else { fail("run needs --config FILE and --node NAME\n\(usage)") }
        return .run(config: config, node: node, logLevel: level)
    default:
        fail("unknown command '\(verb)'\n\(usage)")
    }
}

func load(_ path: String) -> ClusterConfiguration {
    do {
        return try ClusterConfiguration.load(path: path)
    } catch {
        fail("\(error)")  // the error names the file (and line, for a syntax error)
    }
}

/// Every delivery of `number` (the signal's default action is disabled).
func signals(_ number: Int32) -> AsyncStream<Void> {
    signal(number, SIG_IGN)
    let (stream, continuation) = AsyncStream<Void>.makeStream()
    let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
    source.setEventHandler { continuation.yield() }
    source.resume()
    let cancel = SignalSourceHandle(source: source)
    continuation.onTermination = { _ in cancel.source.cancel() }
    return stream
}

/// A dispatch signal source carried into a `@Sendable` closure.
// @unchecked: DispatchSource's methods are thread-safe; the handle is only used to cancel it once.
struct SignalSourceHandle: @unchecked Sendable {
    let source: any DispatchSourceSignal
}

/// SIGINT and SIGTERM, caught from the moment this is created (their default action, dying on the spot without
/// leaving the cluster, is disabled): `first()` waits for the first of them, even one that came before it was called.
final class TerminationSignals: Sendable {
    private let stream: AsyncStream<Int32>
    private let sources: [SignalSourceHandle]

    init() {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        sources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return SignalSourceHandle(source: source)
        }
    }

    func first() async -> Int32 {
        var iterator = stream.makeAsyncIterator()
        return await iterator.next() ?? SIGTERM
    }
}

func runNode(configPath: String, name: String, logLevel: LogLevel) async -> Int32 {
    // The heap grows in 32 MiB steps instead of 128 KiB ones: restoring a million sessions grew it about 12,000
    // times, each an `mprotect` that split and merged the mapping (11 % of the start-up). Address space only: pages
    // are still touched, and counted in the RSS, as they are used.
    _ = csc_heap_top_pad(32 << 20)
    // Signals first: a SIGTERM or SIGHUP that comes while the node starts must not kill it on the spot. A SIGHUP
    // before the reload handler exists changes nothing: the keys are read at start.
    let termination = TerminationSignals()
    signal(SIGHUP, SIG_IGN)
    // Started by `session-node up`: stop (gracefully, SIGTERM) when the launcher dies, however it dies. The
    // parent-death signal belongs to the thread that asks for it, and this async code runs on a pool thread that
    // retires when idle (after which the signal never came: nodes outlived a SIGKILLed launcher). So a watchdog
    // also checks every 500 ms whether the launcher is still the parent, and raises SIGTERM when it is not.
    var launcherWatchdog: DispatchSourceTimer?
    if let launcher = ProcessInfo.processInfo.environment[Launcher.parentVariable].flatMap(Int32.init) {
        _ = csc_die_with_parent(SIGTERM)
        if getppid() != launcher { fail("the launcher (pid \(launcher)) is gone; not starting", status: 1) }
        let watchdog = DispatchSource.makeTimerSource(queue: .global())
        watchdog.schedule(deadline: .now() + .milliseconds(500), repeating: .milliseconds(500))
        watchdog.setEventHandler {
            if getppid() != launcher { kill(getpid(), SIGTERM) }
        }
        watchdog.resume()
        launcherWatchdog = watchdog
    }
    defer { launcherWatchdog?.cancel() }
    let configuration = load(configPath)
    guard var settings = ClusterNodeSettings(configuration: configuration, node: name),
        let entry = configuration.node(named: name)
    else {
        fail("\(configPath) has no node \(name) (nodes: \(configuration.nodes.map(\.name).joined(separator: ", ")))")
    }
    // The node's records come from its log thread (never its loop); a stalled stdout blocks only that thread.
    settings.logLevel = logLevel
    settings.logHandler = { record in StandardOutput.writeInOrder(record.formatted) }
    let say = ProcessLog(node: name, level: logLevel)
    // Whatever is still queued for stdout is written before the process exits (if stdout drains at all).
    defer { StandardOutput.flush(waitingAtMostMillis: 1_000) }
    // Test-only: plant a deliberate bug to show that an integration scenario catches it (README, "Tests").
    if let fault = ProcessInfo.processInfo.environment["SESSIONCLUSTER_PLANTED_FAULT"] {
        guard let planted = PlantedFault(rawValue: fault) else {
            fail("SESSIONCLUSTER_PLANTED_FAULT must be one of \(PlantedFault.allCases.map(\.rawValue))")
        }
        settings.replication.plantedFault = planted
        say(.warning, "planted fault \(fault) is active (test only)")
    }
    let node: ClusterNode
    do {
        node = try await ClusterNode.start(settings)
    } catch {
        fail("cannot start node \(name): \(error)", status: 1)
    }
    var frontEnd = FrontEndSettings()
    frontEnd.cookies = SessionCookies(configuration: configuration)
    frontEnd.routeSuffix = configuration.sessions.routeSuffix
    let routes = SessionRoutes(node: node, settings: frontEnd)
    let httpLimits = configuration.limits.http
    var limits = HTTPLimits()
    limits.maxHeaderBytes = httpLimits.maxHeaderBytes
    limits.maxBodyBytes = httpLimits.maxBodyBytes
    var serverSettings = HTTPServerSettings()
    serverSettings.maxConnections = httpLimits.maxConnections
    var redisClients = entry.redis.map { _ in configuration.redis.maxClients }
    if let (limit, before) = DescriptorLimit.raiseToHard() {
        // Set aside: standard streams, listeners, epoll and wake-up descriptors, the peers' links both ways,
        // and each shard's persistence files.
        let reserve =
            64 + configuration.limits.replication.maxInboundLinks + configuration.nodes.count * settings.loops
            + 16 * settings.loops
        let fitted = DescriptorLimit.fit(
            limit: limit, reserve: reserve, http: serverSettings.maxConnections, redis: redisClients)
        if fitted.http != serverSettings.maxConnections || fitted.redis != redisClients {
            say(
                .warning,
                "the open-descriptor limit (\(limit), hard limit included) is below what the connection caps need "
                    + "(\(serverSettings.maxConnections) HTTP + \(redisClients ?? 0) Redis + \(reserve) set aside): "
                    + "HTTP maxConnections lowered to \(fitted.http)"
                    + (fitted.redis.map { ", Redis maxClients lowered to \($0)" } ?? "")
                    + "; raise the limit (ulimit -n, or LimitNOFILE= under systemd) to keep them",
                always: true)
            serverSettings.maxConnections = fitted.http
            redisClients = fitted.redis
        } else if limit > before {
            say(.info, "open-descriptor limit raised from \(before) to \(limit)")
        }
    }
    serverSettings.headerTimeoutMillis = httpLimits.headerTimeoutMillis
    serverSettings.bodyTimeoutMillis = httpLimits.bodyTimeoutMillis
    serverSettings.idleTimeoutMillis = httpLimits.idleTimeoutMillis
    let server: HTTPServer
    do {
        server = try HTTPServer.start(
            host: entry.http.host, port: entry.http.port, limits: limits, settings: serverSettings,
            on: node.eventLoops, handler: routes.handle)
        routes.server.value = server
    } catch {
        await node.shutdown()
        fail("cannot serve HTTP on \(entry.http): \(error)", status: 1)
    }
    var redisServer: RESPServer?
    if let endpoint = entry.redis {
        var redisSettings = RESPServerSettings(password: configuration.redis.password)
        // A value larger than a session may hold is refused as the client sends it.
        redisSettings.limits.maxBulkBytes = configuration.sessions.maxSessionBytes
        redisSettings.maxConnections = redisClients ?? configuration.redis.maxClients
        do {
            redisServer = try RESPServer.start(
                host: endpoint.host, port: endpoint.port, node: node, settings: redisSettings)
        } catch {
            await server.stop()
            await node.shutdown()
            fail("cannot serve the Redis protocol on \(endpoint): \(error)", status: 1)
        }
    }
    // Listening before the "up" line: the launcher holds back a SIGHUP sent while a node starts until that line.
    let hangUps = signals(SIGHUP)
    let up =
        "node \(name) (\(node.me.id)) up: http://\(server.address) replication \(node.me.replication) "
        + (redisServer.map { "redis \($0.address) " } ?? "")
        + "mode \(configuration.replication.mode.rawValue)/\(configuration.replication.ack.rawValue)"
        + " loops \(settings.loops)"
        + (settings.membership.protocolKind == .swim ? " membership swim" : "")
        + (settings.persistence.map {
            " persistence \($0.mode.rawValue)"
                + ($0.mode == .log ? "/\($0.fsync.rawValue)" : "") + " in \($0.nodeDirectory(name))"
        } ?? " persistence none (sessions in memory only)")
    say(.notice, up, always: true)
    // SIGHUP: reload the keys of the cluster file (rotation without downtime: add a key everywhere, then
    // make it current everywhere, then remove the old one — one edit and one SIGHUP per step).
    let reloads = Task {
        for await _ in hangUps {
            do {
                let reloaded = try ClusterConfiguration.load(path: configPath)
                let keyring = try reloaded.keyring()
                try await node.updateKeyring { $0 = keyring }
                let keys = await node.keyIDs()
                say(.notice, "keys reloaded from \(configPath): current \(keys.current), installed \(keys.installed)")
                if !reloaded.equalsIgnoringKeys(configuration) {
                    say(
                        .warning,
                        "\(configPath) changed more than its keys; SIGHUP applies only the keys "
                            + "(secret, keys, currentKey): restart the node to apply the rest")
                }
            } catch {
                say(.error, "keys NOT reloaded (still using the previous ones): \(error)")
            }
        }
    }
    let signal = await termination.first()
    reloads.cancel()
    say(.notice, "node \(name) stopping (signal \(signal)): leaving the cluster", always: true)
    await redisServer?.stop()
    await server.stop()
    await node.shutdown()
    let persistence = await node.stats().persistence
    if settings.persistence != nil, persistence.writeFailures > 0 {
        // The sessions are not on disk: a restart of every node now would lose them. Say so to the supervisor.
        say(.error, "node \(name) stopped, but its snapshot was NOT written (see the error above)", always: true)
        return 1
    }
    say(.notice, "node \(name) stopped", always: true)
    return 0
}

switch parse(Array(CommandLine.arguments.dropFirst())) {
case .help(let text):
    print(text)
case .up(let config):
    exit(Launcher.up(configPath: config, configuration: load(config)))
case .run(let config, let node, let level):
    exit(await runNode(configPath: config, name: node, logLevel: level))
}
