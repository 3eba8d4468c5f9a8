import RoarCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a restarted agent needs to continue where the last one stopped: the next batch
/// sequence number (never re-used) and how far each spool file has been shipped.
/// Kept as JSON in `<outbox>/../<producer>.state`, replaced atomically.
public struct ShipperState: Codable, Hashable, Sendable {
    public static let currentSchema = "roar.agent-state/1"

    public var schema = Self.currentSchema
    /// The session whose spool the offsets refer to.
    public var sessionID: String
    public var nextSequenceNumber: UInt64
    /// Per spool file (relative to the spool directory): bytes shipped and the file's inode,
    /// so a file replaced under the same name is shipped again from its start.
    public var files: [String: ShippedFile]

    public struct ShippedFile: Codable, Hashable, Sendable {
        public var offset: Int64
        public var inode: UInt64

        public init(offset: Int64, inode: UInt64) {
            self.offset = offset
            self.inode = inode
        }
    }

    public init(sessionID: String, nextSequenceNumber: UInt64 = 0, files: [String: ShippedFile] = [:]) {
        self.sessionID = sessionID
        self.nextSequenceNumber = nextSequenceNumber
        self.files = files
    }

    enum CodingKeys: String, CodingKey {
        case schema
        case sessionID = "session_id"
        case nextSequenceNumber = "next_seq"
        case files
    }

    /// The state at `path` for `sessionID`: a fresh one when there is no file. A state of another
    /// session keeps only its sequence number (a producer's seq never goes back).
    static func load(from path: String, sessionID: String) throws(AgentError) -> ShipperState {
        let contents: [UInt8]?
        do {
            contents = try FileSystem.contents(of: path)
        } catch {
            throw AgentError(.stateUnreadable, error)
        }
        guard let bytes = contents else { return ShipperState(sessionID: sessionID) }
        let stored: ShipperState
        do {
            stored = try JSONDecoder().decode(ShipperState.self, from: Data(bytes))
        } catch {
            throw AgentError(
                .stateUnreadable,
                "\(path): cannot read the agent state: not a \(currentSchema) document (\(error)); delete it to start "
                    + "over (batch numbers restart at 0)",
                underlyingError: error)
        }
        if stored.sessionID != sessionID {
            return ShipperState(sessionID: sessionID, nextSequenceNumber: stored.nextSequenceNumber)
        }
        return stored
    }

    func save(to path: String) throws(AgentError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let bytes: [UInt8]
        do {
            bytes = Array(try encoder.encode(self))
        } catch {
            throw AgentError(
                .stateUnwritable, "\(path): cannot encode the agent state: \(error)", underlyingError: error)
        }
        do {
            try FileSystem.replaceAtomically(path, with: bytes)
        } catch {
            throw AgentError(.stateUnwritable, error)
        }
    }
}
