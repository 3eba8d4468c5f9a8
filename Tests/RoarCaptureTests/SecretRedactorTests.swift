import Testing

@testable import RoarCapture

@Suite("secret redaction")
struct SecretRedactorTests {
    @Test(arguments: [
        "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "RAY_AUTH_TOKEN", "HF_TOKEN", "GITHUB_TOKEN",
        "DB_SECRET", "CLIENT_SECRET_ID", "PGPASSWORD", "MYSQL_PASSWORD_FILE", "ROAR_SEAL_KEY", "ROAR_PUBLIC_KEY",
        "WANDB_API_KEY", "Authorization", "x-api-key", "api-token",
    ])
    func secretNames(name: String) {
        #expect(SecretRedactor.isSecretName(name))
    }

    @Test(arguments: ["PATH", "HOME", "ROAR_RUN_ID", "TOKENIZERS_PARALLELISM", "SORT_KEY", "OMP_NUM_THREADS"])
    func ordinaryNames(name: String) {
        #expect(!SecretRedactor.isSecretName(name))
    }

    @Test func redactsTheEnvironment() {
        let redacted = SecretRedactor.redact(environment: [
            "AWS_SECRET_ACCESS_KEY": "abc", "AWS_SESSION_TOKEN": "t", "AWS_ACCESS_KEY_ID": "AKIA",
            "RAY_AUTH_TOKEN": "r", "HF_TOKEN": "h", "MY_SECRET_THING": "s", "DB_PASSWORD": "p", "ROAR_SEAL_KEY": "k",
            "PATH": "/usr/bin", "DATABASE_URL": "postgres://app:hunter2@db:5432/x",
        ])
        #expect(
            redacted == [
                "AWS_SECRET_ACCESS_KEY": "***", "AWS_SESSION_TOKEN": "***", "AWS_ACCESS_KEY_ID": "***",
                "RAY_AUTH_TOKEN": "***", "HF_TOKEN": "***", "MY_SECRET_THING": "***", "DB_PASSWORD": "***",
                "ROAR_SEAL_KEY": "***", "PATH": "/usr/bin", "DATABASE_URL": "postgres://app:***@db:5432/x",
            ])
    }

    @Test func redactsHeaderAuthorization() {
        let argv = [
            "ray", "job", "submit", "--headers", #"{"Authorization": "Bearer abc", "X-Trace": "1"}"#, "--", "python",
        ]
        let redacted = SecretRedactor.redactedArguments(argv)
        #expect(redacted[4] == #"{"Authorization":"***","X-Trace":"1"}"#)
        let inline = SecretRedactor.redactedArguments(["ray", "--headers=" + #"{"authorization":"x"}"#])
        #expect(inline[1] == #"--headers={"authorization":"***"}"#)
    }

    @Test func headersThatAreNotJSONAreMaskedWhole() {
        #expect(SecretRedactor.redactedArguments(["--headers", "Authorization: Bearer x"]) == ["--headers", "***"])
    }

    @Test func redactsRuntimeEnvironmentVariables() {
        let json = #"{"env_vars": {"WANDB_MODE": "offline", "HF_TOKEN": "hf_x"}, "working_dir": "."}"#
        let redacted = SecretRedactor.redactedArguments(["--runtime-env-json", json])
        #expect(redacted[1] == #"{"env_vars":{"HF_TOKEN":"***","WANDB_MODE":"***"},"working_dir":"."}"#)
        let inline = SecretRedactor.redactedArguments(["--runtime-env-json=" + json])
        #expect(inline[0] == "--runtime-env-json=" + redacted[1])
    }

    @Test func redactsSecretKeysInOtherJSONOptions() {
        let redacted = SecretRedactor.redactedArguments(["--metadata-json", #"{"owner": "ana", "api_token": "t"}"#])
        #expect(redacted[1] == #"{"api_token":"***","owner":"ana"}"#)
    }

    @Test func redactsURLPasswords() {
        #expect(
            SecretRedactor.redactedArguments(["--address", "https://admin:pw@ray.example:8265/x"])
                == ["--address", "https://admin:***@ray.example:8265/x"])
        #expect(
            SecretRedactor.redactedArguments(["--address=http://u:p@h"]) == ["--address=http://u:***@h"])
        #expect(SecretRedactor.redactURLPasswords("s3://bucket/a@b:c") == "s3://bucket/a@b:c")
        #expect(SecretRedactor.redactURLPasswords("http://user@host/") == "http://user@host/")
        #expect(
            SecretRedactor.redactURLPasswords("a=http://x:y@h1/ b=ftp://p:q@h2")
                == "a=http://x:***@h1/ b=ftp://p:***@h2")
    }

    @Test func redactsAssignmentsAndSecretOptionsInTheEntrypoint() {
        let argv = [
            "env", "AWS_SECRET_ACCESS_KEY=abc", "MODE=1", "python", "x.py", "--api-token", "t1", "--password=p",
            "--epochs", "3",
        ]
        #expect(
            SecretRedactor.redactedArguments(argv) == [
                "env", "AWS_SECRET_ACCESS_KEY=***", "MODE=1", "python", "x.py", "--api-token", "***", "--password=***",
                "--epochs", "3",
            ])
    }

    @Test func joinsAsAShellCommand() {
        let line = SecretRedactor.redact(argv: [
            "ray", "job", "submit", "--runtime-env-json", #"{"env_vars":{"K":"v"}}"#, "--", "python", "x.py",
        ])
        #expect(line == #"ray job submit --runtime-env-json '{"env_vars":{"K":"***"}}' -- python x.py"#)
    }
}
