import Testing

@testable import RoarCapture

@Suite("ray job submit recognition")
struct RaySubmitCommandTests {
    @Test func recognisesThePlainForm() throws {
        let command = try #require(RaySubmitCommand.parse(["ray", "job", "submit", "--", "python", "x.py"]))
        #expect(command.entrypoint == ["python", "x.py"])
    }
}
