import RoarCapture
import RoarCore
import RoarRaySubmit
import Testing

/// Inputs found by `scripts/fuzz runtime-env` (docs/fuzzing.md) that once trapped: each must now
/// be a clean `RaySubmitError` naming the file and the field.
@Suite("Runtime env YAML: fuzz regressions")
struct RuntimeEnvironmentFuzzRegressionTests {
    func parse(_ text: String) throws(RaySubmitError) -> RuntimeEnvironmentValue {
        try RuntimeEnvironmentYAML.parse(text, file: "env.yaml")
    }

    /// crash-6af9621c7597a974d0d1aafb47f67627d8f9444b: a flow mapping whose key is a list; Yams'
    /// constructor force-unwraps the key as a string (Constructor.swift:448) and traps.
    @Test func listAsAKey() {
        let bytes: [UInt8] = [
            0x7B, 0x5B, 0x6E, 0x92, 0xA0, 0x89, 0xA0, 0x76, 0x61, 0x72, 0xC5, 0xDF, 0x8A, 0x22, 0x41, 0x3D, 0x62, 0x22,
            0x5D, 0x7D,
        ]
        let error = #expect(throws: RaySubmitError.self) { try parse(String(decoding: bytes, as: UTF8.self)) }
        #expect(error?.code == .unsupportedYAML)
        #expect(error?.message.hasPrefix("env.yaml: the document holds a key that is a list, not a string") == true)
    }

    @Test func mappingAsAKeyDeepInside() {
        let error = #expect(throws: RaySubmitError.self) { try parse("env_vars:\n  ? {a: 1}\n  : x\n") }
        #expect(error?.code == .unsupportedYAML)
        #expect(error?.message.hasPrefix("env.yaml: `env_vars` holds a key that is a mapping, not a string") == true)
    }

    @Test func aliasBombIsRefusedNotExpanded() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            text +=
                "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
                + "]\n"
        }
        let error = #expect(throws: RaySubmitError.self) { try parse(text) }
        #expect(error?.code == .unreadableRuntimeEnvironment)
        #expect(error?.message.contains("more than 100000 values once its aliases are expanded") == true)
    }

    @Test func deepNestingIsRefused() throws {
        let error = #expect(throws: RaySubmitError.self) {
            try parse(String(repeating: "[", count: 300) + String(repeating: "]", count: 300))
        }
        #expect(error?.code == .unreadableRuntimeEnvironment)
        #expect(error?.message.contains("values nested more than 256 levels deep") == true)
        #expect(try parse(String(repeating: "[", count: 200) + String(repeating: "]", count: 200)) != .null)
    }
}
