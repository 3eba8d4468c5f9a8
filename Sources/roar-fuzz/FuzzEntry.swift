// roar-fuzz: libFuzzer targets for roar's parsers of untrusted input (docs/fuzzing.md).
//
// Built only by scripts/fuzz, with `-sanitize=fuzzer,address` and `-D ROAR_FUZZ`: libFuzzer then
// owns main() and calls LLVMFuzzerTestOneInput below, which runs the target named by the
// environment variable ROAR_FUZZ_TARGET. A plain `swift build` compiles this module without
// ROAR_FUZZ into an executable that only says how to run it.

#if ROAR_FUZZ
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        FuzzTarget.selected.run(bytes)
        return 0
    }
#else
    @main
    struct RoarFuzz {
        static func main() {
            print(
                """
                roar-fuzz holds roar's libFuzzer targets (\(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))).
                It fuzzes only when built by scripts/fuzz (swift build -Xswiftc -sanitize=fuzzer -Xswiftc -DROAR_FUZZ);
                run `scripts/fuzz [SECONDS]` (docs/fuzzing.md).
                """)
        }
    }
#endif
