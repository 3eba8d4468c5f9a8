import RoarCore
import Testing

@testable import RoarCapture
@testable import RoarRaySubmit

@Suite("runtime_env YAML subset")
struct RuntimeEnvironmentYAMLTests {
    func parse(_ text: String) throws(RaySubmitError) -> RuntimeEnvironmentValue {
        try RuntimeEnvironmentYAML.parse(text, file: "env.yaml")
    }

    @Test func typesScalarsAsPyYAMLDoes() throws {
        let value = try parse(
            """
            ---
            a: 1
            b: -2
            c: 1.5
            d: yes
            e: Off
            f: ~
            g:
            h: '3'
            i: "it's"
            j: 'it''s'
            k: numpy==1.26
            l: s3://bucket/key#frag
            """)
        #expect(
            value
                == .object([
                    "a": .integer(1), "b": .integer(-2), "c": .number(1.5), "d": .bool(true), "e": .bool(false),
                    "f": .null, "g": .null, "h": .string("3"), "i": .string("it's"), "j": .string("it's"),
                    "k": .string("numpy==1.26"), "l": .string("s3://bucket/key#frag"),
                ]))
    }

    @Test func readsBlockAndFlowCollections() throws {
        let value = try parse(
            """
            pip:
            - a
            - b  # trailing comment
            env_vars: {A: "1", B: two}
            config:
                setup_timeout_seconds: 600
            """)
        #expect(value.objectValue?["pip"] == .array([.string("a"), .string("b")]))
        #expect(value.objectValue?["env_vars"] == .object(["A": .string("1"), "B": .string("two")]))
        #expect(value.objectValue?["config"] == .object(["setup_timeout_seconds": .integer(600)]))
    }

    @Test func emptyFileIsNull() throws {
        #expect(try parse("# nothing\n\n") == .null)
    }

    @Test func readsWhatPyYAMLReads() throws {
        // Once refused by the hand-written subset parser; PyYAML's safe_load reads them, and so does Yams.
        let value = try parse(
            """
            base: &base {A: "1"}
            env_vars:
              <<: *base
              B: two
            conda:
              dependencies:
                - pip
                - {pip: [requests]}
            octal: 010
            grouped: 1_000
            sexagesimal: 1:20
            block: |
              text
            """)
        let object = try #require(value.objectValue)
        #expect(object["env_vars"] == .object(["A": .string("1"), "B": .string("two")]))
        #expect(
            object["conda"]
                == .object([
                    "dependencies": .array([.string("pip"), .object(["pip": .array([.string("requests")])])])
                ]))
        #expect(object["octal"] == .integer(8))
        #expect(object["grouped"] == .integer(1000))
        #expect(object["sexagesimal"] == .integer(80))
        #expect(object["block"] == .string("text"))  // PyYAML: no newline at the end of the file, none kept
    }

    @Test(arguments: [
        ("a: 2024-01-02", "env.yaml: `a` holds a date or timestamp"),
        ("pip: [.inf]", "env.yaml: `pip[0]` holds `inf` (a special float)"),
    ])
    func refusesWhatJSONCannotCarry(text: String, message: String) {
        do {
            _ = try parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.code == .unsupportedYAML)
            #expect(error.message.hasPrefix(message), "\(error.message)")
            #expect(error.message.contains("pass the runtime env as `--runtime-env-json`"))
        }
    }

    @Test(arguments: ["a: 1\n---\nb: 2", "a: [x", "just text"])
    func refusesWhatSafeLoadRefuses(text: String) {
        do {
            let value = try parse(text)
            // A plain scalar document is valid YAML: the rewrite refuses it as not a mapping.
            #expect(value.objectValue == nil, "\(value)")
        } catch {
            #expect(error.code == .unreadableRuntimeEnvironment)
            #expect(error.message.hasPrefix("`--runtime-env env.yaml` is not valid YAML"), "\(error.message)")
        }
    }
}
