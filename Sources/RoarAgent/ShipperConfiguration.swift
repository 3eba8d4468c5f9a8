public import RoarCore
public import RoarTransport

/// Everything one `roar-agent ship` process is told.
public struct ShipperConfiguration: Sendable {
    /// The node-local spool directory Ray workers write into.
    public var spoolDirectory: String
    /// Where sealed batches are left for the forwarder (`*.rbat`).
    public var outboxDirectory: String
    /// The agent's state file (next seq, shipped offsets).
    public var statePath: String
    /// Names this agent in batch headers and file names (e.g. `node-<ray node id>`).
    public var producer: String
    /// The run id.
    public var sessionID: String
    public var recipient: RunPublicKey
    /// How node paths map back to host paths; decides, with `filter`, which reads are hashed.
    public var pathRestorer: PathRestorer?
    /// The host's filter, applied to restored paths.
    public var filter: PathFilter
    /// Segment bytes per batch; a single longer line is shipped alone.
    public var maximumBatchBytes: Int
    /// Backpressure: no new batch while the outbox holds this many.
    public var maximumOutboxFiles: Int
    /// Where problems are reported (stderr in the executable).
    public var log: @Sendable (String) -> Void

    public static let defaultMaximumBatchBytes = 4 * 1024 * 1024
    public static let defaultMaximumOutboxFiles = 64

    public init(
        spoolDirectory: String, outboxDirectory: String, statePath: String? = nil, producer: String,
        sessionID: String, recipient: RunPublicKey, pathRestorer: PathRestorer? = nil, filter: PathFilter,
        maximumBatchBytes: Int = defaultMaximumBatchBytes, maximumOutboxFiles: Int = defaultMaximumOutboxFiles,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.spoolDirectory = spoolDirectory
        self.outboxDirectory = outboxDirectory
        self.statePath = statePath ?? Self.defaultStatePath(outbox: outboxDirectory, producer: producer)
        self.producer = producer
        self.sessionID = sessionID
        self.recipient = recipient
        self.pathRestorer = pathRestorer
        self.filter = filter
        self.maximumBatchBytes = max(1, maximumBatchBytes)
        self.maximumOutboxFiles = max(1, maximumOutboxFiles)
        self.log = log
    }

    /// `<outbox>/../<producer>.state`: next to the outbox, so the forwarder never sees it.
    public static func defaultStatePath(outbox: String, producer: String) -> String {
        let parent = FileSystem.parentDirectory(of: outbox)
        return (parent == "/" ? "" : parent) + "/" + producer + ".state"
    }

    /// The outbox file of batch `sequenceNumber`: `<producer>-<seq, 20 digits>.rbat`.
    public func batchFileName(sequenceNumber: UInt64) -> String {
        let digits = String(sequenceNumber)
        return producer + "-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".rbat"
    }
}
