/// Why roar will not rewrite a recognised `ray job submit`. Each message says which option or
/// runtime_env field is the problem, whether Ray itself would refuse it, and what to do.
/// `roar run` then runs the command untraced and prints the message as a warning.
public struct RaySubmitError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: Sendable, Equatable {
        /// `--runtime-env` and `--runtime-env-json` together (Ray refuses this too).
        case conflictingOptions
        /// `--runtime-env-json`, a JSON option value, or the YAML file is not valid.
        case unreadableRuntimeEnvironment
        /// The YAML file uses a construct outside the subset roar reads.
        case unsupportedYAML
        /// A runtime_env field has a type Ray rejects.
        case invalidField
        /// The user's runtime_env plus roar's fields is a combination Ray rejects
        /// (`container` or `image_uri` with other fields; `pip`/`conda`/`uv` together).
        case rejectedCombination
        /// roar's worker launcher (`py_executable`) would replace the interpreter of the user's
        /// `pip`/`conda`/`uv` environment.
        case launcherConflict
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
