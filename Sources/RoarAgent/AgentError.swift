// RoarAgent: the node agent of host-submit (docs/agent.md). It ships one node's spool to the host
// as sealed roar.segments/1 batches: Shipper (one round), ShipLoop (rounds until SIGTERM),
// VersionHasher (digests of what tasks read), ShipperState (where the last agent stopped).
// No Foundation beyond FoundationEssentials: roar-agent is linked with the Swift stdlib statically.

public import RoarCore

/// The one error of `RoarAgent`: why the node agent cannot start or keep shipping. Each message
/// names the file and what to do. A batch that cannot be written in one round is not an error of
/// the agent: it is logged and its lines are shipped in the next round.
public struct AgentError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// The outbox folder cannot be created.
        case outboxUnavailable
        /// The agent's state file cannot be read, or is not a state document.
        case stateUnreadable
        /// The agent's state file cannot be written.
        case stateUnwritable
    }

    public var code: Code
    /// What failed, naming the file, and what to do.
    public var message: String
    /// The `FileSystem.Failure` or decoding error behind this one, if any.
    public var underlyingError: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, underlyingError: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlyingError = underlyingError
    }

    init(_ code: Code, _ failure: FileSystem.Failure) {
        self.init(code, failure.description, underlyingError: failure)
    }

    public var description: String { message }
}
