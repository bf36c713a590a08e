import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A cluster of Tomcat instances on loopback, the baseline of section 9: each instance its own CATALINA_BASE
/// generated under the bench's scratch directory from `Tests/Compatibility/Tomcat` (server.xml template, the
/// webapp), on the installed Tomcat's CATALINA_HOME; started with `catalina.sh run` (which execs the JVM, so the
/// PID is the JVM's) and stopped by PID with SIGTERM. Membership by multicast on 127.0.0.1 with a group and port
/// of its own.
final class TomcatCluster {
    /// Where Debian's tomcat10 package installs Tomcat (`CATALINA_HOME`); `$TOMCAT_HOME` overrides.
    static var home: String { ProcessInfo.processInfo.environment["TOMCAT_HOME"] ?? "/usr/share/tomcat10" }

    let names: [String]
    let mode: String
    let ack: String
    private(set) var httpAddress: [String: String] = [:]
    private(set) var processes: [String: ChildProcess] = [:]
    /// This cluster's directory: one CATALINA_BASE per instance.
    let directory: String
    nonisolated(unsafe) private static var clusters = 0

    /// Whether Tomcat is installed where `home` says.
    static var isInstalled: Bool { access("\(home)/bin/catalina.sh", X_OK) == 0 }

    /// The directory of the server.xml template and the webapp: `Tests/Compatibility/Tomcat` of the package the
    /// bench runs in (the working directory, else four levels above the executable in `.build`).
    static func locateFiles() -> String? {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var root = executable
        for _ in 0..<4 { root.deleteLastPathComponent() }
        let candidates = [FileManager.default.currentDirectoryPath, root.path].map {
            "\($0)/Tests/Compatibility/Tomcat"
        }
        return candidates.first { access("\($0)/server.xml.template", R_OK) == 0 }
    }

    /// Generates `instances` CATALINA_BASE directories under `scratch` for `mode` (delta → DeltaManager, backup →
    /// BackupManager) and `ack` (async → channel send options 8, sync → 6: the sender waits until each receiver
    /// processed the message).
    init(instances: Int, mode: String, ack: String, files: String, scratch: String) throws {
        names = (1...instances).map { "t\($0)" }
        self.mode = mode
        self.ack = ack
        TomcatCluster.clusters += 1
        let serial = TomcatCluster.clusters
        directory = "\(scratch)/tomcat-\(serial)-\(mode)-\(ack)"
        let sendOptions = ack == "sync" ? 6 : 8
        let manager =
            mode == "backup"
            ? "<Manager className=\"org.apache.catalina.ha.session.BackupManager\" "
                + "notifyListenersOnReplication=\"true\" mapSendOptions=\"\(sendOptions)\"/>"
            : "<Manager className=\"org.apache.catalina.ha.session.DeltaManager\" expireSessionsOnShutdown=\"false\" "
                + "notifyListenersOnReplication=\"true\"/>"
        guard let template = readFile("\(files)/server.xml.template"), template.contains("@MANAGER@") else {
            throw BenchError("cannot read \(files)/server.xml.template")
        }
        let ports = freePorts(2 * instances + 1)
        let pid = Int(getpid())
        // Third octet 100-149: apart from the session-node clusters' groups (200-249).
        let group = "239.255.\(100 + (pid / 250 + serial) % 50).\(pid % 250 + 1)"
        let fileManager = FileManager.default
        for (index, name) in names.enumerated() {
            httpAddress[name] = "127.0.0.1:\(ports[index])"
            let base = "\(directory)/\(name)"
            for folder in ["conf", "logs", "work", "temp", "webapps"] {
                try fileManager.createDirectory(atPath: "\(base)/\(folder)", withIntermediateDirectories: true)
            }
            let server = template.replacingOccurrences(of: "@HTTP_PORT@", with: "\(ports[index])")
                .replacingOccurrences(of: "@RECEIVER_PORT@", with: "\(ports[instances + index])")
                .replacingOccurrences(of: "@JVM_ROUTE@", with: name)
                .replacingOccurrences(of: "@CHANNEL_SEND_OPTIONS@", with: "\(sendOptions)")
                .replacingOccurrences(of: "@MANAGER@", with: manager)
                .replacingOccurrences(of: "@MCAST_GROUP@", with: group)
                .replacingOccurrences(of: "@MCAST_PORT@", with: "\(ports[2 * instances])")
            try write(server, to: "\(base)/conf/server.xml")
            try write(try TomcatCluster.defaultWebXML(), to: "\(base)/conf/web.xml")
            if let properties = TomcatCluster.packageFile("catalina.properties") {
                try fileManager.copyItem(atPath: properties, toPath: "\(base)/conf/catalina.properties")
            }
            try fileManager.copyItem(atPath: "\(files)/webapp", toPath: "\(base)/webapps/ROOT")
        }
    }

    deinit { stopAll() }

    /// A file of the installed Tomcat's own configuration (Debian keeps the pristine copies in `etc`).
    static func packageFile(_ name: String) -> String? {
        ["\(home)/etc/\(name)", "\(home)/conf/\(name)", "/etc/tomcat10/\(name)"].first { access($0, R_OK) == 0 }
    }

    /// The installed conf/web.xml (default servlet, JSP servlet, MIME types) with Jasper in production mode
    /// (`development` false: no check of the JSP's modification time on requests), as Jasper's docs advise for
    /// production.
    static func defaultWebXML() throws -> String {
        guard let path = packageFile("web.xml"), let text = readFile(path) else {
            throw BenchError("no web.xml in \(home)/etc or \(home)/conf")
        }
        let marker = "<servlet-class>org.apache.jasper.servlet.JspServlet</servlet-class>"
        return text.replacingOccurrences(
            of: marker,
            with: marker + "\n        <init-param><param-name>development</param-name>"
                + "<param-value>false</param-value></init-param>")
    }

    /// Starts the instances one after another, each once the previous one answers HTTP: a DeltaManager asks a
    /// running member for the sessions when it starts, and a member still deploying drops that request (the
    /// asker then waits 60 s).
    func start(timeout: Double = 120) throws {
        for name in names {
            let base = "\(directory)/\(name)"
            let process = try ChildProcess(
                name: "tomcat \(name)", executable: "/usr/bin/env",
                arguments: [
                    "CATALINA_HOME=\(TomcatCluster.home)", "CATALINA_BASE=\(base)", "CATALINA_TMPDIR=\(base)/temp",
                    "JAVA_OPTS=-Djava.awt.headless=true -Djava.net.preferIPv4Stack=true",
                    "\(TomcatCluster.home)/bin/catalina.sh", "run",
                ],
                logPath: "\(base)/logs/console.log")
            processes[name] = process
            try waitServing(name, timeout: timeout)
        }
    }

    /// Waits until `name` answers a request of the webapp (401: no session), which also compiles its JSP.
    func waitServing(_ name: String, timeout: Double) throws {
        let deadline = Measure.seconds() + timeout
        while Measure.seconds() < deadline {
            guard processes[name]?.isRunning == true else {
                throw BenchError("tomcat \(name) exited; see \(directory)/\(name)/logs/console.log")
            }
            let client = HTTPClient(address: httpAddress[name]!)
            defer { client.close() }
            if let answer = try? client.request("GET", "/session/attributes/x"), answer.status == 401 { return }
            Measure.sleep(0.1)
        }
        throw BenchError("tomcat \(name) did not serve within \(Int(timeout)) s; see \(directory)/\(name)/logs")
    }

    /// The Tomcat version as the first instance logged it (`Apache Tomcat/10.1.x`).
    func version() -> String? {
        guard let log = readFile("\(directory)/\(names[0])/logs/console.log"),
            let start = log.range(of: "Apache Tomcat/")
        else { return nil }
        return String(log[start.upperBound...].prefix { !$0.isWhitespace && $0 != "]" })
    }

    /// Proves the cluster replicates: a session logged in and written through the first instance is read, after
    /// `settle` s, through each other instance in turn (the cookie carried along like a browser's:
    /// JvmRouteBinderValve renames the session to the instance that served it), polling up to `timeout` s for each.
    /// Up to `attempts` fresh sessions; returns a line saying how long the reads took and how earlier attempts
    /// failed; throws when every attempt failed.
    ///
    /// Why more than one: right after the cluster starts, BackupManager with asynchronous messages was seen to
    /// lose the first write made at once after its login (the backup kept serving the session without it for
    /// 5 s), while later sessions replicated every time. The line printed says so when it happens.
    func verifyReplication(attempts: Int = 3, settle: Double = 0.5, timeout: Double = 5) throws -> String {
        var failures = [String]()
        for _ in 0..<attempts {
            do {
                let line = try checkOnce(settle: settle, timeout: timeout)
                guard !failures.isEmpty else { return line }
                return line + " (attempt \(failures.count + 1); before: " + failures.joined(separator: "; ") + ")"
            } catch let error as BenchError {
                failures.append(error.description)
            }
        }
        throw BenchError(
            "tomcat \(mode)/\(ack) does NOT replicate (\(attempts) sessions tried): "
                + failures.joined(separator: "; ") + "; no comparison made")
    }

    private func checkOnce(settle: Double, timeout: Double) throws -> String {
        let writer = HTTPClient(address: httpAddress[names[0]]!)
        defer { writer.close() }
        let login = try writer.postForm("/login", "user=replication-check")
        guard login.status == 200, var cookie = writer.cookie("JSESSIONID") else {
            throw BenchError("POST /login answered \(login.status) without a JSESSIONID")
        }
        let value = "check-\(UInt64(Measure.nanos()))"
        let put = try writer.request("PUT", "/session/attributes/x", body: Array(value.utf8))
        guard put.status == 204 else { throw BenchError("PUT through \(names[0]) answered \(put.status)") }
        Measure.sleep(settle)
        let written = Measure.seconds()
        var seen = [String]()
        for name in names.dropFirst() {
            let reader = HTTPClient(address: httpAddress[name]!)
            defer { reader.close() }
            let deadline = Measure.seconds() + timeout
            var last = "no answer"
            while true {
                reader.setCookie("JSESSIONID", cookie)
                if let answer = try? reader.request("GET", "/session/attributes/x") {
                    if let renamed = reader.cookie("JSESSIONID") { cookie = renamed }
                    if answer.status == 200 && answer.text == value { break }
                    last = "\(answer.status) \(answer.text.prefix(40))"
                }
                guard Measure.seconds() < deadline else {
                    throw BenchError(
                        "a write through \(names[0]) was not visible through \(name) within \(fixed(timeout, 0)) s "
                            + "(last answer: \(last))")
                }
                Measure.sleep(0.005)
            }
            seen.append("\(name) after \(fixed((Measure.seconds() - written) * 1000, 0)) ms")
        }
        return "written through \(names[0]), \(fixed(settle * 1000, 0)) ms pause, read back through "
            + seen.joined(separator: ", ")
    }

    /// CPU time of every instance so far (user + system, every thread), µs.
    var cpuMicros: Int { processes.values.reduce(0) { $0 + ($1.cpuMicros ?? 0) } }

    /// Stops every instance (SIGTERM: the JVM's shutdown hook stops Tomcat; SIGKILL after 15 s).
    func stopAll() {
        for process in processes.values where process.isRunning { kill(process.pid, SIGTERM) }
        for process in processes.values { process.stop(grace: 15) }
    }

    /// Removes the generated directories (after a clean run; kept when something failed).
    func removeFiles() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func write(_ text: String, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw BenchError("cannot write \(path)")
        }
    }
}
