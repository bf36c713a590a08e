import Foundation
import Hummingbird
import SessionCluster

/// Hummingbird's key-value seam (`PersistDriver`, used by hummingbird-auth's `SessionStorage`) over an embedded
/// `ClusterNode`: a key is a session named by the key (`SessionID(forKey:)`, the same id on every node), its value
/// is JSON in the attribute "value". `expires` becomes the session's max inactive interval, reset by every access:
/// sliding expiry, which is what sessions want (a plain key-value store would expire at a fixed time). The seam
/// carries no per-client version token, so a read on another node sees a write once it is replicated: run the
/// cluster with `ack: sync` for read-your-writes behind a round-robin balancer.
struct ClusterPersistDriver: PersistDriver {
    let node: ClusterNode

    func create<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        var changes = SessionChanges()
        changes.set("value", Array(try JSONEncoder().encode(value)))
        changes.setMaxInactive(seconds: expires.map(Self.seconds) ?? 0)  // 0: never expires
        let id = SessionID(forKey: Array(key.utf8))
        let result = await withCheckedContinuation { [changes] continuation in
            node.create(id, changes) { continuation.resume(returning: $0) }
        }
        switch result {
        case .success: return
        case .failure(.notFound): throw PersistError.duplicate  // the key's session is held already
        case .failure(let error): throw error
        }
    }

    func set<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        let bytes = Array(try JSONEncoder().encode(value))
        do {
            _ = try await node.update(SessionID(forKey: Array(key.utf8)), token: nil) { _, changes in
                changes.set("value", bytes)
                if let expires { changes.setMaxInactive(seconds: Self.seconds(expires)) }  // nil: keep it
            }
        } catch SessionError.notFound {
            do { try await create(key: key, value: value, expires: expires) } catch let error as PersistError {
                guard error == .duplicate else { throw error }
                try await set(key: key, value: value, expires: expires)  // created meanwhile: write over it
            }
        }
    }

    func get<Object: Codable & Sendable>(key: String, as: Object.Type) async throws -> Object? {
        let snapshot: SessionSnapshot
        do { snapshot = try await node.read(SessionID(forKey: Array(key.utf8)), token: nil) } catch .notFound, .lost {
            return nil
        }
        guard let bytes = snapshot.attributes["value"] else { return nil }
        do { return try JSONDecoder().decode(Object.self, from: Data(bytes)) } catch {
            throw PersistError.invalidConversion
        }
    }

    /// Whole seconds, at least one (the node's unit; 0 would mean "never expires").
    static func seconds(_ duration: Duration) -> Int64 { max(1, duration.components.seconds) }

    /// Called by the app's service group at graceful shutdown (`PersistDriver` is a `Service`): leaves the cluster.
    func shutdown() async throws { await node.shutdown() }

    func remove(key: String) async throws {
        do { try await node.invalidate(SessionID(forKey: Array(key.utf8)), token: nil) } catch .notFound {}
    }
}
