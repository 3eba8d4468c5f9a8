import Testing

@testable import RoarCapture
@testable import RoarRaySubmit

@Suite("ray job submit recognition")
struct RaySubmitCommandTests {
    typealias Option = RaySubmitCommand.Option

    func words(_ line: String) -> [String] { line.split(separator: " ").map(String.init) }

    @Test func recognisesThePlainForm() throws {
        let command = try #require(RaySubmitCommand.parse(words("ray job submit -- python x.py --arg=val")))
        #expect(command.program == ["ray"])
        #expect(command.groupName == "job")
        #expect(command.settings.isEmpty)
        #expect(command.entrypoint == ["python", "x.py", "--arg=val"])
    }

    @Test(arguments: [
        ("/opt/venv/bin/ray job submit -- python x.py", ["/opt/venv/bin/ray"]),
        ("ray jobs submit -- python x.py", ["ray"]),
        ("python -m ray.scripts.scripts job submit -- python x.py", ["python", "-m", "ray.scripts.scripts"]),
        (
            "python3.11 -u -m ray.scripts.scripts job submit -- python x.py",
            ["python3.11", "-u", "-m", "ray.scripts.scripts"]
        ),
        (
            "/usr/bin/python3 -mray.scripts.scripts job submit -- python x.py",
            ["/usr/bin/python3", "-mray.scripts.scripts"]
        ),
    ])
    func recognisesLaunchers(line: String, program: [String]) throws {
        let command = try #require(RaySubmitCommand.parse(words(line)))
        #expect(command.program == program)
        #expect(command.entrypoint == ["python", "x.py"])
    }

    @Test func keepsTheJobsSpelling() throws {
        let command = try #require(RaySubmitCommand.parse(words("ray jobs submit -- python x.py")))
        #expect(command.groupName == "jobs")
        #expect(command.arguments.prefix(3) == ["ray", "jobs", "submit"])
    }

    @Test func acceptsRayTopLevelOptions() throws {
        let command = try #require(
            RaySubmitCommand.parse(words("ray --logging-level debug --logging-format=x job submit -- python x.py")))
        #expect(command.globalArguments == ["--logging-level", "debug", "--logging-format=x"])
    }

    @Test(arguments: [
        "python x.py", "ray job status abc", "ray submit cluster.yaml x.py", "ray start --head", "ray --version",
        "python -m ray.scripts.scripts start", "python -c job", "rayx job submit -- python x.py", "", "ray job",
    ])
    func ignoresOtherCommands(line: String) {
        #expect(RaySubmitCommand.recognition(words(line)) == .notASubmit)
    }

    /// Every option, in both the `--opt value` and the `--opt=value` forms.
    @Test(arguments: [
        (Option.address, "http://127.0.0.1:8265"), (.jobID, "j1"), (.submissionID, "s1"),
        (.runtimeEnvironmentFile, "env.yaml"), (.runtimeEnvironmentJSON, #"{"working_dir":"."}"#),
        (.workingDirectory, "."), (.metadataJSON, #"{"a":"b"}"#), (.entrypointCPUs, "1.5"), (.entrypointGPUs, "1"),
        (.entrypointMemory, "1000"), (.entrypointResources, #"{"r":1}"#), (.entrypointLabelSelector, #"{"k":"v"}"#),
        (.verify, "false"), (.headers, #"{"Authorization":"x"}"#), (.logStyle, "record"), (.logColor, "TRUE"),
    ])
    func readsEveryValueOption(option: Option, value: String) throws {
        for argv in [
            ["ray", "job", "submit", option.rawValue, value, "--", "python", "x.py"],
            ["ray", "job", "submit", option.rawValue + "=" + value, "--", "python", "x.py"],
            ["ray", "job", "submit", option.rawValue + "=" + value, "python", "x.py"],
        ] {
            let command = try #require(RaySubmitCommand.parse(argv))
            #expect(command.value(of: option) == value)
            #expect(command.entrypoint == ["python", "x.py"])
        }
    }

    @Test func readsFlags() throws {
        let command = try #require(
            RaySubmitCommand.parse(words("ray job submit --no-wait -vv --verbose -v -- python x.py")))
        #expect(command.isNoWait)
        #expect(command.verbosity == 4)
    }

    @Test func optionsMayFollowEntrypointWordsWithoutSeparator() throws {
        // click allows interspersed options: Ray reads --no-wait and --address here.
        let command = try #require(
            RaySubmitCommand.parse(words("ray job submit python x.py --no-wait data.csv --address http://h:8265")))
        #expect(command.entrypoint == ["python", "x.py", "data.csv"])
        #expect(command.isNoWait)
        #expect(command.value(of: .address) == "http://h:8265")
    }

    @Test func everythingAfterTheFirstSeparatorIsEntrypoint() throws {
        let command = try #require(
            RaySubmitCommand.parse(words("ray job submit --address a python x.py -- --no-wait -v -- y")))
        #expect(command.entrypoint == ["python", "x.py", "--no-wait", "-v", "--", "y"])
        #expect(!command.isNoWait)
    }

    @Test func valueMayLookLikeAnOption() throws {
        let command = try #require(RaySubmitCommand.parse(words("ray job submit --submission-id -x -- python")))
        #expect(command.value(of: .submissionID) == "-x")
    }

    @Test func lastValueWinsAndJobIDIsTheFallbackSubmissionID() throws {
        let command = try #require(
            RaySubmitCommand.parse(words("ray job submit --job-id a --address x --address y -- python")))
        #expect(command.value(of: .address) == "y")
        #expect(command.submissionID == "a")
        let both = try #require(RaySubmitCommand.parse(words("ray job submit --job-id a --submission-id b -- python")))
        #expect(both.submissionID == "b")
    }

    @Test func canonicalArgumentsRoundTrip() throws {
        let command = try #require(
            RaySubmitCommand.parse(words("ray job submit --address a -vv --no-wait python x.py")))
        #expect(command.arguments == words("ray job submit --address=a -v -v --no-wait -- python x.py"))
        #expect(RaySubmitCommand.parse(command.arguments) == command)
    }

    @Test(arguments: [
        (
            "ray job submit --frobnicate 1 -- python x.py",
            "`--frobnicate` is not an option of `ray job submit` in Ray 2.60"
        ),
        ("ray job submit python train.py --epochs 3", "put `--` before the entrypoint"),
        ("ray job submit python -u train.py", "`-u` is not an option"),
        ("ray job submit --help", "only prints Ray's help"),
        ("ray job submit -h -- python", "only prints Ray's help"),
        ("ray job submit --address", "`--address` needs a value"),
        ("ray job submit --no-wait=true -- python", "`--no-wait` takes no value"),
        ("ray job submit --address a --", "no entrypoint"),
        ("ray job submit --entrypoint-num-cpus lots -- python", "Ray expects a number"),
        ("ray job submit --entrypoint-memory 1.5 -- python", "Ray expects an integer"),
        ("ray job submit --log-style fancy -- python", "auto, record or pretty"),
        ("ray job submit --log-color maybe -- python", "auto, false or true"),
        ("ray --bogus job submit -- python", "`ray --bogus` before `job submit`"),
    ])
    func refusesWithAReason(line: String, reasonPart: String) {
        guard case .unsupported(let reason) = RaySubmitCommand.recognition(words(line)) else {
            Issue.record("\(line) was not refused")
            return
        }
        #expect(reason.contains(reasonPart), "\(reason)")
        #expect(RaySubmitCommand.parse(words(line)) == nil)
    }
}

@Suite("secret redaction of ray job submit")
struct RedactorOptionTests {
    @Test func secretRedactorMasksEveryJSONOption() {
        let jsonOptions = Set(RaySubmitCommand.Option.allCases.filter(\.hasJSONValue).map(\.rawValue))
        #expect(SecretRedactor.jsonOptions == jsonOptions)
    }

    @Test func aRewrittenCommandRecordsNoSecrets() throws {
        let submit = try #require(
            RaySubmitCommand.parse([
                "ray", "job", "submit", "--runtime-env-json", #"{"env_vars": {"AWS_SECRET_ACCESS_KEY": "abc"}}"#, "--",
                "python", "x.py",
            ]))
        let result = try RaySubmitRewrite(
            bundleDirectory: "/b", environmentVariables: ["ROAR_SEAL_KEY": "pub"], currentDirectory: "/"
        ).rewrite(submit)
        let line = SecretRedactor.redact(argv: result.arguments)
        #expect(!line.contains("abc"))
        #expect(!line.contains("pub"))
    }
}
