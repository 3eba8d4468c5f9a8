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
              "responses": {"200": {"$ref": "#/components/responses/JobPage"}, "400": {"$ref": "#/components/responses/Error"}}}}
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
              "digest": {"name": "digest", "in": "query", "description": "At least 8 hex digits, optionally after `algorithm:`.",
                         "schema": {"type": "string"}}
            },
            "responses": {
              "Error": {"description": "refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
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
                  "code": {"enum": ["bad_request", "unauthenticated", "forbidden", "not_found", "too_large",
                                    "too_many_requests", "storage", "configuration"]},
                  "message": {"type": "string"}}}}},
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
