/// The OpenAPI 3.1 document of the API, served at `GET /api/v1/openapi.json` (docs/server-api.md
/// explains it in prose). The tests validate every answer they get against its schemas.
enum ServerAPIDocument {
    static let openAPI = #"""
        {
          "openapi": "3.1.0",
          "info": {"title": "roar lineage server", "version": "1",
                   "description": "Lineage of ML pipelines published by `roar register`. See docs/server-api.md."},
          "servers": [{"url": "/"}],
          "security": [{"bearer": []}],
          "paths": {
            "/healthz": {"get": {"security": [], "summary": "Liveness",
              "responses": {"200": {"description": "up", "content": {"application/json": {"schema": {
                "type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}}}}}}},
            "/metrics": {"get": {"security": [], "summary": "Prometheus text exposition",
              "responses": {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/api/v1/whoami": {"get": {"summary": "The token's identity and grants",
              "responses": {"200": {"$ref": "#/components/responses/WhoAmI"}, "401": {"$ref": "#/components/responses/Error"},
                            "429": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/projects": {"get": {"summary": "Projects the token may read",
              "responses": {"200": {"description": "projects", "content": {"application/json": {"schema": {
                "type": "object", "required": ["projects"], "properties": {"projects": {"type": "array",
                "items": {"$ref": "#/components/schemas/ProjectSummary"}}}}}}}, "401": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/projects/{project}/register": {"post": {"summary": "Store jobs and edges (idempotent)",
              "parameters": [{"$ref": "#/components/parameters/project"}],
              "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RegisterBatch"}}}},
              "responses": {"200": {"description": "what was stored", "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/RegisterOutcome"}}}}, "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                "413": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/projects/{project}/runs": {"get": {"summary": "The project's runs, newest first",
              "parameters": [{"$ref": "#/components/parameters/project"}, {"$ref": "#/components/parameters/limit"},
                             {"$ref": "#/components/parameters/after"}],
              "responses": {"200": {"$ref": "#/components/responses/JobPage"}, "400": {"$ref": "#/components/responses/Error"},
                            "403": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/projects/{project}/jobs/{uid}": {"get": {"summary": "One job as registered, and its children",
              "parameters": [{"$ref": "#/components/parameters/project"},
                             {"name": "uid", "in": "path", "required": true, "schema": {"type": "string"}}],
              "responses": {"200": {"description": "the job", "content": {"application/json": {"schema": {
                "type": "object", "required": ["job", "children"], "properties": {
                  "job": {"$ref": "#/components/schemas/Job"}, "children": {"type": "array", "items": {"type": "string"}}}}}}},
                "404": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/projects/{project}/artifacts": {"get": {"summary": "Every read, write and delete of a path or a digest",
              "parameters": [{"$ref": "#/components/parameters/project"}, {"$ref": "#/components/parameters/path"},
                             {"$ref": "#/components/parameters/digest"}, {"$ref": "#/components/parameters/limit"},
                             {"$ref": "#/components/parameters/after"}],
              "responses": {"200": {"description": "uses", "content": {"application/json": {"schema": {
                "type": "object", "required": ["items"], "properties": {"items": {"type": "array",
                "items": {"$ref": "#/components/schemas/ArtifactUse"}}, "next": {"type": ["string", "null"]}}}}}},
                "400": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/projects/{project}/lineage": {"get": {"summary": "Jobs upstream or downstream of a path, digest or job",
              "parameters": [{"$ref": "#/components/parameters/project"}, {"$ref": "#/components/parameters/path"},
                             {"$ref": "#/components/parameters/digest"},
                             {"name": "job", "in": "query", "schema": {"type": "string"}},
                             {"name": "direction", "in": "query", "schema": {"enum": ["upstream", "downstream"], "default": "upstream"}},
                             {"name": "depth", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}}],
              "responses": {"200": {"description": "the walk", "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/LineageResult"}}}}, "400": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/projects/{project}/search": {"get": {"summary": "Jobs by function, command or path prefix",
              "parameters": [{"$ref": "#/components/parameters/project"},
                             {"name": "q", "in": "query", "required": true, "schema": {"type": "string", "minLength": 1}},
                             {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/after"}],
              "responses": {"200": {"$ref": "#/components/responses/JobPage"}, "400": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/lineage": {"post": {"summary": "Store one OpenLineage RunEvent (the OpenLineage HTTP endpoint, as Marquez serves it)",
              "description": "Any producer's RunEvent (2-0-x). The run becomes a job of the project (roar's own events: the job they were exported from; others: `ol-<runId>`), its datasets refs named by OpenLineage naming, and edges are inferred by dataset name. See docs/openlineage.md, Ingesting.",
              "parameters": [{"name": "project", "in": "query", "description": "The project (default: NAME of a `roar://NAME` job namespace, else the one project the token may write).",
                              "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$"}}],
              "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenLineageRunEvent"}}}},
              "responses": {"200": {"description": "what was stored", "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/OpenLineageOutcome"}}}}, "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                "413": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/projects/{project}/sessions": {"post": {"summary": "A fragment session for a run, and its write capability",
              "parameters": [{"$ref": "#/components/parameters/project"}],
              "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object",
                "required": ["run_id", "key_fingerprint"], "properties": {"run_id": {"type": "string"},
                "key_fingerprint": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
                "ttl_s": {"type": "integer", "minimum": 1, "maximum": 604800, "default": 86400}}}}}},
              "responses": {"201": {"description": "made", "content": {"application/json": {"schema": {"type": "object",
                "required": ["session", "capability"], "properties": {"session": {"$ref": "#/components/schemas/Session"},
                "capability": {"type": "string", "pattern": "^roarcap_"}}}}}},
                "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/sessions/{session}": {"get": {"summary": "A session and its counts",
              "parameters": [{"$ref": "#/components/parameters/session"}],
              "responses": {"200": {"$ref": "#/components/responses/Session"}, "403": {"$ref": "#/components/responses/Error"},
                            "404": {"$ref": "#/components/responses/Error"}, "410": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/sessions/{session}/batches": {"get": {"summary": "The session's batches in arrival order",
              "parameters": [{"$ref": "#/components/parameters/session"}, {"$ref": "#/components/parameters/limit"},
                             {"$ref": "#/components/parameters/after"}],
              "responses": {"200": {"description": "a page", "content": {"application/json": {"schema": {"type": "object",
                "required": ["items"], "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/StoredBatch"}},
                "next": {"type": ["string", "null"]}}}}}}, "403": {"$ref": "#/components/responses/Error"},
                "410": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/sessions/{session}/batches/{producer}/{seq}": {
              "put": {"summary": "File one sealed batch (the capability, or a writer)",
                "parameters": [{"$ref": "#/components/parameters/session"}, {"$ref": "#/components/parameters/producer"},
                               {"$ref": "#/components/parameters/seq"}],
                "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {"201": {"$ref": "#/components/responses/Filed"}, "200": {"$ref": "#/components/responses/Filed"},
                  "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                  "409": {"$ref": "#/components/responses/Error"}, "410": {"$ref": "#/components/responses/Error"},
                  "413": {"$ref": "#/components/responses/Error"}}},
              "get": {"summary": "One batch's bytes",
                "parameters": [{"$ref": "#/components/parameters/session"}, {"$ref": "#/components/parameters/producer"},
                               {"$ref": "#/components/parameters/seq"}],
                "responses": {"200": {"description": "the sealed batch", "content": {"application/octet-stream": {
                  "schema": {"type": "string", "format": "binary"}}}}, "404": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/sessions/{session}/renew": {"post": {"summary": "A new expiry (a writer of the project)",
              "parameters": [{"$ref": "#/components/parameters/session"}],
              "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                "ttl_s": {"type": "integer", "minimum": 1, "maximum": 604800}}}}}},
              "responses": {"200": {"$ref": "#/components/responses/Session"}, "403": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/sessions/{session}/close": {"post": {"summary": "No more batches (the capability, or a writer)",
              "parameters": [{"$ref": "#/components/parameters/session"}],
              "responses": {"200": {"$ref": "#/components/responses/Session"}, "409": {"$ref": "#/components/responses/Error"}}}}
          },
          "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
              "description": "A token from `roar serve token create` (roar_ and 43 base64url characters)."}},
            "parameters": {
              "project": {"name": "project", "in": "path", "required": true,
                          "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$"}},
              "limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
              "after": {"name": "after", "in": "query", "description": "The `next` of the previous page.", "schema": {"type": "string"}},
              "path": {"name": "path", "in": "query", "schema": {"type": "string"}},
              "session": {"name": "session", "in": "path", "required": true, "schema": {"type": "string"}},
              "producer": {"name": "producer", "in": "path", "required": true, "schema": {"type": "string"}},
              "seq": {"name": "seq", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0}},
              "digest": {"name": "digest", "in": "query", "description": "At least 8 hex digits, optionally after `algorithm:`.",
                         "schema": {"type": "string"}}
            },
            "responses": {
              "Error": {"description": "refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
              "Session": {"description": "the session", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Session"}}}},
              "Filed": {"description": "filed (201) or already there with the same bytes (200)", "content": {"application/json": {
                "schema": {"type": "object", "required": ["cursor", "stored"], "properties": {
                  "cursor": {"type": "integer"}, "stored": {"type": "boolean"}}}}}},
              "WhoAmI": {"description": "the token", "content": {"application/json": {"schema": {
                "type": "object", "required": ["name", "admin", "projects"], "properties": {
                  "name": {"type": "string"}, "admin": {"type": "boolean"},
                  "projects": {"type": "object", "additionalProperties": {"enum": ["reader", "writer"]}}}}}}},
              "JobPage": {"description": "a page of jobs", "content": {"application/json": {"schema": {
                "type": "object", "required": ["items"], "properties": {
                  "items": {"type": "array", "items": {"$ref": "#/components/schemas/JobSummary"}},
                  "next": {"type": ["string", "null"]}}}}}}
            },
            "schemas": {
              "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
                "required": ["code", "message"], "properties": {
                  "code": {"enum": ["bad_request", "unauthenticated", "forbidden", "not_found", "conflict", "gone", "too_large",
                                    "too_many_requests", "storage", "configuration"]},
                  "message": {"type": "string"}}}}},
              "Session": {"type": "object",
                "required": ["id", "project", "run_id", "key_fingerprint", "created_at", "expires_at", "batches", "bytes"],
                "properties": {"id": {"type": "string"}, "project": {"type": "string"}, "run_id": {"type": "string"},
                  "key_fingerprint": {"type": "string"}, "created_at": {"type": "number"}, "expires_at": {"type": "number"},
                  "closed_at": {"type": ["number", "null"]}, "batches": {"type": "integer"}, "bytes": {"type": "integer"}}},
              "StoredBatch": {"type": "object", "required": ["cursor", "producer", "seq", "size", "sha256"], "properties": {
                "cursor": {"type": "integer"}, "producer": {"type": "string"}, "seq": {"type": "integer", "minimum": 0},
                "size": {"type": "integer"}, "sha256": {"type": "string"}}},
              "ProjectSummary": {"type": "object", "required": ["name", "jobs", "runs"], "properties": {
                "name": {"type": "string"}, "jobs": {"type": "integer"}, "runs": {"type": "integer"},
                "last_registered_at": {"type": ["number", "null"]}}},
              "JobSummary": {"type": "object", "required": ["uid", "role", "status", "command", "started_at"], "properties": {
                "uid": {"type": "string"}, "step": {"type": ["integer", "null"]}, "role": {"enum": ["run", "task", "actor"]},
                "status": {"type": "string"}, "command": {"type": "string"}, "function": {"type": ["string", "null"]},
                "parent_uid": {"type": ["string", "null"]}, "started_at": {"type": "number"}}},
              "Ref": {"type": "object", "required": ["path", "kind"], "properties": {
                "path": {"type": "string", "minLength": 1}, "kind": {"type": "string"},
                "hashes": {"type": "object", "additionalProperties": {"type": "string"}},
                "size": {"type": ["integer", "null"]}}},
              "Job": {"type": "object", "description": "A roar.dag/1 job object (docs/dag-json.md).",
                "required": ["uid", "role", "command", "status", "started_at"], "properties": {
                  "uid": {"type": "string"}, "role": {"enum": ["run", "task", "actor"]}, "command": {"type": "string"},
                  "status": {"enum": ["ok", "failed", "killed", "partial", "running"]}, "started_at": {"type": "number"},
                  "parent_uid": {"type": ["string", "null"]}, "step": {"type": ["integer", "null"]},
                  "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/Ref"}},
                  "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/Ref"}},
                  "deletes": {"type": "array", "items": {"type": "string"}}}},
              "RegisterBatch": {"type": "object", "required": ["schema", "jobs"], "properties": {
                "schema": {"const": "roar.register/1"},
                "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
                "edges": {"type": "array", "items": {"$ref": "#/components/schemas/Edge"}}}},
              "Edge": {"type": "object", "required": ["from", "to", "path"], "properties": {
                "from": {"type": "string"}, "to": {"type": "string"}, "path": {"type": "string"}}},
              "RegisterOutcome": {"type": "object",
                "required": ["inserted", "updated", "unchanged", "edges_inserted", "edges_unchanged"], "properties": {
                  "inserted": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"},
                  "edges_inserted": {"type": "integer"}, "edges_unchanged": {"type": "integer"}}},
              "ArtifactUse": {"type": "object", "required": ["job", "direction", "path", "kind"], "properties": {
                "job": {"$ref": "#/components/schemas/JobSummary"}, "direction": {"enum": ["input", "output", "delete"]},
                "path": {"type": "string"}, "kind": {"type": "string"}, "digest": {"type": ["string", "null"]},
                "size": {"type": ["integer", "null"]}}},
              "OpenLineageRunEvent": {"type": "object", "description": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent (what the server reads of it).",
                "required": ["eventTime", "run", "job"], "properties": {
                  "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
                  "eventTime": {"type": "string", "format": "date-time"}, "producer": {"type": "string"},
                  "run": {"type": "object", "required": ["runId"], "properties": {"runId": {"type": "string", "format": "uuid"},
                    "facets": {"type": "object"}}},
                  "job": {"type": "object", "required": ["namespace", "name"], "properties": {
                    "namespace": {"type": "string", "minLength": 1}, "name": {"type": "string", "minLength": 1}}},
                  "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/OpenLineageDataset"}},
                  "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/OpenLineageDataset"}}}},
              "OpenLineageDataset": {"type": "object", "required": ["namespace", "name"], "properties": {
                "namespace": {"type": "string", "minLength": 1}, "name": {"type": "string"}, "facets": {"type": "object"},
                "outputFacets": {"type": "object"}}},
              "OpenLineageOutcome": {"type": "object", "required": ["project", "job", "stored", "edges_inserted"], "properties": {
                "project": {"type": "string"}, "job": {"type": "string"},
                "stored": {"enum": ["inserted", "updated", "unchanged", "ignored"]}, "edges_inserted": {"type": "integer"}}},
              "LineageResult": {"type": "object", "required": ["start", "jobs", "edges", "truncated"], "properties": {
                "start": {"type": "array", "items": {"$ref": "#/components/schemas/JobSummary"}},
                "jobs": {"type": "array", "items": {"type": "object", "required": ["job", "depth"], "properties": {
                  "job": {"$ref": "#/components/schemas/JobSummary"}, "depth": {"type": "integer", "minimum": 1}}}},
                "edges": {"type": "array", "items": {"$ref": "#/components/schemas/Edge"}},
                "truncated": {"type": "boolean"}}}
            }
          }
        }
        """#
}
