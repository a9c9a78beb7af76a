//! JSON Schema models (draft 4, as AWS's request validation): compiled once — by the config
//! compiler to report a bad schema, and per table load for the workers — and applied to one
//! parsed body per request.
//!
//! A model may `$ref` another of its API by AWS's URL
//! (`https://apigateway.amazonaws.com/restapis/{api}/models/{name}`) or by `models/{name}`; no
//! other document is ever fetched (no network, no file). `format` is asserted (`email`, `date-time`,
//! `ipv4`, ...), as AWS's validator does. A leaf: imports only the table.
//!
//! Cost: the body is parsed into a `serde_json::Value` (allocates, on validated routes only);
//! `is_valid` walks it once; messages are made only for a refused body.

use crate::table::validation::Model;

/// A compiled model.
pub type Schema = jsonschema::Validator;

/// Why a model does not compile: its name, and where in its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    pub model: String,
    pub message: String,
}

/// Compiles `models` (one API's), in order.
pub fn compile(models: &[Model]) -> Result<Vec<Schema>, SchemaError> {
    let documents: Vec<serde_json::Value> = models
        .iter()
        .map(|m| {
            serde_json::from_str(&m.schema).map_err(|e| SchemaError {
                model: m.name.clone(),
                message: format!("not JSON (line {}, column {}): {e}", e.line(), e.column()),
            })
        })
        .collect::<Result<_, _>>()?;
    // One set of documents for every model's `$ref`s, shared rather than copied per model.
    let siblings = std::sync::Arc::new(Siblings { names: models.iter().map(|m| m.name.clone()).collect(), documents });
    models
        .iter()
        .zip(&siblings.documents)
        .map(|(m, doc)| {
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft4)
                .should_validate_formats(true)
                .with_retriever(Shared(siblings.clone()))
                .build(doc)
                .map_err(|e| SchemaError {
                    model: m.name.clone(),
                    message: match e.schema_path().as_str() {
                        "" => e.to_string(),
                        at => format!("{e} (at {at})"),
                    },
                })
        })
        .collect()
}

/// At most this many reasons are given for a refused body.
const MAX_REASONS: usize = 5;

/// Checks `body` (JSON text; empty reads as `{}`) against `schema`: `Err` with
/// `$context.error.validationErrorString` when it does not match.
pub fn check(schema: &Schema, body: &[u8]) -> Result<(), String> {
    let value: serde_json::Value = match body.iter().all(u8::is_ascii_whitespace) {
        true => serde_json::Value::Object(Default::default()),
        false => serde_json::from_slice(body).map_err(|e| format!("[Invalid JSON: {e}]"))?,
    };
    if schema.is_valid(&value) {
        return Ok(());
    }
    let mut reasons = Vec::new();
    for e in schema.iter_errors(&value).take(MAX_REASONS) {
        let at = e.instance_path().as_str().to_owned();
        reasons.push(if at.is_empty() { e.to_string() } else { format!("{e} (at {at})") });
    }
    Err(format!("[{}]", reasons.join(", ")))
}

/// Serves the API's other models to `$ref`s; nothing else resolves.
struct Siblings {
    names: Vec<String>,
    documents: Vec<serde_json::Value>,
}

/// The API's models, as each model's retriever holds them.
struct Shared(std::sync::Arc<Siblings>);

impl jsonschema::Retrieve for Shared {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        let text = uri.as_str();
        let name = text.rsplit_once("/models/").map(|(_, n)| n.trim_end_matches('#'));
        match name.and_then(|n| self.0.names.iter().position(|m| m == n)) {
            Some(i) => Ok(self.0.documents[i].clone()),
            None => Err(format!("`{text}` is not a model of this API").into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str, schema: &str) -> Model {
        Model { name: name.into(), schema: schema.into() }
    }

    const SIGNUP: &str = r#"{
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "required": ["name", "email"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 20},
            "email": {"type": "string", "format": "email"},
            "age": {"type": "integer", "minimum": 13, "maximum": 120}
        }
    }"#;

    #[test]
    fn the_seed_schema() {
        let s = &compile(&[model("Signup", SIGNUP)]).unwrap()[0];
        assert!(check(s, br#"{"name":"Ada","email":"ada@example.com","age":36}"#).is_ok());
        for bad in [
            &br#"{"email":"ada@example.com"}"#[..],
            br#"{"name":"","email":"ada@example.com"}"#,
            br#"{"name":"Ada","email":"not-an-email"}"#,
            br#"{"name":"Ada","email":"a@b.c","age":12}"#,
            br#"{"name":"Ada","email":"a@b.c","age":36.5}"#,
            br#"{"name":"Ada","email":"a@b.c","age":121}"#,
            br#"{"name":"Ada Lovelace Byron King","email":"a@b.c"}"#,
            b"{not json",
            b"",
        ] {
            let why = check(s, bad).expect_err(&String::from_utf8_lossy(bad));
            assert!(why.starts_with('[') && why.ends_with(']'), "{why}");
        }
        let why = check(s, br#"{"name":"Ada","email":"a@b.c","age":200}"#).unwrap_err();
        assert!(why.contains("/age"), "{why}");
    }

    #[test]
    fn models_refer_to_each_other_and_bad_ones_are_named() {
        let pet = model("Pet", r#"{"type":"object","required":["id"],"properties":{"id":{"type":"integer"}}}"#);
        let pets = model(
            "Pets",
            r#"{"type":"array","items":{"$ref":"https://apigateway.amazonaws.com/restapis/shop/models/Pet"}}"#,
        );
        let compiled = compile(&[pet, pets]).unwrap();
        assert!(check(&compiled[1], br#"[{"id":1},{"id":2}]"#).is_ok());
        assert!(check(&compiled[1], br#"[{"id":"x"}]"#).is_err());

        let e = compile(&[model("Bad", r#"{"type":"strin"}"#)]).unwrap_err();
        assert_eq!(e.model, "Bad");
        let e = compile(&[model("Broken", "{\n  \"type\": }")]).unwrap_err();
        assert!(e.message.contains("line 2"), "{e:?}");
        let e = compile(&[model("Far", r#"{"$ref":"https://example.com/x.json"}"#)]).unwrap_err();
        assert_eq!(e.model, "Far");
    }
}
