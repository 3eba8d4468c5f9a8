import Foundation
import RoarConfig
import Testing

@Suite("Validating roar.toml")
struct ValidationTests {
    /// The error `RoarConfig.parse` throws for `toml`, read as the file `roar.toml`.
    func parseError(in toml: String) -> ConfigError? {
        #expect(throws: ConfigError.self) { try RoarConfig.parse(toml, file: "roar.toml") }
    }

    @Test("an unknown key is named with its line and the key it resembles")
    func unknownKeyWithLine() throws {
        let toml = """
            # roar settings

            [hash]
            algorithm = "blake3"

            [ray]
            actor_atribution = "per_actor"
            enabled = true
            """
        let error = try #require(parseError(in: toml))
        #expect(
            error.description
                == "roar.toml:7: unknown key 'ray.actor_atribution' (did you mean 'ray.actor_attribution'?)")
        #expect(error.code == .unknownKey)
        #expect(error.file == "roar.toml")
        #expect(error.line == 7)
        #expect(error.key == "ray.actor_atribution")
    }

    @Test(
        "unknown keys and sections in every form",
        arguments: [
            (
                "[ray]\nenabled = true\nfoo = 1",
                "roar.toml:3: unknown key 'ray.foo'; [ray] has the keys enabled, actor_attribution"
            ),
            ("\n[rey]\nenabled = true", "roar.toml:2: unknown section [rey] (did you mean [ray]?)"),
            (
                "[cache]\nsize = 1",
                "roar.toml:1: unknown section [cache]; the sections are [ray], [filters], [hash], [run], [glaas]"
            ),
            (
                "enabled = true",
                "roar.toml:1: unknown key 'enabled' outside any section (did you mean 'ray.enabled'? write it as enabled under [ray])"
            ),
            (
                "[run]\nalgorithm = 'sha256'",
                "roar.toml:2: unknown key 'run.algorithm' (did you mean 'hash.algorithm'?)"
            ),
            (
                "x = 1\nray.enabld = false",
                "roar.toml:1: unknown key 'x' outside any section; settings go in the sections [ray], [filters], [hash], [run], [glaas]"
            ),
            (
                "[hash]\n\n\n  \"algo rithm\" = 1",
                "roar.toml:4: unknown key 'hash.algo rithm' (did you mean 'hash.algorithm'?)"
            ),
            (
                "ray = { enabled = true, atribution = 'per_call' }",
                "roar.toml:1: unknown key 'ray.atribution' (did you mean 'ray.actor_attribution'?)"
            ),
            (
                "[ray]\nenabled = true\n[ray.extra]\nx = 1",
                "roar.toml:3: unknown key 'ray.extra'; [ray] has the keys enabled, actor_attribution"
            ),
        ])
    func unknownKeys(toml: String, expected: String) throws {
        let error = try #require(parseError(in: toml))
        #expect(error.code == .unknownKey)
        #expect(error.description == expected)
    }

    @Test(
        "bad values are named with their line and what is allowed",
        arguments: [
            (
                "[ray]\n\nactor_attribution = \"per_task\"",
                #"roar.toml:3: ray.actor_attribution must be "per_call" or "per_actor", got "per_task""#
            ),
            ("[ray]\nenabled = \"yes\"", #"roar.toml:2: ray.enabled must be true or false, got "yes""#),
            ("[ray]\nenabled = 1", "roar.toml:2: ray.enabled must be true or false, got 1"),
            (
                "[filters]\nignore = \"/data\"",
                #"roar.toml:2: filters.ignore must be an array of path prefixes such as ["/data/cache"], got "/data""#
            ),
            (
                "[filters]\ninclude = [\"/a\",\n  2]",
                #"roar.toml:2: filters.include must be an array of path prefixes such as ["/data/cache"], got ["/a", 2]"#
            ),
            ("[filters]\nignore = [\"\"]", "roar.toml:2: filters.ignore must not contain an empty path"),
            (
                "[filters]\nignore = [\"~/cache\"]",
                #"roar.toml:2: filters.ignore: "~/cache" starts with '~', which roar does not expand; write the absolute path or one relative to the project root"#
            ),
            ("[filters]\nignore_tmp = 'no'", #"roar.toml:2: filters.ignore_tmp must be true or false, got "no""#),
            ("[hash]\nalgorithm = \"md5\"", #"roar.toml:2: hash.algorithm must be "blake3" or "sha256", got "md5""#),
            ("[run]\nflush_ms = 0", "roar.toml:2: run.flush_ms must be an integer from 1 to 60000, got 0"),
            ("[run]\nflush_ms = 60001", "roar.toml:2: run.flush_ms must be an integer from 1 to 60000, got 60001"),
            ("[run]\nflush_ms = 1000.0", "roar.toml:2: run.flush_ms must be an integer from 1 to 60000, got 1000.0"),
            (
                "[run]\nflush_ms = \"1000\"",
                #"roar.toml:2: run.flush_ms must be an integer from 1 to 60000, got "1000""#
            ),
            (
                "[glaas]\nurl = \"ftp://example.com\"",
                #"roar.toml:2: glaas.url must be an http or https URL such as "https://glaas.example.com", got "ftp://example.com""#
            ),
            (
                "[glaas]\nurl = \"glaas.example.com\"",
                #"roar.toml:2: glaas.url must be an http or https URL such as "https://glaas.example.com", got "glaas.example.com""#
            ),
            (
                "ray = true",
                "roar.toml:1: ray must be a table: write [ray] on a line of its own with its keys below it, got true"
            ),
            (
                "[[run]]\nflush_ms = 5",
                "roar.toml:1: run must be a table: write [run] on a line of its own with its keys below it, got [{ flush_ms = 5 }]"
            ),
        ])
    func badValues(toml: String, expected: String) throws {
        let error = try #require(parseError(in: toml))
        #expect(error.code == .badValue)
        #expect(error.description == expected)
    }

    @Test("with several problems, the first in the file is reported")
    func firstProblemInFileOrder() throws {
        // TOMLKit hands keys back in alphabetical order; the report follows the file.
        let toml = "[run]\nflush_ms = 0\n[hash]\nalgorithm = 'md5'\n[filters]\nbogus = 1\n"
        let error = try #require(parseError(in: toml))
        #expect(error.line == 2)
        #expect(error.key == "run.flush_ms")
    }

    @Test("lines are found past multi-line strings, arrays and comments that look like keys")
    func trickyLayout() throws {
        let toml = #"""
            # [ray]
            # enabled = 1
            [filters]
            ignore = [
              "/a",  # ] not the end
              '''/b
            [ray]
            enabled = 2''',
            ]
            'ignore_tmp' = "yes" # [run]
            [glaas]
            url = """https://x""" ; oops
            """#
        let error = try #require(parseError(in: toml))
        #expect(error.code == .syntax)
        #expect(error.line == 12)
        let fixed = toml.replacingOccurrences(of: " ; oops", with: "")
        let second = try #require(parseError(in: fixed))
        #expect(second.description == #"roar.toml:10: filters.ignore_tmp must be true or false, got "yes""#)
    }

    @Test(
        "syntax errors carry TOMLKit's line and column",
        arguments: [
            ("[ray]\nenabled = tru\n", 2),
            ("[ray]\nenabled = true\nenabled = false\n", 3),
            ("[run\nflush_ms = 5\n", 1),
            ("# ok\n[glaas]\nurl = \"https://x\n", 3),
        ])
    func syntaxErrors(toml: String, line: Int) throws {
        let error = try #require(parseError(in: toml))
        #expect(error.code == .syntax)
        #expect(error.line == line)
        #expect(error.column != nil)
        #expect(error.underlyingError != nil)
        #expect(error.description.hasPrefix("roar.toml:\(line):\(error.column ?? 0): not valid TOML: "))
        #expect(error.description.hasSuffix("; fix this line"))
        #expect(!error.description.contains("\n"))
    }

    @Test("load names the file as given")
    func loadNamesFile() throws {
        let project = try TemporaryProject()
        try project.write("[run]\nflush_ms = -5\n")
        let error = #expect(throws: ConfigError.self) { try RoarConfig.load(fromFile: project.configPath) }
        #expect(
            error?.description == "\(project.configPath):2: run.flush_ms must be an integer from 1 to 60000, got -5")
    }

    @Test("a file that cannot be read is .unreadable")
    func unreadable() throws {
        let project = try TemporaryProject()
        let directory = #expect(throws: ConfigError.self) { try RoarConfig.load(fromFile: project.root) }
        #expect(directory?.code == .unreadable)
        try project.write("")
        try Data([0x5B, 0xFF, 0xFE, 0x5D]).write(to: URL(fileURLWithPath: project.configPath))
        let binary = #expect(throws: ConfigError.self) { try RoarConfig.load(fromFile: project.configPath) }
        #expect(binary?.code == .unreadable)
        #expect(
            binary?.description == "\(project.configPath): cannot read the settings: not UTF-8 text; save it as UTF-8")
    }
}
