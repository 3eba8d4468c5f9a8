/// The OpenAPI 3.1 document of the API (docs/server-api.openapi.json is the same text, checked by
/// the tests), served at `GET /api/v1/openapi.json`.
enum ServerAPIDocument {
    static let openAPI = #"{"openapi":"3.1.0","info":{"title":"roar lineage server","version":"1"},"paths":{}}"#
}
