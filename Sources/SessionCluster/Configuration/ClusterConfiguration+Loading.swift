import Foundation

extension ClusterConfiguration {
    /// Reads, parses and validates the configuration file at `path`.
    ///
    /// Errors name the file; a missing, unreadable or oversized file is an error of its own, and at most
    /// `JSONParser.maximumBytes` + 1 bytes are ever read, so pointing it at `/dev/zero` fails fast.
    public static func load(path: String) throws(ConfigurationError) -> ClusterConfiguration {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigurationError(keyPath: "", value: nil, problem: "no such file", file: path)
        }
        guard !isDirectory.boolValue else {
            throw ConfigurationError(keyPath: "", value: nil, problem: "is a directory, not a file", file: path)
        }
        let bytes: [UInt8]
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            bytes = [UInt8](try handle.read(upToCount: JSONParser.maximumBytes + 1) ?? Data())
        } catch {
            throw ConfigurationError(
                keyPath: "", value: nil, problem: "cannot be read: \(error.localizedDescription)", file: path)
        }
        guard bytes.count <= JSONParser.maximumBytes else {
            throw ConfigurationError(
                keyPath: "", value: nil,
                problem: "is larger than the limit of \(JSONParser.maximumBytes) bytes for a configuration file",
                file: path)
        }
        do throws(ConfigurationError) {
            var configuration = try parse(bytes)
            // A relative persistence directory is relative to the file, not to wherever the node was started.
            // Made absolute too: the node's messages then name the real place, and a later chdir changes nothing.
            let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
            let slash = absolute.lastIndex(of: "/")
            let base = slash.map { String(absolute[..<$0]) } ?? "/"
            configuration.resolvePersistenceDirectory(against: slash == absolute.startIndex ? "/" : base)
            return configuration
        } catch {
            throw error.inFile(path)
        }
    }
}
