use std::collections::BTreeSet;

use serde_json::Value;

use super::*;

fn doc() -> Value {
    serde_json::to_value(document("9.9.9")).unwrap()
}

/// The document is read by people who have only it: no text may point to a specification they do not have.
#[test]
fn the_document_refers_to_no_outside_specification() {
    fn walk(value: &Value, at: &str, found: &mut Vec<String>) {
        match value {
            Value::String(text) if text.contains('§') || text.to_lowercase().contains("contract") => {
                found.push(format!("{at}: {text}"));
            }
            Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, &format!("{at}/{k}"), found)),
            Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{at}/{i}"), found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(&doc(), "", &mut found);
    assert!(found.is_empty(), "{} texts refer to the specification:\n{}", found.len(), found.join("\n"));
}

#[test]
fn an_api_key_needs_only_a_name_and_is_a_developer_key_by_default() {
    let body = &doc()["components"]["schemas"]["CreateKeyBody"];
    assert_eq!(body["required"], serde_json::json!(["name"]), "{body}");
    assert_eq!(body["properties"]["role"]["default"], "developer", "{body}");
}

#[test]
fn every_route_of_the_table_is_documented() {
    let doc = doc();
    let missing: Vec<String> = routes::endpoints()
        .iter()
        .filter(|e| doc["paths"][e.path][e.method.as_str().to_ascii_lowercase()].is_null())
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    assert!(missing.is_empty(), "routes without documentation (see the openapi module's comment): {missing:?}");
}

#[test]
fn every_documented_operation_is_a_route_or_one_served_outside_the_table() {
    let table: BTreeSet<(String, String)> =
        routes::endpoints().iter().map(|e| (e.method.as_str().to_ascii_lowercase(), e.path.to_owned())).collect();
    let outside = ["/metrics", "/reports/{envId}/{projectId}/{buildId}/{path}"];
    for (path, item) in doc()["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let known = table.contains(&(method.clone(), path.clone())) || outside.contains(&path.as_str());
            assert!(known, "{method} {path} is documented but not served");
        }
    }
}

#[test]
fn every_path_segment_of_the_table_is_described() {
    let described: Vec<&str> = params::segments().iter().map(|segment| segment.name).collect();
    for e in routes::endpoints() {
        for name in params::segment_names(e.path) {
            assert!(described.contains(&name), "{{{name}}} of {} {} is not in params::segments", e.method, e.path);
        }
    }
}

/// Ids are described by the `Slug`, `BuildId` and `Ulid` schemas; no parameter or field repeats their patterns.
#[test]
fn the_id_patterns_appear_once_in_their_own_schemas() {
    fn walk(value: &Value, at: &str, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(pattern)) = map.get("pattern")
                    && [formats::SLUG, formats::BUILD_ID, formats::ULID].contains(&pattern.as_str())
                {
                    found.push(at.to_owned());
                }
                map.iter().for_each(|(k, v)| walk(v, &format!("{at}/{k}"), found));
            }
            Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{at}/{i}"), found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(&doc(), "", &mut found);
    assert_eq!(found, ["/components/schemas/BuildId", "/components/schemas/Slug", "/components/schemas/Ulid"]);
    let doc = doc();
    let env = &doc["paths"]["/api/environments/{envId}"]["delete"]["parameters"][0];
    assert_eq!(env["schema"]["$ref"], "#/components/schemas/Slug", "{env}");
    let body = &doc["components"]["schemas"]["CreateProjectBody"]["properties"]["id"];
    assert_eq!(body["$ref"], "#/components/schemas/Slug", "{body}");
}

#[test]
fn parameters_appear_once_with_their_own_description() {
    let doc = doc();
    let params = doc["paths"]["/api/settings/users/{email}/role"]["patch"]["parameters"].as_array().unwrap().clone();
    assert_eq!(params.len(), 1, "{params:?}");
    assert!(params[0]["schema"]["pattern"].is_string(), "the described parameter is kept: {params:?}");
}

#[test]
fn operation_ids_are_the_handler_names_and_unique() {
    let doc = doc();
    let mut ids = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap().to_owned();
            assert!(ids.insert(id.clone()), "{id} twice");
        }
    }
    assert_eq!(doc["paths"]["/api/environments"]["get"]["operationId"], "list_environments");
    assert_eq!(doc["paths"]["/api/settings/apikeys"]["post"]["operationId"], "create_api_key");
}

/// Every `$ref` points at something the document defines.
#[test]
fn every_reference_resolves() {
    fn walk(value: &Value, doc: &Value, seen: &mut usize) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("external $ref {target}"));
                    assert!(doc.pointer(pointer).is_some(), "unresolved $ref {target}");
                    *seen += 1;
                }
                map.values().for_each(|v| walk(v, doc, seen));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, doc, seen)),
            _ => {}
        }
    }
    let doc = doc();
    let mut seen = 0;
    walk(&doc, &doc, &mut seen);
    assert!(seen > 50, "only {seen} references: the walk did not reach the operations");
}

#[test]
fn the_document_is_openapi_3_1_with_the_server_version_and_the_three_credentials() {
    let doc = doc();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "allure-hub");
    assert_eq!(doc["info"]["version"], "9.9.9");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["sessionCookie"],
        serde_json::json!({"type": "apiKey", "in": "cookie", "name": "allure_hub_session", "description": schemes["sessionCookie"]["description"]})
    );
    assert_eq!(schemes["bearerApiKey"]["type"], "http");
    assert_eq!(schemes["bearerApiKey"]["scheme"], "bearer");
    assert_eq!(schemes["headerApiKey"]["in"], "header");
    assert_eq!(schemes["headerApiKey"]["name"], "X-API-Key");
    // The round trip through utoipa's own types keeps everything.
    let parsed: utoipa::openapi::OpenApi = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(serde_json::to_value(parsed).unwrap(), doc);
}

#[test]
fn the_section_16_schemas_are_components() {
    let doc = doc();
    for name in [
        "Environment",
        "Project",
        "BuildSummary",
        "Build",
        "BuildStats",
        "QualityGateResult",
        "UploadSession",
        "ApiKey",
        "User",
        "Me",
        "Error",
        "UploadAccepted",
        "ChunkAck",
        "ReportStats",
        "Provider",
        "AllureVersion",
        "Health",
        "Version",
        "Notification",
        "UnreadCount",
        "Overview",
        "DiskUsage",
        "DiskThreshold",
        "RetentionSettings",
        "CleanupRun",
    ] {
        assert!(doc["components"]["schemas"][name].is_object(), "schema {name} missing");
    }
    // Fields are never omitted (§1.4): nullable ones are still required.
    let build = &doc["components"]["schemas"]["Build"];
    let required: Vec<&str> = build["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for field in ["completedAt", "qualityGate", "error", "config", "status"] {
        assert!(required.contains(&field), "Build.{field} not required: {required:?}");
    }
    assert_eq!(build["properties"]["status"]["enum"], serde_json::json!(["pending", "generating", "ready", "failed"]));
}

#[test]
fn access_rules_become_security_and_auth_errors() {
    let doc = doc();
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    let schemes = |op: &Value| -> Vec<String> {
        op["security"].as_array().map_or_else(Vec::new, |reqs| {
            reqs.iter().flat_map(|r| r.as_object().unwrap().keys().cloned().collect::<Vec<_>>()).collect()
        })
    };
    let list = op("/api/environments", "get");
    assert_eq!(schemes(&list), ["sessionCookie", "bearerApiKey", "headerApiKey"]);
    assert!(list["responses"]["401"].is_object() && list["responses"]["403"].is_object());
    assert_eq!(list["responses"]["403"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error");
    let keys = op("/api/settings/apikeys", "get");
    assert_eq!(schemes(&keys), ["sessionCookie"]);
    let health = op("/api/healthz", "get");
    assert!(health["security"].is_null() && health["responses"]["401"].is_null());
    assert!(health["responses"]["429"].is_null(), "health checks are not rate limited");
    assert_eq!(
        health["responses"]["503"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Health"
    );
    let create = op("/api/environments", "post");
    for status in ["400", "413", "415", "429"] {
        assert!(create["responses"][status].is_object(), "POST /api/environments lacks {status}");
    }
    // The route's own messages of a status are kept, joined to the shared ones, each written once.
    let text = |op: &Value, status: &str| op["responses"][status]["description"].as_str().unwrap().to_owned();
    assert!(text(&create, "400").contains("id is required"));
    assert!(text(&create, "400").ends_with("`invalid JSON body: <parser message>`"));
    let key = text(&op("/api/settings/apikeys", "post"), "403");
    assert!(
        key.starts_with("`settings require a browser session`, `missing permission: manage`, `only admins"),
        "{key}"
    );
    assert_eq!(key.matches("cross-site request rejected").count(), 1, "{key}");
    let chunk = text(&op("/api/environments/{envId}/projects/{projectId}/uploads/{uploadId}", "put"), "400");
    assert!(chunk.starts_with("`invalid envId`, `invalid projectId`, `invalid uploadId`, missing"), "{chunk}");
}
