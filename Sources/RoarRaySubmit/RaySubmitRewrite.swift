import Foundation
public import RoarCapture
public import RoarCore

/// Turns a recognised `ray job submit` into one that carries roar to the job:
///
/// - the entrypoint runs as `<python> -m roar_runtime.driver -- <entrypoint…>` (`<python>` is the
///   entrypoint's own interpreter word when it starts with one, else `python`);
/// - `--runtime-env`, `--runtime-env-json` and `--working-dir` are folded into one runtime_env
///   the way Ray folds them (`--working-dir` wins over the file's or JSON's `working_dir`),
///   and passed back as a single `--runtime-env-json`;
/// - roar adds its bundle to `py_modules`, its variables to `env_vars`, its
///   `worker_process_setup_hook` (chaining the user's through `ROAR_CHAINED_SETUP_HOOK`) and,
///   when given a worker launcher, `py_executable`.
///
/// The merge itself is ``RuntimeEnvironmentMerge``, the policy shared with `ray.init` in a traced
/// driver: the user's `env_vars` win, except roar's own `ROAR_*` variables, which identify this
/// run; `pip`/`conda`/`uv` keep their interpreter (no launcher, with a note).
///
/// Rewriting is idempotent: a command already rewritten comes out unchanged.
public struct RaySubmitRewrite: Sendable {
    public static let driverModule = "roar_runtime.driver"
    public static let setupHook = RuntimeEnvironmentMerge.setupHook
    /// The variable `roar_runtime.worker.setup_hook` reads to call the user's own hook
    /// (`roar_runtime/config.py`, `CHAINED_HOOK_ENV`).
    public static let chainedSetupHookVariable = RuntimeEnvironmentMerge.chainedSetupHookVariable

    /// The folder added to `py_modules`: roar's cluster bundle (the `roar_runtime` package
    /// folder itself, since Ray imports a local `py_modules` folder by its own name).
    public var bundleDirectory: String
    /// roar's variables for the job (`ROAR_*`, and optionally `PYTHONPATH`/`LD_PRELOAD`).
    public var environmentVariables: [String: String]
    /// `roar-worker` as the cluster sees it; set as `py_executable` unless the user set one.
    public var workerLauncher: String?
    /// Where relative `--runtime-env` paths are read from (the `ray` CLI's working folder).
    public var currentDirectory: String

    public init(
        bundleDirectory: String, environmentVariables: [String: String], workerLauncher: String? = nil,
        currentDirectory: String
    ) {
        self.bundleDirectory = bundleDirectory
        self.environmentVariables = environmentVariables
        self.workerLauncher = workerLauncher
        self.currentDirectory = currentDirectory
    }

    public struct Result: Sendable, Equatable {
        /// The command to run instead of the user's.
        public var arguments: [String]
        /// The runtime_env passed as `--runtime-env-json`.
        public var runtimeEnvironment: [String: RuntimeEnvironmentValue]
        /// The user's own `worker_process_setup_hook`, now called by roar's.
        public var userSetupHook: String?
        /// User `env_vars` keys whose values roar replaced with its own (sorted).
        public var overriddenVariables: [String]
        /// Things the user should know (printed as warnings by `roar run`).
        public var notes: [String]
    }

    public func rewrite(_ command: RaySubmitCommand) throws(RaySubmitError) -> Result {
        var notes: [String] = []
        let merged = try RuntimeEnvironmentMerge.merge(
            try userRuntimeEnvironment(of: command, notes: &notes),
            with: .init(
                environmentVariables: environmentVariables, pythonModule: bundleDirectory,
                workerLauncher: workerLauncher))
        let environment = merged.runtimeEnvironment
        notes += merged.notes.map(\.message)

        var arguments = command.program + command.globalArguments + [command.groupName, "submit"]
        for setting in command.settings {
            switch setting.option {
            case .runtimeEnvironmentFile, .runtimeEnvironmentJSON, .workingDirectory:
                continue
            case .verbose:
                arguments.append("-v")
            default:
                arguments.append(setting.value.map { setting.option.rawValue + "=" + $0 } ?? setting.option.rawValue)
            }
        }
        arguments.append(
            RaySubmitCommand.Option.runtimeEnvironmentJSON.rawValue + "="
                + RuntimeEnvironmentValue.object(environment).jsonText)
        arguments.append("--")
        arguments += Self.routedEntrypoint(command.entrypoint)

        return Result(
            arguments: arguments, runtimeEnvironment: environment, userSetupHook: merged.userSetupHook,
            overriddenVariables: merged.overriddenVariables, notes: notes)
    }

    /// `<python> -m roar_runtime.driver -- <entrypoint…>`; unchanged when already routed.
    public static func routedEntrypoint(_ entrypoint: [String]) -> [String] {
        if entrypoint.count >= 4,
            RaySubmitCommand.isPythonInterpreter(RaySubmitCommand.lastPathComponent(entrypoint[0])),
            entrypoint[1] == "-m", entrypoint[2] == driverModule, entrypoint[3] == "--"
        {
            return entrypoint
        }
        let first = entrypoint.first ?? "python"
        let interpreter =
            RaySubmitCommand.isPythonInterpreter(RaySubmitCommand.lastPathComponent(first)) ? first : "python"
        return [interpreter, "-m", driverModule, "--"] + entrypoint
    }

    /// The runtime_env Ray would build from the three options (`parse_runtime_env_args`).
    func userRuntimeEnvironment(
        of command: RaySubmitCommand, notes: inout [String]
    ) throws(RaySubmitError) -> [String: RuntimeEnvironmentValue] {
        let file = command.value(of: .runtimeEnvironmentFile)
        let json = command.value(of: .runtimeEnvironmentJSON)
        var environment: [String: RuntimeEnvironmentValue] = [:]
        if let file {
            guard json == nil else {
                throw RaySubmitError(
                    .conflictingOptions,
                    "`--runtime-env` and `--runtime-env-json` were both given; Ray accepts only one of them. "
                        + "Keep one (roar folds the working dir and its own fields into it)")
            }
            let path = file.hasPrefix("/") ? file : currentDirectory + "/" + file
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw RaySubmitError(
                    .unreadableRuntimeEnvironment,
                    "`--runtime-env \(file)`: cannot read \(path) (\(error.localizedDescription))")
            }
            switch try RuntimeEnvironmentYAML.parse(text, file: file) {
            case .null: break
            case .object(let map): environment = map
            default:
                throw RaySubmitError(
                    .unreadableRuntimeEnvironment,
                    "`--runtime-env \(file)`: the file must hold a mapping of runtime_env fields")
            }
        } else if let json {
            switch RuntimeEnvironmentValue.decode(json: json) {
            case .null: break
            case .object(let map): environment = map
            case nil:
                throw RaySubmitError(.unreadableRuntimeEnvironment, "`--runtime-env-json` is not valid JSON: \(json)")
            default:
                throw RaySubmitError(
                    .unreadableRuntimeEnvironment, "`--runtime-env-json` must be a JSON object: \(json)")
            }
        }
        if let workingDirectory = command.value(of: .workingDirectory) {
            if let previous = environment["working_dir"], previous != .string(workingDirectory) {
                notes.append("`--working-dir \(workingDirectory)` overrides the runtime env's working_dir, as in Ray")
            }
            environment["working_dir"] = .string(workingDirectory)
        }
        return environment
    }
}
