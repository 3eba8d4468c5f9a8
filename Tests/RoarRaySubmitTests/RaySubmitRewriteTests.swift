import Foundation
import RoarCore
import Testing

@testable import RoarCapture
@testable import RoarRaySubmit

@Suite("ray job submit rewrite")
struct RaySubmitRewriteTests {
    static let bundle = "/opt/roar/roar-python/roar_runtime"

    func rewriter(launcher: String? = nil, directory: String = "/work/project") -> RaySubmitRewrite {
        RaySubmitRewrite(
            bundleDirectory: Self.bundle,
            environmentVariables: ["ROAR_RUN_ID": "run1", "ROAR_WRAP": "1", "PYTHONPATH": "/opt/roar/roar-python"],
            workerLauncher: launcher, currentDirectory: directory)
    }

    func command(_ argv: [String]) throws -> RaySubmitCommand {
        try #require(RaySubmitCommand.parse(argv))
    }

    func runtimeEnvironment(in arguments: [String]) throws -> [String: RuntimeEnvironmentValue] {
        let prefix = "--runtime-env-json="
        let words = arguments.filter { $0.hasPrefix(prefix) }
        #expect(words.count == 1)
        let json = try #require(words.first).dropFirst(prefix.count)
        return try #require(RuntimeEnvironmentValue.decode(json: String(json))?.objectValue)
    }

    func error(_ argv: [String], launcher: String? = nil) throws -> RaySubmitError {
        let submit = try command(argv)
        do {
            _ = try rewriter(launcher: launcher).rewrite(submit)
        } catch {
            return error
        }
        Issue.record("no error for \(argv)")
        return RaySubmitError(.invalidField, "")
    }

    @Test func routesTheEntrypointAndAddsRoarsFields() throws {
        let result = try rewriter().rewrite(
            command([
                "ray", "job", "submit", "--address", "http://127.0.0.1:8265", "--no-wait", "--", "python3", "x.py",
                "--n=1",
            ]))
        #expect(
            Array(result.arguments.prefix(5)) == [
                "ray", "job", "submit", "--address=http://127.0.0.1:8265", "--no-wait",
            ])
        #expect(
            Array(result.arguments.suffix(8)) == [
                "--", "python3", "-m", "roar_runtime.driver", "--", "python3", "x.py", "--n=1",
            ])
        let environment = try runtimeEnvironment(in: result.arguments)
        #expect(environment == result.runtimeEnvironment)
        #expect(environment["py_modules"] == .array([.string(Self.bundle)]))
        #expect(environment["worker_process_setup_hook"] == .string("roar_runtime.worker.setup_hook"))
        #expect(
            environment["env_vars"]
                == .object([
                    "ROAR_RUN_ID": .string("run1"), "ROAR_WRAP": .string("1"),
                    "PYTHONPATH": .string("/opt/roar/roar-python"),
                ]))
        #expect(environment["py_executable"] == nil)
        #expect(result.userSetupHook == nil)
    }

    @Test(arguments: [
        (["bash", "run.sh"], ["python", "-m", "roar_runtime.driver", "--", "bash", "run.sh"]),
        (
            ["/opt/py/bin/python3.11", "x.py"],
            ["/opt/py/bin/python3.11", "-m", "roar_runtime.driver", "--", "/opt/py/bin/python3.11", "x.py"]
        ),
        (
            ["python", "-m", "roar_runtime.driver", "--", "python", "x.py"],
            ["python", "-m", "roar_runtime.driver", "--", "python", "x.py"]
        ),
    ])
    func choosesTheInterpreter(entrypoint: [String], routed: [String]) {
        #expect(RaySubmitRewrite.routedEntrypoint(entrypoint) == routed)
    }

    @Test func foldsWorkingDirectoryIntoTheRuntimeEnvironment() throws {
        let result = try rewriter().rewrite(
            command([
                "ray", "job", "submit", "--working-dir=src", "--runtime-env-json",
                #"{"working_dir": "old", "excludes": ["*.bin"]}"#, "--", "python", "x.py",
            ]))
        #expect(result.runtimeEnvironment["working_dir"] == .string("src"))
        #expect(result.runtimeEnvironment["excludes"] == .array([.string("*.bin")]))
        #expect(result.notes.contains { $0.contains("overrides the runtime env's working_dir") })
        #expect(!result.arguments.contains { $0.hasPrefix("--working-dir") })
        #expect(result.arguments.filter { $0.hasPrefix("--runtime-env") }.count == 1)
    }

    @Test func mergesUserFieldsWithoutClobbering() throws {
        let json = #"""
            {"py_modules": ["mylib"], "pip": ["requests"],
             "env_vars": {"HF_HOME": "/data", "ROAR_RUN_ID": "stale", "PYTHONPATH": "/user/lib", "ROAR_WRAP": "1"}}
            """#
        let result = try rewriter().rewrite(
            command(["ray", "job", "submit", "--runtime-env-json", json, "--", "python", "x.py"]))
        let environment = result.runtimeEnvironment
        #expect(environment["py_modules"] == .array([.string("mylib"), .string(Self.bundle)]))
        #expect(environment["pip"] == .array([.string("requests")]))
        let variables = try #require(environment["env_vars"]?.objectValue)
        #expect(variables["HF_HOME"] == .string("/data"))
        #expect(variables["ROAR_RUN_ID"] == .string("run1"))
        #expect(variables["PYTHONPATH"] == .string("/opt/roar/roar-python:/user/lib"))
        #expect(result.overriddenVariables == ["ROAR_RUN_ID"])
    }

    @Test func chainsTheUsersSetupHook() throws {
        let json = #"{"worker_process_setup_hook": "mypkg.setup.configure_logging"}"#
        let result = try rewriter().rewrite(
            command(["ray", "job", "submit", "--runtime-env-json", json, "--", "python", "x.py"]))
        #expect(result.userSetupHook == "mypkg.setup.configure_logging")
        #expect(result.runtimeEnvironment["worker_process_setup_hook"] == .string(RaySubmitRewrite.setupHook))
        let variables = try #require(result.runtimeEnvironment["env_vars"]?.objectValue)
        #expect(variables["ROAR_CHAINED_SETUP_HOOK"] == .string("mypkg.setup.configure_logging"))
    }

    @Test func rewritingTwiceChangesNothing() throws {
        let json = #"{"worker_process_setup_hook": "mypkg.hook", "env_vars": {"A": "b"}}"#
        let once = try rewriter(launcher: "/opt/roar/roar-worker").rewrite(
            command(["ray", "job", "submit", "-v", "--runtime-env-json", json, "--", "python", "x.py"]))
        let twice = try rewriter(launcher: "/opt/roar/roar-worker").rewrite(command(once.arguments))
        #expect(twice.arguments == once.arguments)
        #expect(twice.userSetupHook == nil)
        #expect(twice.overriddenVariables.isEmpty)
    }

    @Test func setsTheWorkerLauncherUnlessTheUserChoseAnInterpreter() throws {
        let plain = try rewriter(launcher: "/opt/roar/roar-worker").rewrite(
            command(["ray", "job", "submit", "--", "python", "x.py"]))
        #expect(plain.runtimeEnvironment["py_executable"] == .string("/opt/roar/roar-worker"))
        let own = try rewriter(launcher: "/opt/roar/roar-worker").rewrite(
            command([
                "ray", "job", "submit", "--runtime-env-json", #"{"py_executable": "python -X dev"}"#, "--", "python",
            ]))
        #expect(own.runtimeEnvironment["py_executable"] == .string("python -X dev"))
        #expect(own.notes.contains { $0.contains("without roar's native tracer") })
    }

    @Test func readsAYAMLRuntimeEnvironmentFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "roar-submit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let yaml = """
            # the job's environment
            working_dir: .
            pip:
              - requests==2.31
              - "numpy>=1.26"
            env_vars:
              OMP_NUM_THREADS: "4"
              MODE: fast   # comment
            py_modules: [lib_a, 'lib b']
            worker_process_setup_hook: mypkg.hook
            """
        try yaml.write(to: directory.appendingPathComponent("env.yaml"), atomically: true, encoding: .utf8)
        let result = try rewriter(directory: directory.path).rewrite(
            command([
                "ray", "job", "submit", "--runtime-env", "env.yaml", "--working-dir", "src", "--", "python", "x.py",
            ]))
        let environment = result.runtimeEnvironment
        #expect(environment["working_dir"] == .string("src"))
        #expect(environment["pip"] == .array([.string("requests==2.31"), .string("numpy>=1.26")]))
        #expect(environment["py_modules"] == .array([.string("lib_a"), .string("lib b"), .string(Self.bundle)]))
        let variables = try #require(environment["env_vars"]?.objectValue)
        #expect(variables["OMP_NUM_THREADS"] == .string("4"))
        #expect(variables["MODE"] == .string("fast"))
        #expect(variables["ROAR_CHAINED_SETUP_HOOK"] == .string("mypkg.hook"))
        #expect(!result.arguments.contains { $0.hasPrefix("--runtime-env=") || $0 == "--runtime-env" })
    }

    @Test func missingYAMLFileIsNamed() throws {
        let failure = try error(["ray", "job", "submit", "--runtime-env", "nope.yaml", "--", "python"])
        #expect(failure.code == .unreadableRuntimeEnvironment)
        #expect(failure.message.contains("/work/project/nope.yaml"))
    }

    @Test(arguments: [
        (
            #"{"container": {"image": "x"}}"#, RaySubmitError.Code.rejectedCombination,
            "runtime_env sets `container`, which Ray allows only together with config and env_vars"
        ),
        (
            #"{"image_uri": "rayproject/ray:2.60", "working_dir": "."}"#, .rejectedCombination,
            "runtime_env sets `image_uri`, which Ray allows only together with config and env_vars (it already sets working_dir)"
        ),
        (
            #"{"pip": ["a"], "conda": "env"}"#, .rejectedCombination,
            "runtime_env sets `pip` and `conda`; Ray accepts only one of pip, uv and conda"
        ),
        (
            #"{"env_vars": {"N": 4}}"#, .invalidField,
            "runtime_env['env_vars'] must be of type Dict[str, str], but the value of N is of type int"
        ),
        (#"{"env_vars": ["A=b"]}"#, .invalidField, "runtime_env['env_vars'] must be of type Dict[str, str], got list"),
        (
            #"{"env_vars": {"__RAY_WORKER_PROCESS_SETUP_HOOK_ENV_VAR": "x"}}"#, .rejectedCombination,
            "which Ray refuses together with a worker_process_setup_hook"
        ),
        (#"{"py_modules": "mylib"}"#, .invalidField, "runtime_env['py_modules'] must be a list of strings"),
        (
            #"{"worker_process_setup_hook": 3}"#, .invalidField,
            "runtime_env['worker_process_setup_hook'] must be a string, got int"
        ),
        (#"{"working_dir": "."#, .unreadableRuntimeEnvironment, "`--runtime-env-json` is not valid JSON"),
        (#"["working_dir"]"#, .unreadableRuntimeEnvironment, "`--runtime-env-json` must be a JSON object"),
    ])
    func explainsWhatRayWouldReject(json: String, code: RaySubmitError.Code, message: String) throws {
        let failure = try error(["ray", "job", "submit", "--runtime-env-json", json, "--", "python", "x.py"])
        #expect(failure.code == code)
        #expect(failure.message.contains(message), "\(failure.message)")
    }

    @Test func refusesBothRuntimeEnvironmentOptions() throws {
        let failure = try error([
            "ray", "job", "submit", "--runtime-env", "a.yaml", "--runtime-env-json", "{}", "--", "python",
        ])
        #expect(failure.code == .conflictingOptions)
        #expect(failure.message.contains("Ray accepts only one of them"))
    }

    @Test(arguments: ["pip", "conda", "uv"])
    func leavesTheInterpreterToAPackageManager(field: String) throws {
        // One policy with `ray.init` (docs/ray-submit.md): no launcher over pip/conda/uv, and a note saying so.
        let json = field == "conda" ? #"{"conda": "myenv"}"# : #"{"\#(field)": ["requests"]}"#
        let result = try rewriter(launcher: "/opt/roar/roar-worker").rewrite(
            command(["ray", "job", "submit", "--runtime-env-json", json, "--", "python", "x.py"]))
        #expect(result.runtimeEnvironment["py_executable"] == nil)
        #expect(
            result.notes.contains {
                $0.contains("runtime_env sets `\(field)`, whose environment chooses the workers' Python")
            })
    }

    @Test func nullRuntimeEnvironmentIsEmpty() throws {
        let result = try rewriter().rewrite(
            command(["ray", "job", "submit", "--runtime-env-json", "null", "--", "python"]))
        #expect(result.runtimeEnvironment["py_modules"] == .array([.string(Self.bundle)]))
    }
}
