import Foundation
import RoarCore
import Testing

@testable import RoarExport

@Suite("PROV-JSON export")
struct PROVExportTests {
    let document = ExportFixture.graph.provDocument(options: PROVOptions(user: "me", hostname: "fallback"))

    func section(_ name: String) -> [String: JSONValue] {
        guard case .object(let top) = document, case .object(let section)? = top[name] else { return [:] }
        return section
    }

    func pairs(_ kind: String, _ first: String, _ second: String) -> Set<[String]> {
        Set(
            section(kind).values.compactMap { value -> [String]? in
                guard case .object(let fields) = value, case .string(let a)? = fields[first],
                    case .string(let b)? = fields[second]
                else { return nil }
                return [a, b]
            })
    }

    @Test func localPartsSurviveOddNames() {
        #expect(PROVVocabulary.localPart("/a b+c:d/\\xe9.csv") == "%2Fa%20b%2Bc%3Ad%2F%5Cxe9.csv")
        #expect(PROVVocabulary.localPart("é") == "%C3%A9")
    }

    @Test func jobsAreActivitiesWithTimes() throws {
        let activities = section("activity")
        #expect(activities.count == 5)
        guard case .object(let run)? = activities["job:0f0e0d0c0b0a0908"] else { throw PROVFailure() }
        #expect(run["prov:startTime"] == .string("2026-11-27T16:00:00.500000Z"))
        #expect(run["prov:endTime"] == .string("2026-11-27T16:00:02.750000Z"))
        guard case .object(let slow)? = activities["job:4d5e6f7a8b9c0d1e"] else { throw PROVFailure() }
        #expect(slow["prov:endTime"] == nil)
    }

    @Test func relationsFollowTheLineage() {
        let raw = PROVVocabulary.entityID(
            path: ExportFixture.odd, digest: ("blake3", String(repeating: "a", count: 64)), seenBy: "")
        #expect(section("entity")[raw] != nil)
        #expect(pairs("wasGeneratedBy", "prov:entity", "prov:activity").contains([raw, "job:0f0e0d0c0b0a0908"]))
        #expect(pairs("used", "prov:activity", "prov:entity").contains(["job:1a2b3c4d5e6f7a8b", raw]))
        #expect(
            pairs("wasInformedBy", "prov:informed", "prov:informant") == [
                ["job:1a2b3c4d5e6f7a8b", "job:0f0e0d0c0b0a0908"], ["job:2b3c4d5e6f7a8b9c", "job:1a2b3c4d5e6f7a8b"],
            ])
        let derived = pairs("wasDerivedFrom", "prov:generatedEntity", "prov:usedEntity")
        #expect(derived.count == 4)  // 2 outputs of the clean task × its 2 inputs
        #expect(pairs("wasAssociatedWith", "prov:activity", "prov:agent").count == 5)
        #expect(section("agent").keys.sorted() == ["agent:me%40host-a"])
        #expect(pairs("hadMember", "prov:collection", "prov:entity").count == 100)
    }

    @Test func theDocumentIsDeterministic() {
        let options = PROVOptions(user: "me", hostname: "fallback")
        #expect(ExportFixture.graph.provJSON(options: options) == ExportFixture.graph.provJSON(options: options))
    }

    struct PROVFailure: Error {}
}
