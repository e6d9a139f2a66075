//! Google's Calendar v3 discovery document, used to route requests and to
//! check their query parameters and JSON bodies the way Google does, so a
//! client bug (a misspelt parameter, a number where a string belongs)
//! fails in tests instead of in production.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate};
use serde_json::{Map, Value};

use super::wire::ApiError;

/// The document as Google publishes it (copied from the project's reference).
const DOCUMENT: &str = include_str!("../../reference/google-calendar-v3.discovery.json");

/// Query parameters every Google API accepts besides the documented
/// global ones.
const SYSTEM_PARAMETERS: &[&str] = &[
    "access_token",
    "callback",
    "upload_protocol",
    "uploadType",
    "$.xgafv",
];

/// One REST method of the document.
#[derive(Debug)]
pub(crate) struct MethodSpec {
    /// `calendar.events.insert` and so on.
    pub id: String,
    http_method: String,
    /// Path below `calendar/v3/`, split at `/`; `{name}` marks a parameter.
    segments: Vec<String>,
    parameters: Map<String, Value>,
    /// The schema of the request body, if any.
    pub request: Option<String>,
    /// Scopes of which the token needs one.
    pub scopes: Vec<String>,
}

/// The parsed document.
#[derive(Debug)]
pub(crate) struct Discovery {
    methods: Vec<MethodSpec>,
    global_parameters: Map<String, Value>,
    schemas: Map<String, Value>,
    /// Every OAuth scope the API knows.
    pub scopes: Vec<String>,
}

/// The document, parsed once.
pub(crate) fn discovery() -> &'static Discovery {
    static PARSED: OnceLock<Discovery> = OnceLock::new();
    PARSED.get_or_init(|| Discovery::parse(DOCUMENT))
}

fn collect_methods(resources: &Map<String, Value>, out: &mut Vec<MethodSpec>) {
    for resource in resources.values() {
        if let Some(methods) = resource["methods"].as_object() {
            for method in methods.values() {
                let path = method["path"].as_str().unwrap_or_default();
                out.push(MethodSpec {
                    id: method["id"].as_str().unwrap_or_default().to_owned(),
                    http_method: method["httpMethod"].as_str().unwrap_or_default().to_owned(),
                    segments: path.split('/').map(str::to_owned).collect(),
                    parameters: method["parameters"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                    request: method["request"]["$ref"].as_str().map(str::to_owned),
                    scopes: method["scopes"]
                        .as_array()
                        .map(|scopes| {
                            scopes
                                .iter()
                                .filter_map(|scope| scope.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
        }
        if let Some(nested) = resource["resources"].as_object() {
            collect_methods(nested, out);
        }
    }
}

impl Discovery {
    fn parse(text: &str) -> Self {
        // The document is compiled in; a parse failure is a broken build.
        let doc: Value = serde_json::from_str(text).unwrap_or_default();
        let mut methods = Vec::new();
        if let Some(resources) = doc["resources"].as_object() {
            collect_methods(resources, &mut methods);
        }
        Self {
            methods,
            global_parameters: doc["parameters"].as_object().cloned().unwrap_or_default(),
            schemas: doc["schemas"].as_object().cloned().unwrap_or_default(),
            scopes: doc["auth"]["oauth2"]["scopes"]
                .as_object()
                .map(|scopes| scopes.keys().cloned().collect())
                .unwrap_or_default(),
        }
    }

    /// The method for `http_method` and a path below `/calendar/v3/`, with
    /// its (percent-decoded) path parameters; literal segments win over
    /// parameters (`events/watch` is not an event id).
    pub(crate) fn resolve(
        &self,
        http_method: &str,
        path: &str,
    ) -> Option<(&MethodSpec, HashMap<String, String>)> {
        let parts: Vec<&str> = path.split('/').collect();
        let mut best: Option<(usize, &MethodSpec, HashMap<String, String>)> = None;
        for method in &self.methods {
            if method.http_method != http_method || method.segments.len() != parts.len() {
                continue;
            }
            let mut params = HashMap::new();
            let mut literals = 0;
            let mut matched = true;
            for (segment, part) in method.segments.iter().zip(&parts) {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if part.is_empty() {
                        matched = false;
                        break;
                    }
                    params.insert(name.to_owned(), percent_decode(part));
                } else if segment == part {
                    literals += 1;
                } else {
                    matched = false;
                    break;
                }
            }
            if matched && best.as_ref().is_none_or(|(score, ..)| literals > *score) {
                best = Some((literals, method, params));
            }
        }
        best.map(|(_, method, params)| (method, params))
    }

    /// The method with this id.
    pub(crate) fn resolve_id(&self, id: &str) -> Option<&MethodSpec> {
        self.methods.iter().find(|method| method.id == id)
    }

    /// Checks query parameters against the method: unknown names, repeats
    /// of single parameters, types, enums, formats and minimums.
    pub(crate) fn check_query(
        &self,
        method: &MethodSpec,
        query: &[(String, String)],
    ) -> Result<(), ApiError> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (name, value) in query {
            let spec = method
                .parameters
                .get(name)
                .filter(|spec| spec["location"] == "query")
                .or_else(|| self.global_parameters.get(name));
            let Some(spec) = spec else {
                if SYSTEM_PARAMETERS.contains(&name.as_str()) {
                    continue;
                }
                return Err(ApiError::bad_request(&format!(
                    "Invalid JSON payload received. Unknown name \"{name}\": Cannot bind query \
                     parameter. Field '{name}' could not be found in request message."
                )));
            };
            let count = seen.entry(name).or_default();
            *count += 1;
            if *count > 1 && spec["repeated"] != Value::Bool(true) {
                return Err(ApiError::bad_request(&format!(
                    "Invalid JSON payload received. Duplicate value for parameter \"{name}\"."
                )));
            }
            check_parameter(name, spec, value)?;
        }
        for (name, spec) in &method.parameters {
            if spec["required"] == Value::Bool(true)
                && spec["location"] == "query"
                && !query.iter().any(|(given, _)| given == name)
            {
                return Err(ApiError::required(&format!("Required parameter: {name}")));
            }
        }
        Ok(())
    }

    /// Checks a JSON body against the named schema. Unknown fields are an
    /// error when `strict` (Google ignores them; a test wants to hear of a
    /// misspelt field).
    pub(crate) fn check_body(
        &self,
        schema: &str,
        body: &Value,
        strict: bool,
    ) -> Result<(), ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "Invalid JSON payload received. Expected an object.",
            ));
        }
        self.check_value(
            &Value::String(schema.to_owned()),
            body,
            "resource",
            strict,
            true,
        )
    }

    fn check_value(
        &self,
        spec: &Value,
        value: &Value,
        path: &str,
        strict: bool,
        is_ref_name: bool,
    ) -> Result<(), ApiError> {
        let spec = if is_ref_name {
            match spec.as_str().and_then(|name| self.schemas.get(name)) {
                Some(schema) => schema,
                None => return Ok(()),
            }
        } else if let Some(name) = spec["$ref"].as_str() {
            match self.schemas.get(name) {
                Some(schema) => schema,
                None => return Ok(()),
            }
        } else {
            spec
        };
        if value.is_null() {
            // `null` clears a field (patch semantics).
            return Ok(());
        }
        let wrong =
            |kind: &str| ApiError::invalid(&format!("Invalid value at '{path}' ({kind}), {value}"));
        match spec["type"].as_str().unwrap_or("any") {
            "string" => match value {
                Value::String(text) => check_format(spec, text, path),
                Value::Number(_) if matches!(spec["format"].as_str(), Some("int64" | "uint64")) => {
                    Ok(())
                }
                _ => Err(wrong("TYPE_STRING")),
            },
            "integer" => match value {
                Value::Number(number) if number.is_i64() || number.is_u64() => Ok(()),
                Value::String(text) if text.parse::<i64>().is_ok() => Ok(()),
                _ => Err(wrong("TYPE_INT32")),
            },
            "number" => match value {
                Value::Number(_) => Ok(()),
                _ => Err(wrong("TYPE_DOUBLE")),
            },
            "boolean" => match value {
                Value::Bool(_) => Ok(()),
                _ => Err(wrong("TYPE_BOOL")),
            },
            "array" => {
                let Value::Array(items) = value else {
                    return Err(wrong("TYPE_LIST"));
                };
                for (index, item) in items.iter().enumerate() {
                    self.check_value(
                        &spec["items"],
                        item,
                        &format!("{path}[{index}]"),
                        strict,
                        false,
                    )?;
                }
                Ok(())
            }
            "object" => {
                let Value::Object(fields) = value else {
                    return Err(wrong("TYPE_MESSAGE"));
                };
                for (name, field) in fields {
                    let child = format!("{path}.{name}");
                    if let Some(property) = spec["properties"].get(name) {
                        self.check_value(property, field, &child, strict, false)?;
                    } else if spec["additionalProperties"].is_object() {
                        self.check_value(
                            &spec["additionalProperties"],
                            field,
                            &child,
                            strict,
                            false,
                        )?;
                    } else if strict {
                        return Err(ApiError::bad_request(&format!(
                            "Invalid JSON payload received. Unknown name \"{name}\" at '{path}': \
                             Cannot find field."
                        )));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn check_format(spec: &Value, text: &str, path: &str) -> Result<(), ApiError> {
    let ok = match spec["format"].as_str() {
        Some("date-time") => parses_date_time(text),
        Some("date") => NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
        Some("int32" | "int64") => text.parse::<i64>().is_ok(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(&format!(
            "Invalid value for: {path}: Invalid format: \"{text}\""
        )))
    }
}

/// RFC 3339, or a local date-time without offset (allowed in event times
/// when a `timeZone` is given; the event checks decide).
fn parses_date_time(text: &str) -> bool {
    DateTime::parse_from_rfc3339(text).is_ok()
        || chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").is_ok()
        || chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
}

fn check_parameter(name: &str, spec: &Value, value: &str) -> Result<(), ApiError> {
    match spec["type"].as_str().unwrap_or("string") {
        "integer" => {
            let Ok(number) = value.parse::<i64>() else {
                return Err(ApiError::invalid_parameter(
                    name,
                    &format!("Invalid integer value: '{value}'."),
                ));
            };
            let minimum = spec["minimum"].as_str().and_then(|m| m.parse::<i64>().ok());
            let maximum = spec["maximum"].as_str().and_then(|m| m.parse::<i64>().ok());
            if minimum.is_some_and(|minimum| number < minimum)
                || maximum.is_some_and(|maximum| number > maximum)
            {
                return Err(ApiError::invalid_parameter(
                    name,
                    &format!(
                        "Invalid value '{value}'. Values must be within the range: [{}, {}]",
                        minimum.map_or_else(String::new, |m| m.to_string()),
                        maximum.map_or_else(String::new, |m| m.to_string()),
                    ),
                ));
            }
        }
        "boolean" => {
            if !matches!(value, "true" | "false" | "True" | "False") {
                return Err(ApiError::invalid_parameter(
                    name,
                    &format!("Invalid boolean value: '{value}'."),
                ));
            }
        }
        _ => {
            if let Some(allowed) = spec["enum"].as_array()
                && !allowed.iter().any(|option| option == value)
            {
                return Err(ApiError::invalid_parameter(
                    name,
                    &format!("Invalid value '{value}'. Allowed values: {allowed:?}"),
                ));
            }
            if spec["format"] == "date-time" && DateTime::parse_from_rfc3339(value).is_err() {
                return Err(ApiError::bad_request(&format!(
                    "Invalid value for {name}: must be an RFC3339 timestamp with a time zone \
                     offset, got '{value}'."
                )));
            }
        }
    }
    Ok(())
}

/// Decodes `%XX` escapes of a path segment.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let Some(byte) = text
                .get(index + 1..index + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
