public import RoarCapture

/// The one error of `RoarRaySubmit`: why roar will not rewrite a recognised `ray job submit`, or
/// why submitting it or bringing its lineage home failed. Each message names the option, the
/// runtime_env field, the file or the run that is the problem, whether Ray itself would refuse
/// it, and what to do.
///
/// A refusal of the rewrite (``isRewriteRefusal``) is not a failure of the command: `roar run`
/// then runs the command as given, untraced on the cluster, and prints the message as a warning.
/// A job that fails on the cluster is not an error either: it is recorded like any other run.
public struct RaySubmitError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable, Equatable {
        /// `--runtime-env` and `--runtime-env-json` together (Ray refuses this too).
        case conflictingOptions
        /// `--runtime-env-json`, a JSON option value, or the YAML file is not valid.
        case unreadableRuntimeEnvironment
        /// The YAML file holds a value that has no JSON form (a date, binary, `.inf`), which Ray
        /// could not send to the cluster either.
        case unsupportedYAML
        /// A runtime_env field has a type Ray rejects.
        case invalidField
        /// The user's runtime_env plus roar's fields is a combination Ray rejects
        /// (`container` or `image_uri` with other fields; `pip`/`conda`/`uv` together).
        case rejectedCombination
        /// The run's folder in `.roar/spool/` (its key, `submit.json`) could not be written.
        case spoolUnavailable
        /// The rewritten `ray job submit` could not be started.
        case launchFailed
        /// `python -m roar_runtime.drain` could not run, or could not reach the cluster.
        case drainFailed
        /// The lineage server of a streamed run (`glaas.url`) could not be used: no token, not
        /// reachable, or it refused the session or a read.
        case streamingFailed
    }

    public var code: Code
    public var message: String
    /// The error behind this one (a `CaptureError`, a `TransportError`, a Yams or Foundation
    /// error), if any.
    public var underlyingError: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, underlyingError: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlyingError = underlyingError
    }

    /// True when roar will not add itself to the job (Ray would refuse the merged runtime env,
    /// or the options cannot be read): the command should run as given.
    public var isRewriteRefusal: Bool {
        switch code {
        case .conflictingOptions, .unreadableRuntimeEnvironment, .unsupportedYAML, .invalidField, .rejectedCombination:
            true
        case .spoolUnavailable, .launchFailed, .drainFailed, .streamingFailed:
            false
        }
    }

    public var description: String { message }

    public static func == (left: RaySubmitError, right: RaySubmitError) -> Bool {
        left.code == right.code && left.message == right.message
    }
}

extension RaySubmitError {
    /// A failure of the local part of a submit (the run's folder, starting `ray job submit`),
    /// keeping the `CaptureError` as the cause (its `errorNumber` decides roar's exit status).
    init(_ error: CaptureError) {
        self.init(
            error.code == .launchFailed ? .launchFailed : .spoolUnavailable, error.message, underlyingError: error)
    }

    /// The rewrite's refusal, as `roar run` reports it.
    func refusingTheJob() -> RaySubmitError {
        RaySubmitError(code, "roar cannot add itself to this job: \(message)", underlyingError: underlyingError)
    }
}
