import Foundation
public import RoarCapture

/// `submit.json` in a host-submitted run's folder (`.roar/spool/<run id>/`): what the host
/// needs to bring the run's lineage home once the job has ended — now, or later with
/// `roar fetch` after a `--no-wait` submit. The run's private key sits beside it in `run.key`.
public struct SubmitRecord: Codable, Sendable, Equatable {
    public static let fileName = "submit.json"
    public static let keyFileName = "run.key"

    public var runID: String
    public var submissionID: String
    /// The dashboard address given to `ray job submit` (`--address`, else `RAY_ADDRESS`); nil = Ray's default.
    public var address: String?
    /// `--headers` and `--verify` as the user gave them: the drain talks to the same dashboard.
    public var headers: String?
    public var verify: String?
    /// The Python of the user's `ray` command: it has Ray, and runs `roar_runtime.drain`.
    public var python: String
    public var noWait: Bool
    /// Seconds since the epoch when roar submitted the job.
    public var submittedAt: Double
    /// The lineage server session the cluster streams the batches to; nil when the run goes
    /// through the in-cluster collector only.
    public var session: StreamingSession?

    public init(
        runID: String, submissionID: String, address: String?, headers: String?, verify: String?, python: String,
        noWait: Bool, submittedAt: Double, session: StreamingSession? = nil
    ) {
        self.runID = runID
        self.submissionID = submissionID
        self.address = address
        self.headers = headers
        self.verify = verify
        self.python = python
        self.noWait = noWait
        self.submittedAt = submittedAt
        self.session = session
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case submissionID = "submission_id"
        case address, headers, verify, python, session
        case noWait = "no_wait"
        case submittedAt = "submitted_at"
    }

    public func write(to directory: String) throws(RaySubmitError) {
        let path = directory + "/" + Self.fileName
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw RaySubmitError(
                .spoolUnavailable, "cannot write \(path): \(error.localizedDescription); check that .roar/ is writable",
                underlyingError: error)
        }
    }

    public static func read(from directory: String) -> SubmitRecord? {
        guard let data = FileManager.default.contents(atPath: directory + "/" + fileName) else { return nil }
        return try? JSONDecoder().decode(SubmitRecord.self, from: data)
    }
}
