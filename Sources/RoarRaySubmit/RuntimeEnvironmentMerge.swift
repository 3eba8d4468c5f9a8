public import RoarCapture
public import RoarCore

/// The one runtime_env merge policy of roar: how roar's additions join a user's runtime_env,
/// for `roar run ray job submit` (``RaySubmitRewrite``) and for `ray.init` in a traced driver
/// (`python/roar_runtime/driver.py`, `merge_policy`, the same rules in Python). Both sides run
/// the shared vectors of `Tests/vectors/runtime-env/merge.json`; the table of rules is in
/// `docs/ray-submit.md` ("The runtime_env merge policy").
///
/// - Refused (Ray would reject the merged env): see ``validate(_:)``.
/// - `env_vars`: the user's variables win, except roar's own `ROAR_*` (they identify this run);
///   the user values roar replaced are listed in ``Merged/overriddenVariables``. `PYTHONPATH`
///   and `LD_PRELOAD` given by both are joined, roar's entries first, without duplicates.
/// - `py_modules`: roar's module appended when given (no duplicate).
/// - `worker_process_setup_hook`: roar's; a user's string hook is chained through
///   `ROAR_CHAINED_SETUP_HOOK`.
/// - `py_executable`: roar's launcher when given, unless the user set one (kept, with a note) or
///   the env sets `pip`, `conda` or `uv`, whose environment chooses the interpreter (left alone,
///   with a note: Python-level capture only).
public enum RuntimeEnvironmentMerge {
    public static let setupHook = "roar_runtime.worker.setup_hook"
    /// The variable `roar_runtime.worker.setup_hook` reads to call the user's own hook.
    public static let chainedSetupHookVariable = "ROAR_CHAINED_SETUP_HOOK"
    /// Ray's variable for a callable hook; a runtime_env that sets it conflicts with any hook.
    static let raySetupHookVariable = "__RAY_WORKER_PROCESS_SETUP_HOOK_ENV_VAR"
    static let packageManagers = ["pip", "conda", "uv"]

    /// What roar adds.
    public struct Additions: Sendable, Equatable {
        /// roar's variables for the workers.
        public var environmentVariables: [String: String]
        /// A folder appended to `py_modules` (roar's bundle), if any.
        public var pythonModule: String?
        /// The worker launcher set as `py_executable`, if any.
        public var workerLauncher: String?

        public init(environmentVariables: [String: String], pythonModule: String? = nil, workerLauncher: String? = nil)
        {
            self.environmentVariables = environmentVariables
            self.pythonModule = pythonModule
            self.workerLauncher = workerLauncher
        }
    }

    /// Something the user should know about the merge; `code` is what the shared vectors compare.
    public struct Note: Sendable, Equatable {
        public enum Code: String, Sendable {
            /// The user's `py_executable` is kept: workers run without the native tracer.
            case userInterpreterKept = "user_py_executable_kept"
            /// `pip`/`conda`/`uv` choose the interpreter: roar's launcher is not set.
            case launcherSkipped = "launcher_skipped"
        }

        public var code: Code
        public var message: String
    }

    public struct Merged: Sendable, Equatable {
        public var runtimeEnvironment: [String: RuntimeEnvironmentValue]
        /// The user's own `worker_process_setup_hook`, now called by roar's.
        public var userSetupHook: String?
        /// User `env_vars` keys whose values roar replaced with its own (sorted).
        public var overriddenVariables: [String]
        public var notes: [Note]
    }

    public static func merge(
        _ user: [String: RuntimeEnvironmentValue], with additions: Additions
    ) throws(RaySubmitError) -> Merged {
        var environment = user
        try validate(environment)
        var notes: [Note] = []

        if let module = additions.pythonModule {
            var modules = environment["py_modules"]?.arrayValue ?? []
            if !modules.contains(.string(module)) { modules.append(.string(module)) }
            environment["py_modules"] = .array(modules)
        }

        var variables = environment["env_vars"]?.objectValue ?? [:]
        var overridden: [String] = []
        for (key, value) in additions.environmentVariables where key != chainedSetupHookVariable {
            let userValue = variables[key]?.stringValue
            if key.hasPrefix("ROAR_") {
                if let userValue, userValue != value { overridden.append(key) }
                variables[key] = .string(value)
            } else if let userValue, key == "PYTHONPATH" || key == "LD_PRELOAD" {
                variables[key] = .string(joinPathLists(value, userValue))
            } else if userValue == nil {
                variables[key] = .string(value)
            }
        }

        var userSetupHook: String?
        if let hook = environment["worker_process_setup_hook"]?.stringValue, hook != setupHook {
            userSetupHook = hook
            if let previous = variables[chainedSetupHookVariable]?.stringValue, previous != hook {
                overridden.append(chainedSetupHookVariable)
            }
            variables[chainedSetupHookVariable] = .string(hook)
        }
        environment["worker_process_setup_hook"] = .string(setupHook)
        environment["env_vars"] = .object(variables)

        if let launcher = additions.workerLauncher {
            if let userExecutable = environment["py_executable"]?.stringValue {
                if userExecutable != launcher {
                    notes.append(
                        Note(
                            code: .userInterpreterKept,
                            message: "runtime_env sets `py_executable` (\(userExecutable)); roar keeps it, so Ray "
                                + "workers run without roar's native tracer (Python-level capture only)"))
                }
            } else if let manager = packageManagers.first(where: { environment[$0] != nil && environment[$0] != .null })
            {
                notes.append(
                    Note(
                        code: .launcherSkipped,
                        message: "runtime_env sets `\(manager)`, whose environment chooses the workers' Python; "
                            + "roar leaves `py_executable` alone (its launcher would replace that interpreter), so "
                            + "Ray workers run without roar's native tracer (Python-level capture only). Ship the "
                            + "packages in `py_modules` for full capture"))
            } else {
                environment["py_executable"] = .string(launcher)
            }
        }
        return Merged(
            runtimeEnvironment: environment, userSetupHook: userSetupHook, overriddenVariables: overridden.sorted(),
            notes: notes)
    }

    /// The checks of Ray 2.60's `RuntimeEnv.__init__` and `validation.py` that the user's
    /// runtime_env plus roar's fields could fail.
    static func validate(_ environment: [String: RuntimeEnvironmentValue]) throws(RaySubmitError) {
        let managers = packageManagers.filter { environment[$0] != nil && environment[$0] != .null }
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
                "runtime_env sets `\(field)`, which Ray allows only together with "
                    + "\(allowed.dropFirst().joined(separator: " and "))\(detail); roar must add its "
                    + "worker_process_setup_hook, so Ray would reject the job. Run it without roar, or bake "
                    + "roar_runtime into the image")
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

    /// `front`'s entries, then `back`'s, each once.
    static func joinPathLists(_ front: String, _ back: String) -> String {
        var parts: [String] = []
        for part in (front.split(separator: ":") + back.split(separator: ":")).map(String.init)
        where !parts.contains(part) {
            parts.append(part)
        }
        return parts.joined(separator: ":")
    }
}
