import Testing

@testable import RoarCapture

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

    @Test(arguments: [
        ("a: &x 1", "env.yaml:1:", "the YAML construct `&`"),
        ("a: !!str 1", "env.yaml:1:", "the YAML construct `!`"),
        ("a: |\n  text", "env.yaml:1:", "the YAML construct `|`"),
        ("conda:\n  dependencies:\n    - pip", "env.yaml:3:", "nesting deeper than one level"),
        ("pip:\n  - a: 1", "env.yaml:2:", "nested collections in a list"),
        ("a: 010", "env.yaml:1:", "leading 0 as octal"),
        ("a: 1_000", "env.yaml:1:", "may read it as a number or date"),
        ("a: 2024-01-02", "env.yaml:1:", "may read it as a number or date"),
        ("a: 1e3", "env.yaml:1:", "may read it as a number or date"),
        ("a: [x, [y]]", "env.yaml:1:", "nested flow collections"),
        ("a: 1\n---\nb: 2", "env.yaml:2:", "more than one YAML document"),
        ("just text", "env.yaml:1:", "`key: value` expected"),
        ("a: \"x\\ty\"", "env.yaml:1:", "escape sequences"),
    ])
    func refusesWhatItDoesNotRead(text: String, location: String, what: String) {
        do {
            _ = try parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.code == .unsupportedYAML)
            #expect(error.message.hasPrefix(location), "\(error.message)")
            #expect(error.message.contains(what), "\(error.message)")
            #expect(error.message.contains("pass the runtime env as `--runtime-env-json` instead"))
        }
    }
}
