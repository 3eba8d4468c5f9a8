import Foundation
import RoarCore
import Testing

@testable import RoarCapture
@testable import RoarRaySubmit

/// The project's `.venv` (Ray 2.60, PyYAML), found from this file's path.
enum VirtualEnvironment {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let bin = repository.appendingPathComponent(".venv/bin")
    static let isPresent = FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("ray").path)
}

/// Checks the rewrite against the real Ray 2.60 CLI and PyYAML in the project's `.venv`:
/// `RAY_JOB_SUBMIT_HOOK` makes `ray job submit` hand its parsed arguments to a function of ours
/// before it connects anywhere, which prints them and exits. Skipped without the `.venv`.
@Suite("ray job submit rewrite, read back by Ray", .enabled(if: VirtualEnvironment.isPresent))
struct RaySubmitAgainstRayTests {
    func run(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func rayReadsTheRewrittenCommandAsIntended() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("roar-ray-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try """
        import json, os, sys
        def dump(**arguments):
            print("ROAR-HOOK" + json.dumps(arguments))
            sys.stdout.flush()
            os._exit(0)
        """.write(to: directory.appendingPathComponent("roar_dump_hook.py"), atomically: true, encoding: .utf8)

        let ray = VirtualEnvironment.bin.appendingPathComponent("ray").path
        let submit = try #require(
            RaySubmitCommand.parse([
                ray, "job", "submit", "--address", "http://127.0.0.1:8265", "--submission-id=s1", "--no-wait", "-vv",
                "--entrypoint-num-cpus", "0.5", "--metadata-json", #"{"team": "ml"}"#, "--working-dir", ".",
                "--runtime-env-json", #"{"env_vars": {"A": "b c"}, "worker_process_setup_hook": "pkg.hook"}"#,
                "python3", "train.py", "--", "--lr=0.1", "it's",
            ]))
        let result = try RaySubmitRewrite(
            bundleDirectory: "/opt/roar/roar_runtime", environmentVariables: ["ROAR_RUN_ID": "r1"],
            currentDirectory: directory.path
        ).rewrite(submit)

        let output = try run(
            result.arguments[0], Array(result.arguments.dropFirst()),
            environment: ["PYTHONPATH": directory.path, "RAY_JOB_SUBMIT_HOOK": "roar_dump_hook.dump"])
        let line = try #require(output.split(separator: "\n").first { $0.hasPrefix("ROAR-HOOK") })
        let seen = try #require(
            RuntimeEnvironmentValue.decode(json: String(line.dropFirst("ROAR-HOOK".count)))?.objectValue)
        #expect(
            seen["entrypoint"]
                == .array(
                    ["python3", "-m", "roar_runtime.driver", "--", "python3", "train.py", "--lr=0.1", "it's"].map {
                        .string($0)
                    }))
        #expect(seen["address"] == .string("http://127.0.0.1:8265"))
        #expect(seen["submission_id"] == .string("s1"))
        #expect(seen["no_wait"] == .bool(true))
        #expect(seen["entrypoint_num_cpus"] == .number(0.5))
        #expect(seen["working_dir"] == .null)
        #expect(seen["runtime_env"] == .null)
        let json = try #require(seen["runtime_env_json"]?.stringValue)
        #expect(RuntimeEnvironmentValue.decode(json: json) == .object(result.runtimeEnvironment))
        #expect(result.runtimeEnvironment["working_dir"] == .string("."))
    }

    @Test func runtimeEnvironmentYAMLReadsAsPyYAMLReadsIt() throws {
        let yaml = """
            ---
            working_dir: .
            pip:
            - requests==2.31
            - "numpy>=1.26"
            env_vars: {A: "1", B: two, C: 'it''s'}
            config:
              setup_timeout_seconds: 600
              eager_install: no
            py_modules: [a, 'b c']  # comment
            n: 3.10
            m: -7
            flag: On
            nothing:
            conda:
              dependencies:
                - pip
                - {pip: [requests]}
            base: &b {X: "1"}
            merged:
              <<: *b
              Y: two
            octal: 010
            grouped: 1_000
            sexagesimal: 1:20
            block: |
              line one
              line two
            folded: >-
              one
              two
            url: s3://bucket/key#frag
            """
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("roar-yaml-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("env.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let output = try run(
            VirtualEnvironment.bin.appendingPathComponent("python").path,
            ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", file.path])
        let expected = try #require(RuntimeEnvironmentValue.decode(json: output))
        #expect(try RuntimeEnvironmentYAML.parse(yaml, file: "env.yaml") == expected)
    }
}
