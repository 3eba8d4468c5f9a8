import Testing

/// Digests of the test pattern `byte[i] = i % 251` (the pattern of the BLAKE3 test vectors), computed with the
/// PyPI `blake3` package and Python's `hashlib.sha256`. Lengths sit at and around block and chunk boundaries.
enum KnownDigests {
    static func pattern(length: Int) -> [UInt8] {
        (0..<length).map { UInt8($0 % 251) }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let length: Int
        let blake3: String
        let sha256: String
        var testDescription: String { "\(length) bytes" }
    }

    static let cases: [Case] = [
        Case(
            length: 0,
            blake3: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
            sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        Case(
            length: 1,
            blake3: "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
            sha256: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        Case(
            length: 63,
            blake3: "e9bc37a594daad83be9470df7f7b3798297c3d834ce80ba85d6e207627b7db7b",
            sha256: "29af2686fd53374a36b0846694cc342177e428d1647515f078784d69cdb9e488"),
        Case(
            length: 64,
            blake3: "4eed7141ea4a5cd4b788606bd23f46e212af9cacebacdc7d1f4c6dc7f2511b98",
            sha256: "fdeab9acf3710362bd2658cdc9a29e8f9c757fcf9811603a8c447cd1d9151108"),
        Case(
            length: 65,
            blake3: "de1e5fa0be70df6d2be8fffd0e99ceaa8eb6e8c93a63f2d8d1c30ecb6b263dee",
            sha256: "4bfd2c8b6f1eec7a2afeb48b934ee4b2694182027e6d0fc075074f2fabb31781"),
        Case(
            length: 1_023,
            blake3: "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11",
            sha256: "1c5e88a585b61754df6137d66632a7348557a88358afc401b0a0a4fc427104a9"),
        Case(
            length: 1_024,
            blake3: "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
            sha256: "2bce1ba628720664be4b9fdd77aae0678e5f0f3f02fc6ff641ec879094f6a404"),
        Case(
            length: 1_025,
            blake3: "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
            sha256: "bc0b6b10b89b9487a12fda2a8cc13194e7091c217aabf8b92846274026f4bcd0"),
        Case(
            length: 2_047,
            blake3: "58830fbf51a4423c573b164471690570e544cfe793bead46225664796b4b1467",
            sha256: "3ba160b0f349cc49579bffe0908dc5e4e68218398be81a13bec008fe6ba3fcd3"),
        Case(
            length: 2_048,
            blake3: "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a",
            sha256: "b2a8170614e23194ae2951423d601987f518ce2f11205d7b0b708080103b9f76"),
        Case(
            length: 2_049,
            blake3: "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030",
            sha256: "26e1e2808e3a6cf967ca03f6749a063c5ed55f92f5874653a1faabed78346f00"),
        Case(
            length: 3_072,
            blake3: "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2",
            sha256: "5f24b2f16026ec7d0450a5a08283d3cfd47302fe859f579ed79fe7d2663b73f9"),
        Case(
            length: 4_095,
            blake3: "0cdbdde4d038f0509412a5d1c3b1fb767d5e8c8a0eb2aae963fd36d1f544791a",
            sha256: "45de2924756389e3ccab98bdaacbef8a81cdeb651b59f916a6d6385b4f7b999d"),
        Case(
            length: 4_096,
            blake3: "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969",
            sha256: "d67c656e01756650d77717b0839985a056ec28ffe174601d690fc407a2ceffca"),
        Case(
            length: 4_097,
            blake3: "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995",
            sha256: "a16560d668b843fb3be99ace41dbd18471f342bd3255a1d21204b35e43f74436"),
        Case(
            length: 8_193,
            blake3: "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b",
            sha256: "7e3691790cd64b19d4edb1a80e988214515abeb53aa0f34ffbfe4b4bf405d120"),
        Case(
            length: 16_385,
            blake3: "1dabe216be2578830263b049de1639f39f05a4da616b9b78c7a5e4e41662fd1f",
            sha256: "ba4f9b37402df1e3ad948a794ab43a9ed887d63e3a389c208ca4314fdd5add58"),
        Case(
            length: 31_744,
            blake3: "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47",
            sha256: "3cfe29c8d109f9f2c47826c78f931f31fdec70a2cf0ddfbba8fe8009a729dd42"),
        Case(
            length: 65_536,
            blake3: "68d647e619a930e7b1082f74f334b0c65a315725569bdc123f0ee11881717bfe",
            sha256: "4b640d85ab3ba30fd02c9fc9db4a8928f416322ad27022ea58a65aaee68a4df2"),
        Case(
            length: 102_401,
            blake3: "cd6e6909a2c0672dc92e3b29f057547558147345290589966fdd79341d76cd98",
            sha256: "01144ccc80c071a54c1a9a19826a416e5805796fff4405e9c0498c132847682b"),
        Case(
            length: 1_048_577,
            blake3: "2f053cd7472cf0cd2f9adaf45c1180255b91b9a865404a63671a0ee5f792ed33",
            sha256: "5769f52bc3eef28afa39c6fc68cadb7d0bd69812ae3a3d71452f519ec3c7aa56"),
    ]
}
