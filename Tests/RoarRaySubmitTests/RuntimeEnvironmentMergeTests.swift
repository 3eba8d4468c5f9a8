import Foundation
import RoarCapture
import RoarCore
import Testing

@testable import RoarRaySubmit

/// The shared vectors of the runtime_env merge policy (`Tests/vectors/runtime-env/merge.json`),
/// also run against `roar_runtime.driver.merge_policy` by `python/tests/test_runtime_env_merge.py`.
@Suite("runtime_env merge policy (shared vectors)")
struct RuntimeEnvironmentMergeTests {
    struct Vector: CustomTestStringConvertible, Sendable {
        var name: String
        var user: RuntimeEnvironmentValue
        var roar: [String: RuntimeEnvironmentValue]
        var expected: [String: RuntimeEnvironmentValue]?
        var refused: String?
        var testDescription: String { name }
    }

    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../vectors/runtime-env/merge.json").standardized

    static let vectors: [Vector] = {
        let data = (try? Data(contentsOf: file)) ?? Data()
        guard case .object(let document)? = RuntimeEnvironmentValue.decode(json: String(decoding: data, as: UTF8.self)),
            let cases = document["cases"]?.arrayValue
        else { return [] }
        return cases.compactMap { item in
            guard let fields = item.objectValue, let name = fields["name"]?.stringValue else { return nil }
            return Vector(
                name: name, user: fields["user"] ?? .null, roar: fields["roar"]?.objectValue ?? [:],
                expected: fields["expected"]?.objectValue, refused: fields["refused"]?.stringValue)
        }
    }()

    @Test func vectorsAreThere() {
        #expect(Self.vectors.count >= 20, "\(Self.file.path)")
    }

    @Test(arguments: vectors)
    func mergesAsTheVectorSays(vector: Vector) throws {
        let additions = RuntimeEnvironmentMerge.Additions(
            environmentVariables: (vector.roar["env_vars"]?.objectValue ?? [:]).compactMapValues(\.stringValue),
            pythonModule: vector.roar["py_modules"]?.stringValue,
            workerLauncher: vector.roar["py_executable"]?.stringValue)
        let user = vector.user.objectValue ?? [:]
        if let code = vector.refused {
            #expect(throws: RaySubmitError.self) { try RuntimeEnvironmentMerge.merge(user, with: additions) }
            do {
                _ = try RuntimeEnvironmentMerge.merge(user, with: additions)
            } catch {
                #expect(error.code.rawValue == code, "\(error.message)")
                #expect(error.isRewriteRefusal)
            }
            return
        }
        let expected = try #require(vector.expected)
        let merged = try RuntimeEnvironmentMerge.merge(user, with: additions)
        #expect(RuntimeEnvironmentValue.object(merged.runtimeEnvironment) == expected["runtime_env"])
        #expect(merged.overriddenVariables == (expected["overridden"]?.arrayValue ?? []).compactMap(\.stringValue))
        #expect(merged.notes.map(\.code.rawValue) == (expected["notes"]?.arrayValue ?? []).compactMap(\.stringValue))
    }
}
