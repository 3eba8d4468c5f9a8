import Foundation

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
/// `env_vars` merge: the user's variables win, except roar's own `ROAR_*` variables, which
/// identify this run (a `ROAR_RUN_ID` left in a copied runtime env would send lineage to the
/// wrong run); the user values roar replaced are listed in `Result.overriddenVariables`.
/// `PYTHONPATH` and `LD_PRELOAD` given by both are joined, roar's entries first.
///
/// Rewriting is idempotent: a command already rewritten comes out unchanged.
public struct RaySubmitRewrite: Sendable {
    public static let driverModule = "roar_runtime.driver"
    public static let setupHook = "roar_runtime.worker.setup_hook"
    /// The variable `roar_runtime.worker.setup_hook` reads to call the user's own hook
    /// (`roar_runtime/config.py`, `CHAINED_HOOK_ENV`).
    public static let chainedSetupHookVariable = "ROAR_CHAINED_SETUP_HOOK"
    /// Ray's variable for a callable hook; a runtime_env that sets it conflicts with any hook.
    static let raySetupHookVariable = "__RAY_WORKER_PROCESS_SETUP_HOOK_ENV_VAR"

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
        var environment = try userRuntimeEnvironment(of: command, notes: &notes)
        try Self.validate(environment)

        let packageManagers = ["pip", "conda", "uv"].filter { environment[$0] != nil && environment[$0] != .null }
        if let workerLauncher, environment["py_executable"] == nil, let manager = packageManagers.first {
            throw RaySubmitError(
                .launcherConflict,
                "runtime_env sets `\(manager)`, whose environment chooses the workers' Python; roar's worker "
                    + "launcher (`py_executable` = \(workerLauncher)) would replace that interpreter. Run without "
                    + "the launcher (Python-level capture only) or ship the packages in `py_modules`")
        }

        var modules = environment["py_modules"]?.arrayValue ?? []
        if !modules.contains(.string(bundleDirectory)) { modules.append(.string(bundleDirectory)) }
        environment["py_modules"] = .array(modules)

        var variables = environment["env_vars"]?.objectValue ?? [:]
        var overridden: [String] = []
        for (key, value) in environmentVariables where key != Self.chainedSetupHookVariable {
            let userValue = variables[key]?.stringValue
            if key.hasPrefix("ROAR_") {
                if let userValue, userValue != value { overridden.append(key) }
                variables[key] = .string(value)
            } else if let userValue, key == "PYTHONPATH" || key == "LD_PRELOAD" {
                variables[key] = .string(Self.joinPathLists(value, userValue))
            } else if userValue == nil {
                variables[key] = .string(value)
            }
        }

        var userSetupHook: String?
        let hook = environment["worker_process_setup_hook"]?.stringValue
        if let hook, hook != Self.setupHook {
            userSetupHook = hook
            if let previous = variables[Self.chainedSetupHookVariable]?.stringValue, previous != hook {
                overridden.append(Self.chainedSetupHookVariable)
            }
            variables[Self.chainedSetupHookVariable] = .string(hook)
        }
        environment["worker_process_setup_hook"] = .string(Self.setupHook)
        environment["env_vars"] = .object(variables)

        if let workerLauncher {
            if let userExecutable = environment["py_executable"]?.stringValue {
                if userExecutable != workerLauncher {
                    notes.append(
                        "runtime_env sets `py_executable` (\(userExecutable)); roar keeps it, so Ray workers run "
                            + "without roar's native tracer (Python-level capture only)")
                }
            } else {
                environment["py_executable"] = .string(workerLauncher)
            }
        }

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
            arguments: arguments, runtimeEnvironment: environment, userSetupHook: userSetupHook,
            overriddenVariables: overridden.sorted(), notes: notes)
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

    /// The checks of Ray 2.60's `RuntimeEnv.__init__` and `validation.py` that the user's
    /// runtime_env plus roar's fields could fail.
    static func validate(_ environment: [String: RuntimeEnvironmentValue]) throws(RaySubmitError) {
        let managers = ["pip", "conda", "uv"].filter { environment[$0] != nil && environment[$0] != .null }
        if managers.count > 1 {
            throw RaySubmitError(
                .rejectedCombination,
                "runtime_env sets \(managers.map { "`\($0)`" }.joined(separator: " and ")); Ray accepts only one of "
                    + "pip, uv and conda (with or without roar). Put pip packages inside the conda environment instead")
        }
        for (field, allowed) in [
            ("container", ["container", "config", "env_vars"]), ("image_uri", ["image_uri", "config", "env_vars"]),
        ] {
            guard let value = environment[field], value != .null, value != .string(""), value != .array([]) else {
                continue
            }
            let others = environment.keys.filter { !allowed.contains($0) }.sorted()
            let detail = others.isEmpty ? "" : " (it already sets \(others.joined(separator: ", ")))"
            throw RaySubmitError(
                .rejectedCombination,
                "runtime_env sets `\(field)`, which Ray allows only together with \(allowed.dropFirst().joined(separator: " and "))"
                    + "\(detail); roar must add py_modules and worker_process_setup_hook, so Ray would reject "
                    + "the job. Run it without roar, or bake roar_runtime into the image")
        }
        if let value = environment["env_vars"], value != .null {
            guard let variables = value.objectValue else {
                throw invalid("env_vars", "must be of type Dict[str, str], got \(value.pythonTypeName)")
            }
            for key in variables.keys.sorted() where variables[key]?.stringValue == nil {
                throw invalid(
                    "env_vars",
                    "must be of type Dict[str, str], but the value of \(key) is of type "
                        + "\(variables[key]!.pythonTypeName) (quote it)")
            }
            if variables[raySetupHookVariable] != nil {
                throw RaySubmitError(
                    .rejectedCombination,
                    "runtime_env env_vars sets \(raySetupHookVariable), which Ray refuses together with a "
                        + "worker_process_setup_hook (roar needs one). Remove that variable")
            }
        }
        if let value = environment["py_modules"], value != .null {
            guard let modules = value.arrayValue, modules.allSatisfy({ $0.stringValue != nil }) else {
                throw invalid("py_modules", "must be a list of strings")
            }
        }
        for field in ["working_dir", "worker_process_setup_hook", "py_executable"] {
            if let value = environment[field], value != .null, value.stringValue == nil {
                throw invalid(field, "must be a string, got \(value.pythonTypeName)")
            }
        }
    }

    private static func invalid(_ field: String, _ problem: String) -> RaySubmitError {
        RaySubmitError(.invalidField, "runtime_env['\(field)'] \(problem); Ray would reject the job")
    }

    static func joinPathLists(_ front: String, _ back: String) -> String {
        var parts: [String] = []
        for part in (front.split(separator: ":") + back.split(separator: ":")).map(String.init)
        where !parts.contains(part) {
            parts.append(part)
        }
        return parts.joined(separator: ":")
    }
}
