import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the `wrk`-driven sections (8, loops; 9, Tomcat) share: the script that PUTs to logged-in sessions, and
/// running a load tool to its end.
enum WrkLoad {
    /// Writes to `path` a wrk script that PUTs `body` to `/session/attributes/x`, each request with the next of
    /// `cookies` (one `Cookie` header value per session), round robin.
    static func writePutScript(cookies: [String], body: String, to path: String) throws {
        let lines = cookies.map { "  \"\($0)\"," }
        let lua = """
            local cookies = {
            \(lines.joined(separator: "\n"))
            }
            local i = 0
            request = function()
              i = i + 1
              return wrk.format("PUT", "/session/attributes/x", {["Cookie"] = cookies[(i % #cookies) + 1]},
                "\(body)")
            end
            """
        guard FileManager.default.createFile(atPath: path, contents: Data(lua.utf8)) else {
            throw BenchError("cannot write \(path)")
        }
    }

    /// Runs `executable` to its end (at most 120 s, then killed), its output kept in a log under `directory` until
    /// read; throws on a time-out or a non-zero exit.
    static func runToEnd(_ executable: String, _ arguments: [String], directory: String) throws -> String {
        let name = URL(fileURLWithPath: executable).lastPathComponent
        let log = "\(directory)/\(name)-\(UInt64(Measure.nanos())).log"
        let tool = try ChildProcess(name: name, executable: executable, arguments: arguments, logPath: log)
        guard let status = tool.wait(seconds: 120) else {
            tool.killHard()
            throw BenchError("\(name) did not finish within 120 s")
        }
        let output = readFile(log) ?? ""
        unlink(log)
        guard status == 0 else { throw BenchError("\(name) exited with status \(status): \(output.suffix(300))") }
        return output
    }
}
