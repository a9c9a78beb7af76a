//! Route selection (AWS's `routeSelectionExpression`): the message's JSON read at the
//! expression's paths, among its literal text, names the route; a message that is not JSON, or
//! a key no route has, goes to `$default`.
//!
//! Cost: one JSON parse of a text message when the expression reads the body.

use crate::table::Route;
use crate::table::websocket::{Selector, WebSocket};

/// The key the expression gives for `message` (`None`: it is not JSON, so `$default`).
pub fn key(selection: &[Selector], message: &[u8]) -> Option<String> {
    let reads_body = selection.iter().any(|s| matches!(s, Selector::Body(_)));
    let doc: serde_json::Value = match reads_body {
        true => serde_json::from_slice(message).ok()?,
        false => serde_json::Value::Null,
    };
    let mut key = String::new();
    for s in selection {
        match s {
            Selector::Literal(l) => key.push_str(l),
            Selector::Body(path) => {
                let found = path.iter().try_fold(&doc, |v, seg| v.get(seg.as_str()));
                match found {
                    None | Some(serde_json::Value::Null) => {}
                    Some(serde_json::Value::String(s)) => key.push_str(s),
                    // Numbers, booleans, arrays and objects as their JSON text.
                    Some(other) => key.push_str(&other.to_string()),
                }
            }
        }
    }
    Some(key)
}

/// The route for `message`: the selected key's route, else `$default`; `None` when neither exists.
pub fn route(ws: &WebSocket, routes: &[Route], message: &[u8]) -> Option<u32> {
    let selected = key(&ws.selection, message)
        .and_then(|k| routes.iter().position(|r| r.key == k && !matches!(k.as_str(), "$connect" | "$disconnect")));
    selected.map(|i| i as u32).or(ws.default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_by_the_body() {
        let action = [Selector::Body(vec!["action".into()])];
        assert_eq!(key(&action, br#"{"action":"send","x":1}"#).as_deref(), Some("send"));
        assert_eq!(key(&action, br#"{"x":1}"#).as_deref(), Some(""));
        assert_eq!(key(&action, br#"{"action":[1,"a"]}"#).as_deref(), Some(r#"[1,"a"]"#));
        assert_eq!(key(&action, br#"{"action":7}"#).as_deref(), Some("7"));
        assert_eq!(key(&action, b"not json"), None);
        let nested = [Selector::Body(vec!["a".into(), "b".into()]), Selector::Literal("-v1".into())];
        assert_eq!(key(&nested, br#"{"a":{"b":"t"}}"#).as_deref(), Some("t-v1"));
        let literal = [Selector::Literal("$default".into())];
        assert_eq!(key(&literal, b"anything").as_deref(), Some("$default"));
    }
}
