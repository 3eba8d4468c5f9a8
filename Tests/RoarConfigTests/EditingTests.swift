import Foundation
import RoarConfig
import Testing

@Suite("roar config set")
struct EditingTests {
    static let commented = """
        # Project settings — keep these comments!

        [ray]
        # attribution for the actor-heavy pipeline
        actor_attribution = "per_call"   # trailing comment stays
        enabled = true

        [filters]
        ignore = [
            "/data/cache",  # big
        ]

        [hash]
        algorithm = "blake3"
        """ + "\n"

    @Test("set replaces one value and keeps every other byte of the file")
    func replacesValueInPlace() throws {
        let project = try TemporaryProject()
        try project.write(Self.commented)
        try RoarConfig.set("ray.actor_attribution", to: "per_actor", inFile: project.configPath)
        let expected = Self.commented.replacingOccurrences(
            of: "actor_attribution = \"per_call\"", with: "actor_attribution = \"per_actor\"")
        #expect(try project.contents() == expected)
        #expect(try RoarConfig.load(fromFile: project.configPath).ray.actorAttribution == .perActor)
    }

    @Test("set replaces a multi-line array")
    func replacesArray() throws {
        let project = try TemporaryProject()
        try project.write(Self.commented)
        try RoarConfig.set("filters.ignore", to: "/a:/b", inFile: project.configPath)
        #expect(try project.contents().contains("[filters]\nignore = [\"/a\", \"/b\"]\n\n[hash]"))
        #expect(try RoarConfig.load(fromFile: project.configPath).filters.ignore == ["/a", "/b"])
        try RoarConfig.set("filters.ignore", to: #"["/c", '/d e']"#, inFile: project.configPath)
        #expect(try RoarConfig.load(fromFile: project.configPath).filters.ignore == ["/c", "/d e"])
        try RoarConfig.set("filters.ignore", to: "", inFile: project.configPath)
        #expect(try project.contents().contains("ignore = []\n"))
    }

    @Test("a new key goes after the last key of its section")
    func addsKeyToSection() throws {
        let project = try TemporaryProject()
        try project.write(Self.commented)
        try RoarConfig.set("filters.ignore_tmp", to: "false", inFile: project.configPath)
        try RoarConfig.set("hash.algorithm", to: "\"sha256\"", inFile: project.configPath)
        let expected =
            Self.commented
            .replacingOccurrences(
                of: "    \"/data/cache\",  # big\n]\n", with: "    \"/data/cache\",  # big\n]\nignore_tmp = false\n"
            )
            .replacingOccurrences(of: "algorithm = \"blake3\"", with: "algorithm = \"sha256\"")
        #expect(try project.contents() == expected)
    }

    @Test("a missing section is appended; the rest of the file is untouched")
    func addsSection() throws {
        let project = try TemporaryProject()
        let original = "# only a comment, no newline at the end"
        try project.write(original)
        try RoarConfig.set("run.flush_ms", to: "250", inFile: project.configPath)
        try RoarConfig.set("glaas.url", to: "https://glaas.example.com", inFile: project.configPath)
        #expect(
            try project.contents()
                == original + "\n\n[run]\nflush_ms = 250\n\n[glaas]\nurl = \"https://glaas.example.com\"\n")
        let config = try RoarConfig.load(fromFile: project.configPath)
        #expect(config.run.flushMilliseconds == 250)
        #expect(config.glaas.url == "https://glaas.example.com")
    }

    @Test("dotted keys and inline tables are extended in their own style")
    func otherTableForms() throws {
        let project = try TemporaryProject()
        try project.write("  ray.enabled = false # off\nhash = { algorithm = \"sha256\" }\n[run]\n")
        try RoarConfig.set("ray.actor_attribution", to: "per_actor", inFile: project.configPath)
        try RoarConfig.set("hash.algorithm", to: "blake3", inFile: project.configPath)
        try RoarConfig.set("filters.include", to: "/keep", inFile: project.configPath)
        try RoarConfig.set("run.flush_ms", to: "10", inFile: project.configPath)
        #expect(
            try project.contents() == """
                  ray.enabled = false # off
                  ray.actor_attribution = "per_actor"
                hash = { algorithm = "blake3" }
                [run]
                flush_ms = 10

                [filters]
                include = ["/keep"]

                """)
        let inline = try TemporaryProject()
        try inline.write("ray = { enabled = false }\nglaas = {}\n")
        try RoarConfig.set("ray.actor_attribution", to: "per_actor", inFile: inline.configPath)
        try RoarConfig.set("glaas.url", to: "http://127.0.0.1:9", inFile: inline.configPath)
        #expect(
            try inline.contents()
                == "ray = { enabled = false, actor_attribution = \"per_actor\" }\nglaas = { url = \"http://127.0.0.1:9\" }\n"
        )
        try RoarConfig.set("glaas.url", to: "", inFile: inline.configPath)
        try RoarConfig.set("ray.enabled", to: "yes", inFile: inline.configPath)
        #expect(try inline.contents() == "ray = { enabled = true, actor_attribution = \"per_actor\" }\nglaas = {  }\n")
    }

    @Test("setting glaas.url fills in the commented example of the default file; \"\" removes it")
    func commentedExample() throws {
        let project = try TemporaryProject()
        try project.write(RoarConfig.defaultFileContents())
        try RoarConfig.set("glaas.url", to: "https://lineage.example.org", inFile: project.configPath)
        let withURL = try project.contents()
        #expect(withURL.hasSuffix("[glaas]\n# \(try summary("glaas.url"))\nurl = \"https://lineage.example.org\"\n"))
        #expect(!withURL.contains("glaas.example.com"))
        try RoarConfig.set("glaas.url", to: "", inFile: project.configPath)
        #expect(try project.contents().hasSuffix("[glaas]\n# \(try summary("glaas.url"))\n"))
        #expect(try RoarConfig.load(fromFile: project.configPath) == .default)
    }

    @Test("set on a missing file writes the default file with the key changed")
    func missingFile() throws {
        let project = try TemporaryProject()
        try RoarConfig.set("ray.enabled", to: "false", inFile: project.configPath)
        let expected = RoarConfig.defaultFileContents().replacingOccurrences(
            of: "enabled = true", with: "enabled = false")
        #expect(try project.contents() == expected)
    }

    @Test("CRLF files get CRLF lines")
    func crlf() throws {
        let project = try TemporaryProject()
        try project.write("[ray]\r\nenabled = true\r\n")
        try RoarConfig.set("ray.actor_attribution", to: "per_actor", inFile: project.configPath)
        #expect(try project.contents() == "[ray]\r\nenabled = true\r\nactor_attribution = \"per_actor\"\r\n")
    }

    @Test(
        "bad values and unknown keys are rejected and the file is left as it was",
        arguments: [
            (
                "ray.actor_attribution", "per_task", ConfigError.Code.badValue,
                #"ray.actor_attribution must be "per_call" or "per_actor", got "per_task""#
            ),
            ("ray.enabled", "maybe", .badValue, #"ray.enabled must be true or false, got "maybe""#),
            ("run.flush_ms", "0", .badValue, "run.flush_ms must be an integer from 1 to 60000, got 0"),
            ("run.flush_ms", "fast", .badValue, #"run.flush_ms must be an integer from 1 to 60000, got "fast""#),
            ("hash.algorithm", "md5", .badValue, #"hash.algorithm must be "blake3" or "sha256", got "md5""#),
            (
                "glaas.url", "localhost:8080", .badValue,
                #"glaas.url must be an http or https URL such as "https://glaas.example.com", got "localhost:8080""#
            ),
            (
                "filters.ignore", "[1, 2]", .badValue,
                #"filters.ignore must be an array of path prefixes such as ["/data/cache"], got [1, 2]"#
            ),
            (
                "filters.include", "~/keep", .badValue,
                #"filters.include: "~/keep" starts with '~', which roar does not expand; write the absolute path or one relative to the project root"#
            ),
            (
                "hash.algorithm", "\"sha256", .badValue,
                #"hash.algorithm: "sha256 is not a valid TOML string; quote it or leave the quotes out"#
            ),
            (
                "ray.actor_atribution", "per_actor", .unknownKey,
                "unknown key 'ray.actor_atribution' (did you mean 'ray.actor_attribution'?)"
            ),
            ("cache.size", "1", .unknownKey, "unknown key 'cache.size'; `roar config list` shows every key"),
        ])
    func rejects(key: String, value: String, code: ConfigError.Code, message: String) throws {
        let project = try TemporaryProject()
        try project.write(Self.commented)
        let error = #expect(throws: ConfigError.self) {
            try RoarConfig.set(key, to: value, inFile: project.configPath)
        }
        #expect(error?.code == code)
        #expect(error?.key == key)
        #expect(error?.description == "\(project.configPath): \(message)")
        #expect(try project.contents() == Self.commented)
    }

    @Test("set refuses to edit a file that is broken elsewhere, and can fix the broken key itself")
    func brokenFile() throws {
        let project = try TemporaryProject()
        let broken = "[ray]\nenabled = true\n\n[run]\nflush_ms = 0\n"
        try project.write(broken)
        let error = #expect(throws: ConfigError.self) {
            try RoarConfig.set("ray.enabled", to: "false", inFile: project.configPath)
        }
        #expect(error?.line == 5)
        #expect(error?.key == "run.flush_ms")
        #expect(try project.contents() == broken)

        try RoarConfig.set("run.flush_ms", to: "500", inFile: project.configPath)
        #expect(try project.contents() == "[ray]\nenabled = true\n\n[run]\nflush_ms = 500\n")

        try project.write("[ray\nenabled = true\n")
        let syntax = #expect(throws: ConfigError.self) {
            try RoarConfig.set("ray.enabled", to: "false", inFile: project.configPath)
        }
        #expect(syntax?.code == .syntax)
        #expect(syntax?.line == 1)
        #expect(try project.contents() == "[ray\nenabled = true\n")
    }

    @Test("a file that cannot be written is .unwritable")
    func unwritable() throws {
        let project = try TemporaryProject()
        let path = project.root + "/missing-folder/roar.toml"
        let error = #expect(throws: ConfigError.self) { try RoarConfig.set("ray.enabled", to: "false", inFile: path) }
        #expect(error?.code == .unwritable)
        #expect(error?.underlyingError != nil)
    }

    @Test("every value value(forKey:) prints is accepted by set")
    func valueTextRoundTrip() throws {
        let project = try TemporaryProject()
        let config = RoarConfig(
            ray: .init(isEnabled: false, actorAttribution: .perActor),
            filters: .init(ignore: ["/a b", "/c\"d"], include: [], ignoresTemporaryDirectories: false),
            hash: .init(algorithm: .sha256), run: .init(flushMilliseconds: 42),
            glaas: .init(url: "https://glaas.example.com/x?y=1"))
        for key in RoarConfig.keys {
            try RoarConfig.set(key.name, to: try config.value(forKey: key.name), inFile: project.configPath)
        }
        #expect(try RoarConfig.load(fromFile: project.configPath) == config)
    }

    func summary(_ name: String) throws -> String {
        try #require(RoarConfig.keys.first { $0.name == name }).summary
    }
}
