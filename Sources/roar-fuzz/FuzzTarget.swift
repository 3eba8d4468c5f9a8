import Crypto
import Foundation
import RoarCapture
import RoarConfig
import RoarCore
import RoarRaySubmit
import RoarTransport

/// The parsers of untrusted input, one per fuzz target. Each run feeds one input to the parser
/// and everything that parses it further; a thrown error is the expected outcome for most
/// inputs, a trap or a sanitizer report is the finding.
enum FuzzTarget: String, CaseIterable {
    /// Spool file bytes (`SpoolReader.parse`), and the JSON of each `E` event line.
    case spool
    /// A sealed batch (`BatchOpener.open`) when the input starts with `RBAT`; any other input is a
    /// `roar.segments/1` plaintext, sealed with the fixed test keys and then opened, so the
    /// segment decoder runs behind the authentication.
    case batch
    /// A `--runtime-env` YAML file and a `--runtime-env-json` value, then the merge with roar's fields.
    case runtimeEnv = "runtime-env"
    /// A `roar.toml` (`RoarConfig.parse`, with its layout reader).
    case config
    /// `ray job submit` argv (the input split on NUL bytes): recognition, then the rewrite.
    case raySubmit = "ray-submit"

    static let environmentVariable = "ROAR_FUZZ_TARGET"

    /// The target named by ROAR_FUZZ_TARGET; exits with a message when it is unset or unknown.
    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment[environmentVariable] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(
                Data(
                    "roar-fuzz: set \(environmentVariable) to one of \(allCases.map(\.rawValue).joined(separator: ", ")) (got '\(name)')\n"
                        .utf8))
            exit(2)
        }
        return target
    }()

    func run(_ bytes: [UInt8]) {
        switch self {
        case .spool: Self.spool(bytes)
        case .batch: Self.batch(bytes)
        case .runtimeEnv: Self.runtimeEnvironment(bytes)
        case .config: Self.config(bytes)
        case .raySubmit: Self.raySubmit(bytes)
        }
    }

    static func spool(_ bytes: [UInt8]) {
        let contents = SpoolReader.parse(bytes, file: "fuzz.spool")
        for record in contents.records {
            guard case .event(_, _, let json) = record else { continue }
            _ = try? RayTaskEvent.decode(json: json)
            _ = try? RuntimeEvent.decode(json: json)
            _ = try? S3Record.decode(json: json)
        }
        _ = contents.problems.map(\.description)
    }

    // The fixed keys of Tests/vectors/segments/seal.json (TEST ONLY).
    static let recipient = try! RunKeyPair(privateKeyRawRepresentation: Array(1...32))
    static let ephemeral = try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: Array(0x40...0x5F))
    static let nonce = try! ChaChaPoly.Nonce(data: Array(0xA0...0xAB))
    static let opener = BatchOpener(keyPair: recipient)

    static func batch(_ bytes: [UInt8]) {
        if bytes.starts(with: Array("RBAT".utf8)) {
            _ = try? opener.open(bytes)
            return
        }
        _ = try? SegmentBatch.decode(from: bytes)
        _ = try? opener.open(sealed(plaintext: bytes))
    }

    /// `bytes` sealed as a `roar.segments/1` batch of `node-test`#42 in `sess-vectors-0001`
    /// (the layout of docs/batch-format.md, as BatchSealer writes it).
    static func sealed(plaintext: [UInt8]) -> [UInt8] {
        func field(_ text: String) -> [UInt8] {
            let utf8 = Array(text.utf8)
            return [UInt8(utf8.count >> 8), UInt8(utf8.count & 0xFF)] + utf8
        }
        let ephemeralPublicKey = Array(ephemeral.publicKey.rawRepresentation)
        var header = Array("RBAT".utf8) + [2] + ephemeralPublicKey + field("node-test")
        header += [0, 0, 0, 0, 0, 0, 0, 42] + field("sess-vectors-0001") + field(SegmentBatch.currentSchema)
        let recipientKey = try! Curve25519.KeyAgreement.PublicKey(
            rawRepresentation: recipient.publicKey.rawRepresentation)
        let shared = try! ephemeral.sharedSecretFromKeyAgreement(with: recipientKey)
        let key = shared.hkdfDerivedSymmetricKey(
            using: SHA256.self, salt: ephemeralPublicKey + recipient.publicKey.rawRepresentation,
            sharedInfo: Array("roar.batch/1".utf8), outputByteCount: 32)
        let box = try! ChaChaPoly.seal(plaintext, using: key, nonce: nonce, authenticating: header)
        return header + Array(box.combined)
    }

    static let additions = RuntimeEnvironmentMerge.Additions(
        environmentVariables: ["ROAR_RUN_ID": "r1", "ROAR_SPOOL": "/spool", "PYTHONPATH": "/roar/python"],
        pythonModule: "/roar/bundle", workerLauncher: "/roar/roar-worker")

    static func runtimeEnvironment(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        if case .object(let map)? = try? RuntimeEnvironmentYAML.parse(text, file: "fuzz.yaml") {
            _ = try? RuntimeEnvironmentMerge.merge(map, with: additions)
        }
        if case .object(let map)? = RuntimeEnvironmentValue.decode(json: text) {
            _ = try? RuntimeEnvironmentMerge.merge(map, with: additions)
        }
    }

    static func config(_ bytes: [UInt8]) {
        _ = try? RoarConfig.parse(String(decoding: bytes, as: UTF8.self), file: "/fuzz/roar.toml")
    }

    static let rewrite = RaySubmitRewrite(
        bundleDirectory: "/roar/bundle", environmentVariables: ["ROAR_RUN_ID": "r1"],
        workerLauncher: "/roar/roar-worker", currentDirectory: "/nonexistent-roar-fuzz")

    static func raySubmit(_ bytes: [UInt8]) {
        let argv = bytes.split(separator: 0, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        _ = SecretRedactor.redactedArguments(argv)
        guard case .recognised(let command) = RaySubmitCommand.recognition(argv) else { return }
        _ = SecretRedactor.redactedArguments(command.arguments)
        // A `--runtime-env` file is read from disk: only bare names, which are missing from the
        // (nonexistent) current directory, so that no input makes it read /dev/zero or /dev/stdin.
        if let file = command.value(of: .runtimeEnvironmentFile), file.contains("/") { return }
        _ = try? rewrite.rewrite(command)
    }
}
