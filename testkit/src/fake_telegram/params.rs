//! Reading a bot request's parameters the way Telegram does: from the query
//! string and a JSON, urlencoded or multipart body; any value may arrive as
//! a string (`"123"`, `"true"`, a JSON object as text).

use std::collections::HashMap;

use axum::Form;
use axum::body::{Bytes, to_bytes};
use axum::extract::{FromRequest, Multipart, Query, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::wire::TgError;

/// Largest accepted request body (Telegram's upload limit is 50 MB).
pub(crate) const MAX_BODY: usize = 50 * 1024 * 1024;

/// A file part of a multipart request.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

/// All parameters of one request.
#[derive(Debug, Default)]
pub(crate) struct Params {
    fields: Map<String, Value>,
    files: HashMap<String, Upload>,
}

impl Params {
    /// Reads the whole request; a malformed body is a 400 like Telegram's.
    pub(crate) async fn read(request: Request) -> Result<Self, TgError> {
        let mut params = Self::default();
        if request.uri().query().is_some() {
            let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(request.uri())
                .map_err(|_| TgError::bad_request("can't parse query string"))?;
            params.add_pairs(pairs);
        }
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(request, &())
                .await
                .map_err(|_| TgError::bad_request("can't parse multipart/form-data"))?;
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|_| TgError::bad_request("can't parse multipart/form-data"))?
            {
                let name = field.name().unwrap_or_default().to_owned();
                let file_name = field.file_name().map(str::to_owned);
                let part_type = field.content_type().map(str::to_owned);
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|_| TgError::bad_request("can't parse multipart/form-data"))?;
                if file_name.is_some() {
                    params.files.insert(
                        name,
                        Upload {
                            file_name,
                            content_type: part_type,
                            bytes,
                        },
                    );
                } else {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    params.fields.insert(name, Value::String(text));
                }
            }
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            let Form(pairs) = Form::<Vec<(String, String)>>::from_request(request, &())
                .await
                .map_err(|_| TgError::bad_request("can't parse form data"))?;
            params.add_pairs(pairs);
        } else {
            let body = to_bytes(request.into_body(), MAX_BODY)
                .await
                .map_err(|_| TgError::new_too_large())?;
            if !body.iter().all(u8::is_ascii_whitespace) {
                match serde_json::from_slice::<Value>(&body) {
                    Ok(Value::Object(map)) => params.fields.extend(map),
                    _ => return Err(TgError::bad_request("can't parse JSON object")),
                }
            }
        }
        Ok(params)
    }

    fn add_pairs(&mut self, pairs: Vec<(String, String)>) {
        for (key, value) in pairs {
            self.fields.insert(key, Value::String(value));
        }
    }

    /// A present, non-null value.
    fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key).filter(|value| !value.is_null())
    }

    /// Whether the parameter was given.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A string parameter; numbers and booleans are taken as their text.
    pub(crate) fn string(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        }
    }

    /// An integer parameter given as a number or a numeric string.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, TgError> {
        let parsed = match self.get(key) {
            None => return Ok(None),
            Some(Value::Number(number)) => number.as_i64(),
            Some(Value::String(text)) => text.trim().parse().ok(),
            Some(_) => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| TgError::bad_request(format!("invalid {key} specified")))
    }

    /// A boolean parameter (`true`, `"true"`, `"1"`); absent is false.
    pub(crate) fn flag(&self, key: &str) -> bool {
        match self.get(key) {
            Some(Value::Bool(flag)) => *flag,
            Some(Value::String(text)) => matches!(text.as_str(), "true" | "True" | "1"),
            Some(Value::Number(number)) => number.as_i64().is_some_and(|n| n != 0),
            _ => false,
        }
    }

    /// A JSON parameter, given as JSON or as JSON text; `what` names it in
    /// the error ("can't parse {what}").
    pub(crate) fn json(&self, key: &str, what: &str) -> Result<Option<Value>, TgError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => serde_json::from_str(text)
                .map(Some)
                .map_err(|_| TgError::bad_request(format!("can't parse {what}"))),
            Some(value) => Ok(Some(value.clone())),
        }
    }

    /// A JSON parameter decoded into `T`.
    pub(crate) fn typed<T: DeserializeOwned>(
        &self,
        key: &str,
        what: &str,
    ) -> Result<Option<T>, TgError> {
        self.json(key, what)?
            .map(|value| {
                serde_json::from_value(value)
                    .map_err(|_| TgError::bad_request(format!("can't parse {what}")))
            })
            .transpose()
    }

    /// The target chat: a number or numeric string; `@username` names no
    /// private chat, so it is "chat not found".
    pub(crate) fn chat_id(&self) -> Result<i64, TgError> {
        let Some(value) = self.string("chat_id").filter(|text| !text.is_empty()) else {
            return Err(TgError::bad_request("chat_id is empty"));
        };
        value
            .trim()
            .parse()
            .map_err(|_| TgError::bad_request("chat not found"))
    }

    /// A file part by name.
    pub(crate) fn file(&self, name: &str) -> Option<&Upload> {
        self.files.get(name)
    }
}

impl TgError {
    fn new_too_large() -> Self {
        Self {
            code: 413,
            description: "Request Entity Too Large".to_owned(),
            retry_after: None,
        }
    }
}
