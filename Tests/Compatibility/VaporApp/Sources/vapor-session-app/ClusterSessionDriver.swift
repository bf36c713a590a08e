import SessionCluster
import Vapor

/// Vapor's session seam (`AsyncSessionDriver`) over an embedded `ClusterNode`: each `SessionData` key is an
/// attribute. The id Vapor puts in its cookie is "<session id>.<version token>", so every request presents the
/// version it last saw, and any node serves it up to date (read-your-writes, even with `ack: async`).
struct ClusterSessionDriver: AsyncSessionDriver {
    let node: ClusterNode

    func createSession(_ data: SessionData, for request: Request) async throws -> Vapor.SessionID {
        let values = data.snapshot
        let created = try await node.create { changes in
            for (key, value) in values { changes.set(key, value) }
        }
        return Self.cookie(created.id, created.version)
    }

    func readSession(_ sessionID: Vapor.SessionID, for request: Request) async throws -> SessionData? {
        guard let id = SessionCluster.SessionID(cookieValue: sessionID.string) else { return nil }
        do {
            let snapshot = try await node.read(id, token: Self.token(sessionID))
            return SessionData(initialData: snapshot.attributes.mapValues { String(decoding: $0, as: UTF8.self) })
        } catch .notFound, .lost {
            return nil
        }
    }

    func updateSession(_ sessionID: Vapor.SessionID, to data: SessionData, for request: Request) async throws
        -> Vapor.SessionID
    {
        guard let id = SessionCluster.SessionID(cookieValue: sessionID.string) else {
            return try await createSession(data, for: request)
        }
        let values = data.snapshot
        let updated = try await node.update(id, token: Self.token(sessionID)) { snapshot, changes in
            for (key, value) in values where snapshot.string(key) != value { changes.set(key, value) }
            for key in snapshot.attributes.keys where values[key] == nil { changes.remove(key) }
        }
        return Self.cookie(updated.id, updated.version)
    }

    func deleteSession(_ sessionID: Vapor.SessionID, for request: Request) async throws {
        guard let id = SessionCluster.SessionID(cookieValue: sessionID.string) else { return }
        do { try await node.invalidate(id, token: Self.token(sessionID)) } catch .notFound, .lost {}
    }

    /// "<id>.<token>": `SessionID(cookieValue:)` reads the id and stops at the dot.
    static func cookie(_ id: SessionCluster.SessionID, _ version: VersionToken) -> Vapor.SessionID {
        Vapor.SessionID(string: id.encoded + "." + version.text)
    }

    /// The token after the dot; nil when there is none or it cannot be a token.
    static func token(_ sessionID: Vapor.SessionID) -> VersionToken? {
        sessionID.string.split(separator: ".", maxSplits: 1).dropFirst().first.flatMap { VersionToken($0) }
    }
}
