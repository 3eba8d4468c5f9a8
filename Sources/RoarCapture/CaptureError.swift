// RoarCapture: local tracing. Launching a command under the preload library (TracedRun,
// TraceEnvironment, CommandRunner, RuntimeFiles), its run manifest for `roar recover`, and what
// every recorded command goes through (SecretRedactor). `ray job submit` is RoarRaySubmit's.

/// The one error of `RoarCapture`: why roar could not launch or trace a command. The command's
/// own failure is not an error: a non-zero exit is a normal result, recorded like any other.
public struct CaptureError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable {
        /// `libroar_preload.so`, `roar-worker` or the Python runtime is missing.
        case runtimeMissing
        /// The command could not be started (not found, not executable).
        case launchFailed
        /// The spool directory, or a file in it, could not be created or written.
        case spoolUnavailable
    }

    public var code: Code
    /// What failed, naming the file or command, and what to do.
    public var message: String
    /// `errno` of the failing call, when there was one.
    public var errorNumber: Int32?
    /// The error behind this one (a `FileSystem.Failure`, a Foundation error), if any.
    public var underlyingError: (any Error & Sendable)?

    public init(
        _ code: Code, _ message: String, errorNumber: Int32? = nil, underlyingError: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.errorNumber = errorNumber
        self.underlyingError = underlyingError
    }

    public var description: String { message }
}
