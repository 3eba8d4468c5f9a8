/// Why roar could not launch or trace a command. The command's own failure is not an error:
/// a non-zero exit is a normal result, recorded like any other.
public struct CaptureError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable {
        /// `libroar_preload.so`, `roar-worker` or the Python runtime is missing.
        case runtimeMissing
        /// The command could not be started (not found, not executable).
        case launchFailed
        /// The spool directory could not be created.
        case spoolUnavailable
        /// A `ray job submit` roar cannot add itself to (Ray would refuse the merged runtime
        /// env): the job should run as given, without roar on the cluster.
        case submitNotRewritable
    }

    public var code: Code
    public var message: String
    /// `errno` of the failing call, when there was one.
    public var errorNumber: Int32?

    public init(_ code: Code, _ message: String, errorNumber: Int32? = nil) {
        self.code = code
        self.message = message
        self.errorNumber = errorNumber
    }

    public var description: String { message }
}
