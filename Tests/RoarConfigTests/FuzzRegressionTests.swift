import RoarConfig
import Testing

/// Inputs found by `scripts/fuzz config` (docs/fuzzing.md) that once aborted roar: each must now
/// be a clean `ConfigError` naming the file, line and column.
@Suite("Loading roar.toml: fuzz regressions")
struct ConfigFuzzRegressionTests {
    /// crash-95d5f88013cac7c96140ebc18775b85ecced7bfc: control characters in a table header made
    /// toml++ fail an assertion (`parse_key`), which aborts the process. The fuzz target reads the
    /// bytes as roar would once it has checked they are UTF-8 (invalid bytes become U+FFFD).
    @Test func controlCharactersInATableHeader() {
        let bytes: [UInt8] = [
            0x5B, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x25, 0x05, 0x05, 0x05, 0x05,
            0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0xF4, 0xFA, 0xFA, 0xFA, 0x05, 0x05,
            0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05,
            0x05, 0x05, 0x74, 0x6F, 0x70, 0xE0, 0xC2, 0xDF, 0xCD, 0xF5, 0xA4, 0x8D, 0x94, 0x6E, 0x5D, 0x0A, 0x66,
            0x6C, 0x75, 0x73, 0x68, 0x5F, 0x6D, 0x73, 0x20, 0x3D, 0x20, 0x2D, 0x30, 0x0A,
        ]
        let error = #expect(throws: ConfigError.self) {
            try RoarConfig.parse(String(decoding: bytes, as: UTF8.self), file: "/p/roar.toml")
        }
        #expect(error?.code == .syntax)
        #expect(
            error?.description
                == "/p/roar.toml:1:2: not valid TOML: the file holds the control character U+0005; TOML allows only"
                + " tab, newline and carriage return (write other control characters as \\u escapes); save it as"
                + " plain UTF-8 text")
    }

    /// crash-e848cdcd4d4b99a9724ae046565e4dc120661aeb: a `[` alone on a line is a table header
    /// without a name; toml++ asserts that a header's name starts with a key character and aborts.
    @Test func tableHeaderWithoutAName() {
        let text =
            "[ray]\nactor_atribution = \"per_actor\"\nflush_ms = \"10\"\n[nope]\nx = 1\ntop = 2\n[\n"
            + "actor_atribution = \"per_actor\"\nflush_ms = \"10\"\n[nope]\nx = 1\ntop = 2\n[run]\nflush_run]\n"
            + "flush_ms = -0\n"
        let error = #expect(throws: ConfigError.self) { try RoarConfig.parse(text, file: "roar.toml") }
        #expect(
            error?.description
                == "roar.toml:7:1: not valid TOML: a table header must name a table: `[name]`, `[a.b]` or"
                + " `[\"quoted\"]`; fix this line")
    }

    /// crash-31e563ec0c9a39a4d56e855867ba81293a54b7c4: the same, after a byte order mark: a header
    /// whose name starts with bytes that are not UTF-8 (read as U+FFFD).
    @Test func tableHeaderAfterAByteOrderMark() {
        let bytes: [UInt8] = [
            0xEF, 0xBB, 0xBF, 0x5B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF, 0xFF, 0x72, 0x61, 0x79, 0x5D, 0x0A, 0x61, 0x63, 0x74, 0x6F, 0x72, 0x5F, 0x61, 0x74, 0x72,
            0x69, 0x62, 0x75, 0x74, 0x69, 0x6F, 0x6E, 0x20, 0x3D, 0x20, 0x22, 0x70, 0x65, 0x72, 0x5F, 0x61, 0x63,
            0x74, 0x6F, 0x72, 0x22, 0x75, 0x73, 0x68, 0x5F, 0x6D, 0x73, 0x20, 0x3D, 0x20, 0xD0, 0xDD, 0xF5, 0x20,
            0x91, 0x78, 0xA4, 0x0A, 0x3D, 0x20, 0x31, 0x0A, 0x74, 0x6F, 0x70, 0x20, 0x3D, 0x20, 0x32, 0x0A, 0x5B,
            0x72, 0x75, 0x6E, 0x5D, 0x22, 0x31, 0xD0, 0xDD, 0xF5, 0xA4, 0x91, 0x0A, 0x78, 0x20, 0x3D, 0x20, 0x31,
            0x0A, 0x74, 0x6F, 0x70, 0x20, 0x3D, 0x20, 0x32, 0x0A, 0x5B, 0x72, 0x75, 0x6E, 0x5D, 0x0A, 0x6E, 0x5D,
            0x0A, 0x66, 0x6C, 0x75, 0x33, 0x28, 0x5F, 0x6D, 0x73, 0x20, 0x3D, 0x20, 0x2D, 0x30, 0x0A,
        ]
        let error = #expect(throws: ConfigError.self) {
            try RoarConfig.parse(String(decoding: bytes, as: UTF8.self), file: "roar.toml")
        }
        #expect(error?.code == .syntax && error?.line == 1 && error?.column == 1)
    }

    /// crash-03af8e88ff990cadbe11a6ae0f80c488dc40228d: an array closed by `}`; toml++ asserts in
    /// `parse_value` that a value follows and aborts.
    @Test func arrayClosedByABrace() {
        let text =
            "ray = { enabled= false }\n[filters]\nflush_ = [\n  \"a\", # c\n  'b%',}\n[filtersb\n"
            + "flu2tion 56\"\"''\"\n"
        let error = #expect(throws: ConfigError.self) { try RoarConfig.parse(text, file: "roar.toml") }
        #expect(
            error?.description
                == "roar.toml:5:8: not valid TOML: `}` where `[` is still open; fix this line")
    }

    @Test func unbalancedBrackets() {
        for text in ["x = ]\n", "[ray]\nenabled = {a = [1}\n", "x = 1 }\n"] {
            #expect(throws: ConfigError.self, "\(text)") { try RoarConfig.parse(text, file: "roar.toml") }
        }
    }

    @Test("headers toml++ would assert on are refused; brackets in strings and comments are not headers")
    func tableHeaders() throws {
        for text in ["[{a = 1}]\n", "[[[x]]]\n", "  [ #x\n", "[[\n", "[ray]\n[.x]\n"] {
            #expect(throws: ConfigError.self, "\(text)") { try RoarConfig.parse(text, file: "roar.toml") }
        }
        let valid = """
            [filters]
            ignore = [
              "a",
              '''
            [{ x''',
            ]
            # [{ a comment
            [ "ray" ]
            enabled = false

            """
        let config = try RoarConfig.parse(valid, file: "/p/roar.toml")
        #expect(config.filters.ignore.count == 2)
        #expect(!config.ray.isEnabled)
    }

    @Test("every control character but tab, newline and carriage return is refused, wherever it is")
    func controlCharacters() throws {
        for byte in UInt8(0)...0x7F where byte < 0x20 || byte == 0x7F {
            let text = "[ray]\n# a comment \(Character(Unicode.Scalar(byte)))\nenabled = true\n"
            if byte == 0x09 || byte == 0x0A || byte == 0x0D {
                #expect(try RoarConfig.parse(text, file: "roar.toml").ray.isEnabled)
            } else {
                let error = #expect(throws: ConfigError.self) { try RoarConfig.parse(text, file: "roar.toml") }
                #expect(error?.code == .syntax && error?.line == 2 && error?.column == 13, "byte \(byte)")
            }
        }
    }
}
