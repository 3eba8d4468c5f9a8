import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RoarServer
import Testing

@Suite("The HTTP API, in process")
struct RouterTests {
    @Test("no token, a malformed one or an unknown one: 401 with WWW-Authenticate")
    func unauthenticated() async throws {
        let server = try await TemporaryServer()
        defer { server.remove() }
        try await server.application().test(.router) { client in
            for header in [nil, "Basic abc", "Bearer roar_short", "Bearer " + AccessToken.generate()] {
                var headers = HTTPFields()
                if let header { headers[.authorization] = header }
                try await client.execute(uri: "/api/v1/whoami", method: .get, headers: headers) { response in
                    #expect(response.status == .unauthorized)
                    #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="roar""#)
                    #expect(String(buffer: response.body).contains(#""code":"unauthenticated""#))
                }
            }
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test("register, then read back; a reader may not write (403), another project is 403")
    func registerAndRead() async throws {
        let server = try await TemporaryServer()
        defer { server.remove() }
        let writer = try await server.token("alice", grants: ["p": .writer])
        let reader = try await server.token("bob", grants: ["p": .reader])
        let body = try registerBody(jobs: [jobDocument(uid: "a", outputs: [("/x", "ab")])])
        try await server.application().test(.router) { client in
            let post = { (token: String, project: String) in
                try await client.execute(
                    uri: "/api/v1/projects/\(project)/register", method: .post,
                    headers: [.authorization: "Bearer \(token)"], body: ByteBuffer(bytes: body)
                ) { $0 }
            }
            let stored = try await post(writer, "p")
            #expect(stored.status == .ok)
            #expect(String(buffer: stored.body).contains(#""inserted":1"#))
            #expect(try await post(reader, "p").status == .forbidden)
            #expect(try await post(writer, "q").status == .forbidden)
            try await client.execute(
                uri: "/api/v1/projects/p/jobs/a", method: .get, headers: [.authorization: "Bearer \(reader)"]
            ) { response in
                #expect(response.status == .ok)
                let document =
                    try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                let job = document?["job"] as? [String: Any]
                #expect(job?["uid"] as? String == "a")
                #expect((job?["outputs"] as? [[String: Any]])?.first?["path"] as? String == "/x")
            }
            try await client.execute(
                uri: "/api/v1/projects/p/jobs/nope", method: .get, headers: [.authorization: "Bearer \(reader)"]
            ) { #expect($0.status == .notFound) }
        }
    }

    @Test("a body over the limit is 413; bad query parameters are 400 naming them")
    func limits() async throws {
        let server = try await TemporaryServer()
        defer { server.remove() }
        let token = try await server.token("alice", admin: true)
        let auth: HTTPFields = [.authorization: "Bearer \(token)"]
        try await server.application { $0.maximumBodyBytes = 1024 }.test(.router) { client in
            let big = ByteBuffer(bytes: Array(repeating: UInt8(ascii: " "), count: 4096))
            try await client.execute(uri: "/api/v1/projects/p/register", method: .post, headers: auth, body: big) {
                #expect($0.status == .contentTooLarge)
            }
            for (query, name) in [("limit=5000", "limit"), ("after=x", "after"), ("direction=up&job=a", "direction")] {
                let route = name == "direction" ? "lineage" : "runs"
                try await client.execute(uri: "/api/v1/projects/p/\(route)?\(query)", method: .get, headers: auth) {
                    response in
                    #expect(response.status == .badRequest)
                    #expect(String(buffer: response.body).contains(name))
                }
            }
            try await client.execute(uri: "/api/v1/projects/p/lineage?path=/a&job=b", method: .get, headers: auth) {
                #expect($0.status == .badRequest)
            }
        }
    }

    @Test("after the limit of failed authentications an address gets 429, even with a good token")
    func rateLimit() async throws {
        let server = try await TemporaryServer()
        defer { server.remove() }
        let token = try await server.token("alice", admin: true)
        try await server.application { $0.authenticationFailureLimit = 3 }.test(.router) { client in
            for _ in 0..<3 {
                try await client.execute(
                    uri: "/api/v1/whoami", method: .get, headers: [.authorization: "Bearer " + AccessToken.generate()]
                ) { #expect($0.status == .unauthorized) }
            }
            try await client.execute(uri: "/api/v1/whoami", method: .get, headers: [.authorization: "Bearer \(token)"])
            {
                #expect($0.status == .tooManyRequests)
                #expect($0.headers[.retryAfter] == "60")
            }
        }
    }
}
