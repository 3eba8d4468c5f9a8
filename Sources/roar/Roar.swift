import ArgumentParser

#if canImport(Glibc)
    import Glibc
#endif

@main
struct Roar: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roar",
        abstract: "Lineage for ML pipelines: what every step, down to each Ray task, read and wrote.",
        discussion: """
            Prefix a command with `roar run` and change nothing else. roar traces every file the \
            command and its children (Ray workers included) read and write, hashes them, and \
            records the steps in .roar/roar.db. Then ask:

              roar status              what is recorded, and anything that was lost
              roar log                 the steps, newest last
              roar show @3             one step: its jobs, inputs and outputs
              roar dag                 the whole graph (text, json, dot, mermaid, html)
              roar lineage out.csv     where a file came from (or --downstream: what used it)
              roar register            publish it to a lineage server (`roar serve`)
              roar export --format openlineage   the newest run as OpenLineage events (or prov)
            """,
        subcommands: [
            Init.self, Run.self, Fetch.self, Recover.self, Status.self, Log.self, Show.self, Dag.self, Lineage.self,
            Export.self, Config.self, Hash.self, Serve.self, Login.self, Register.self,
        ]
    )
}

extension Roar {
    /// The entry point (`@main` picks this over ArgumentParser's default): `roar hash` with many paths skips
    /// ArgumentParser (see `Hash.fastArguments`); everything else is parsed as before.
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.count > 64, arguments.first == "hash", let parsed = Hash.fastArguments(arguments.dropFirst()) {
            Glibc.exit(
                Hash.execute(paths: parsed.paths, sha256: parsed.sha256, check: parsed.check, threads: parsed.threads))
        }
        main(nil)
    }
}
