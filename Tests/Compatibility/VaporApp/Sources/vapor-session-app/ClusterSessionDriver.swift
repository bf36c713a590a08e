import SessionCluster
import Vapor

/// Vapor's session seam (`AsyncSessionDriver`) over an embedded `ClusterNode`: each `SessionData` key is an
/// attribute. The id Vapor puts in its cookie is `SessionReference.combined`, "<session id>.<version token>", so
/// every request presents the version it last saw, and any node serves it up to date (read-your-writes, even
/// with `ack: async`).
struct ClusterSessionDriver: AsyncSessionDriver {
    let node: ClusterNode

    func createSession(_ data: SessionData, for request: Request) async throws -> Vapor.SessionID {
        let values = data.snapshot
        let created = try await node.create { changes in
            for (key, value) in values { changes.set(key, value) }
        }
        return Vapor.SessionID(string: SessionReference(id: created.id, token: created.version).combined)
    }

    func readSession(_ sessionID: Vapor.SessionID, for request: Request) async throws -> SessionData? {
        guard let session = SessionReference(combined: sessionID.string) else { return nil }
        do {
            return SessionData(initialData: try await node.read(session.id, token: session.token).strings())
        } catch .notFound, .lost {
            return nil  // ended, expired or never existed: Vapor starts a new session
        }
    }

    func updateSession(_ sessionID: Vapor.SessionID, to data: SessionData, for request: Request) async throws
        -> Vapor.SessionID
    {
        guard let session = SessionReference(combined: sessionID.string) else {
            return try await createSession(data, for: request)
        }
        let values = data.snapshot
        let updated = try await node.update(session.id, token: session.token) { snapshot, changes in
            for (key, value) in values where snapshot.string(key) != value { changes.set(key, value) }
            for key in snapshot.attributes.keys where values[key] == nil { changes.remove(key) }
        }
        return Vapor.SessionID(string: SessionReference(id: updated.id, token: updated.version).combined)
    }

    func deleteSession(_ sessionID: Vapor.SessionID, for request: Request) async throws {
        guard let session = SessionReference(combined: sessionID.string) else { return }
        do { try await node.invalidate(session.id, token: session.token) } catch .notFound, .lost {}
    }
}
