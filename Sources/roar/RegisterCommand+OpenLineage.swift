import Foundation
import RoarCore
import RoarExport
import RoarServerClient

#if canImport(Glibc)
    import Glibc
#endif

extension Register {
    /// `roar register --openlineage URL`: the chosen jobs' events, as `roar export --format openlineage`
    /// writes them, POSTed one by one (docs/openlineage.md, "Sending").
    func sendOpenLineage(
        graph: LineageGraph, jobs: [RecordedJob], to url: String, project name: String, context: ProjectContext
    ) throws {
        let checked = try ServerOptions.checked(url)
        let events = graph.openLineageEvents(for: jobs, options: Export.openLineageOptions(project: context.project))
        // `?project=` tells roar serve which project; other endpoints ignore a parameter they do not know.
        let client = OpenLineageClient(
            url: checked, apiKey: try Self.apiKey(given: apiKey, url: checked), query: [("project", name)])
        if dryRun {
            print("roar: would send \(events.count) OpenLineage events of \(jobs.count) jobs to \(client.endpoint)")
            return
        }
        let showsProgress = isatty(2) == 1
        let bodies = events.map { Array($0.jsonLine().utf8) }
        let retried = try runBlocking { () async throws -> Int in
            var retried = 0
            for (index, body) in bodies.enumerated() {
                retried += try await client.send(body) - 1
                if showsProgress {
                    FileHandle.standardError.write(Data("\rroar: sent \(index + 1)/\(bodies.count) events".utf8))
                }
            }
            if showsProgress && !bodies.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
            return retried
        }
        print(
            "roar: sent \(events.count) OpenLineage events of \(jobs.count) jobs to \(client.endpoint)"
                + (retried > 0 ? " (\(retried) attempts retried)" : ""))
    }

    /// `--api-key`, else `ROAR_OPENLINEAGE_API_KEY`, else the token `roar login` stored for this very URL
    /// (a roar serve); nil sends no `Authorization` (a Marquez without authentication). Never printed.
    static func apiKey(given: String?, url: String) throws -> String? {
        if let given, !given.isEmpty { return given }
        let environment = Environment.current
        if let key = environment["ROAR_OPENLINEAGE_API_KEY"], !key.isEmpty { return key }
        do {
            let credentials = try ServerCredentials.load(environment: environment)
            return credentials.tokens[url.hasSuffix("/") ? String(url.dropLast()) : url]
        } catch {
            throw Failure(error.message)
        }
    }
}
