import Foundation
import RoarServer
import Testing

@Suite("SQLite lineage storage")
struct StorageTests {
    @Test("register is idempotent: the same batch again is all unchanged; a changed job is updated")
    func idempotentRegister() async throws {
        let server = try await TemporaryServer()
        defer { server.remove() }
        let batch = try pipelineBatch()
        let first = try await server.storage.register(batch, project: "p")
        #expect(first.inserted == 4 && first.unchanged == 0 && first.edgesInserted == 4)
        let again = try await server.storage.register(batch, project: "p")
        #expect(again.inserted == 0 && again.updated == 0 && again.unchanged == 4 && again.edgesUnchanged == 4)

        var changed = batch
        changed.jobs[3].status = "failed"
        changed.jobs[3].document = changed.jobs[3].document.replacingOccurrences(of: "\"ok\"", with: "\"failed\"")
        let updated = try await server.storage.register(changed, project: "p")
        #expect(updated.updated == 1 && updated.unchanged == 3)
        let merge = try #require(try await server.storage.job(project: "p", uid: "merge"))
        #expect(merge.document.contains("\"failed\""))
        // Another project is another namespace: same uids, separate rows.
        #expect(try await server.storage.register(batch, project: "q").inserted == 4)
    }

    @Test("upstream of a path starts at its latest writer and follows edges; depth truncates")
    func lineageWalk() async throws {
        let server = try await TemporaryServer()
        defer { server.remove() }
        _ = try await server.storage.register(try pipelineBatch(), project: "p")
        let upstream = try await server.storage.lineage(
            project: "p", start: .path("/w/out 100%.csv"), direction: .upstream, depth: 10)
        #expect(upstream.start.map(\.uid) == ["merge"])
        #expect(Set(upstream.jobs.map(\.job.uid)) == ["clean0", "clean1", "run"])
        #expect(upstream.jobs.first { $0.job.uid == "run" }?.depth == 2)
        #expect(upstream.edges.count == 4 && !upstream.truncated)

        let shallow = try await server.storage.lineage(
            project: "p", start: .job("merge"), direction: .upstream, depth: 1)
        #expect(Set(shallow.jobs.map(\.job.uid)) == ["clean0", "clean1"] && shallow.truncated)
        #expect(shallow.edges.allSatisfy { $0.to == "merge" })

        let downstream = try await server.storage.lineage(
            project: "p", start: .digest(String(repeating: "1", count: 12)), direction: .downstream, depth: 10)
        #expect(downstream.start.map(\.uid) == ["clean0"])
        #expect(downstream.jobs.map(\.job.uid) == ["merge"])
    }

    @Test("artifacts by digest prefix, with or without the algorithm; search treats % and _ literally")
    func artifactsAndSearch() async throws {
        let server = try await TemporaryServer()
        defer { server.remove() }
        _ = try await server.storage.register(try pipelineBatch(), project: "p")
        let digest = String(repeating: "3", count: 64)
        for query in [String(digest.prefix(10)), "blake3:" + digest.prefix(10)] {
            let uses = try await server.storage.artifactUses(project: "p", query: .digest(query), page: PageRequest())
            #expect(
                Set(uses.items.map { "\($0.job.uid) \($0.direction.rawValue)" }) == ["clean0 output", "merge input"])
        }
        let search = { (text: String) in
            try await server.storage.search(project: "p", text: text, page: PageRequest()).items.map(\.uid)
        }
        #expect(try await search("pipeline.merge") == ["merge"])
        #expect(try await search("/w/clean-") == ["clean0", "clean1", "merge"])
        #expect(try await search("/w/out 100%") == ["merge"])
        #expect(try await search("/w/out 1%").isEmpty)  // `%` is not a wildcard
        #expect(try await search("clean_0").isEmpty)  // `_` is not a wildcard
    }

    @Test("pages: next cursors walk every item once")
    func pagination() async throws {
        let server = try await TemporaryServer()
        defer { server.remove() }
        let runs = (0..<5).map { jobDocument(uid: "run\($0)", role: "run", function: nil, startedAt: Double($0)) }
        _ = try await server.storage.register(try RegisterPayload.decode(try registerBody(jobs: runs)), project: "p")
        var seen: [String] = []
        var page = PageRequest(limit: 2)
        while true {
            let answer = try await server.storage.runs(project: "p", page: page)
            seen += answer.items.map(\.uid)
            guard let next = answer.next else { break }
            page = PageRequest(limit: 2, after: Int64(next))
        }
        #expect(seen == ["run4", "run3", "run2", "run1", "run0"])
    }

    @Test("tokens: only the digest is stored; grants decide what a token may do")
    func tokens() async throws {
        let server = try await TemporaryServer()
        defer { server.remove() }
        let token = try await server.token("alice", grants: ["p": .writer, "q": .reader])
        let identity = try #require(try await server.storage.identity(tokenDigest: AccessToken.digest(of: token)))
        #expect(identity.name == "alice" && identity.may(.writer, project: "p") && identity.may(.reader, project: "q"))
        #expect(!identity.may(.writer, project: "q") && !identity.may(.reader, project: "r"))
        #expect(try await server.storage.identity(tokenDigest: AccessToken.digest(of: AccessToken.generate())) == nil)
        let database = try String(contentsOfFile: server.directory + "/lineage.db", encoding: .isoLatin1)
        #expect(!database.contains(token))
        #expect(AccessToken.isWellFormed(token) && !AccessToken.isWellFormed(token + "x"))
    }
}
