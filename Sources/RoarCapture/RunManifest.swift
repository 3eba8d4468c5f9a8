import Foundation
public import RoarCore

#if canImport(Glibc)
    import Glibc
#endif

/// `run.json` in a run's spool folder: who started the run and how it ended, so that a trace
/// whose merge never happened (roar killed, disk full) can still be recorded later by
/// `roar recover`.
public struct RunManifest: Codable, Sendable {
    public var runID: String
    /// The `roar` process that owns the run while it is going.
    public var roarPID: Int32
    public var root: Job

    public init(runID: String, roarPID: Int32, root: Job) {
        self.runID = runID
        self.roarPID = roarPID
        self.root = root
    }

    public static let fileName = "run.json"

    /// Written atomically (temp file + rename) so a reader never sees half a manifest.
    public func write(to directory: String) throws(CaptureError) {
        let path = directory + "/" + Self.fileName
        do {
            let data = try JSONEncoder().encode(self)
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CaptureError(
                .spoolUnavailable, "cannot write \(path): \(error.localizedDescription); check that .roar/ is writable",
                underlyingError: error)
        }
    }

    public static func read(from directory: String) -> RunManifest? {
        guard let data = FileManager.default.contents(atPath: directory + "/" + fileName) else { return nil }
        return try? JSONDecoder().decode(RunManifest.self, from: data)
    }

    /// True while the roar process that started the run is alive.
    public var isOwnerAlive: Bool {
        kill(roarPID, 0) == 0 || errno == EPERM
    }
}
