//! The events a WebSocket route's function gets, as AWS sends them (its recorded
//! `CONNECT`, `MESSAGE` and `DISCONNECT` events): `requestContext` with `routeKey`,
//! `eventType`, `connectionId`, `connectedAt`, `messageId` (messages), `requestTime(Epoch)`,
//! `messageDirection`, `stage`, `domainName`, `apiId`, `identity` and, for `$disconnect`,
//! `disconnectStatusCode` and `disconnectReason`; `$connect` carries the upgrade's headers and
//! query; a message its body (base64 for a binary one).
//!
//! The `$connect` authorizer's event is the CONNECT event with `type` and `methodArn` in front
//! ([`crate::auth::function`]). Here, among the functions, so that both the WebSocket routes and
//! the authorizers write it.
//!
//! Must not: invoke anything. Cost: one JSON document per event.

use std::net::IpAddr;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::context::auth::Authorized;
use crate::http::head::RequestHead;

/// What every event of one connection shares.
#[derive(Debug, Clone)]
pub struct Connection {
    pub id: String,
    /// Unix time in milliseconds.
    pub connected_at_ms: u64,
    pub source_ip: IpAddr,
    pub user_agent: Option<String>,
    pub domain_name: String,
    pub stage: String,
    pub api_id: String,
}

/// What one event is.
pub enum Kind<'a> {
    Connect(&'a RequestHead),
    Message { text: bool, body: &'a [u8] },
    Disconnect { status: u16, reason: &'a str },
}

/// AWS's `eventType` values.
pub const CONNECT: &str = "CONNECT";
pub const MESSAGE: &str = "MESSAGE";
pub const DISCONNECT: &str = "DISCONNECT";

impl Kind<'_> {
    /// Its `eventType`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Kind::Connect(_) => CONNECT,
            Kind::Message { .. } => MESSAGE,
            Kind::Disconnect { .. } => DISCONNECT,
        }
    }
}

/// A request id in AWS's WebSocket shape (16 base64 characters, like the connection's).
pub fn request_id() -> String {
    let mut bytes = [0u8; 11];
    bytes[..8].copy_from_slice(&crate::random::random_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&crate::random::random_u64().to_le_bytes()[..3]);
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

/// The ids of one event: its request id, and a message's own id (AWS's differ).
pub struct EventIds {
    pub request_id: String,
    pub message_id: Option<String>,
}

impl EventIds {
    pub fn new(message: bool) -> EventIds {
        EventIds { request_id: request_id(), message_id: message.then(request_id) }
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The event for `kind` on `route_key`, written into `out`; `authorizer` is what the
/// `$connect` authorizer said (`requestContext.authorizer`: its principal and context).
pub fn write(
    out: &mut Vec<u8>,
    c: &Connection,
    route_key: &str,
    kind: &Kind<'_>,
    ids: &EventIds,
    authorizer: &Authorized,
) {
    let event = event(c, route_key, kind, ids, authorizer);
    // Writing a `Value` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(out, &Value::Object(event));
}

/// The `$connect` authorizer's event (AWS's WebSocket REQUEST authorizer input): the CONNECT
/// event with `type`, `methodArn` and `stageVariables`, without a body.
pub fn write_authorizer(
    out: &mut Vec<u8>,
    c: &Connection,
    head: &RequestHead,
    (arn, stage_variables): (&str, &[(String, String)]),
    ids: &EventIds,
) {
    let mut event = event(c, "$connect", &Kind::Connect(head), ids, &Authorized::None);
    event.remove("isBase64Encoded");
    let mut front = Map::new();
    front.insert("type".into(), "REQUEST".into());
    front.insert("methodArn".into(), arn.into());
    front.extend(event);
    let variables: Map<String, Value> = stage_variables.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
    front.insert("stageVariables".into(), Value::Object(variables));
    let _ = serde_json::to_writer(out, &Value::Object(front));
}

fn event(
    c: &Connection,
    route_key: &str,
    kind: &Kind<'_>,
    ids: &EventIds,
    authorizer: &Authorized,
) -> Map<String, Value> {
    let request_id = ids.request_id.as_str();
    let now = now_ms();
    let mut time = Vec::with_capacity(26);
    crate::request_time::clf(&mut time, now / 1000);
    let mut identity = Map::new();
    if let Some(ua) = &c.user_agent {
        identity.insert("userAgent".into(), ua.clone().into());
    }
    identity.insert("sourceIp".into(), c.source_ip.to_string().into());
    let event_type = kind.event_type();
    let mut context = Map::new();
    context.insert("routeKey".into(), route_key.into());
    if let Some(message_id) = &ids.message_id {
        context.insert("messageId".into(), message_id.clone().into());
    }
    if let Kind::Disconnect { status, reason } = kind {
        context.insert("disconnectStatusCode".into(), (*status).into());
        context.insert("disconnectReason".into(), (*reason).into());
    }
    context.insert("eventType".into(), event_type.into());
    context.insert("extendedRequestId".into(), request_id.into());
    context.insert("requestTime".into(), String::from_utf8_lossy(&time).into_owned().into());
    context.insert("messageDirection".into(), "IN".into());
    context.insert("stage".into(), c.stage.clone().into());
    context.insert("connectedAt".into(), c.connected_at_ms.into());
    context.insert("requestTimeEpoch".into(), now.into());
    context.insert("identity".into(), Value::Object(identity));
    context.insert("requestId".into(), request_id.into());
    context.insert("domainName".into(), c.domain_name.clone().into());
    context.insert("connectionId".into(), c.id.clone().into());
    context.insert("apiId".into(), c.api_id.clone().into());
    if let Some(principal) = authorizer.principal() {
        // AWS: the policy's principal and the answer's `context`, flat.
        let mut a = Map::new();
        a.insert("principalId".into(), principal.into());
        if let Authorized::Function(f) = authorizer {
            for (k, v) in &f.context {
                a.insert(k.clone(), serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.clone())));
            }
        }
        context.insert("authorizer".into(), Value::Object(a));
    }
    let mut event = Map::new();
    match kind {
        Kind::Connect(head) => {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let (mut single, mut multi) = (Map::new(), Map::new());
            for (name, value) in head.headers() {
                let name = text(name);
                single.entry(name.clone()).or_insert_with(|| text(value).into());
                if let Some(list) = multi.entry(name).or_insert_with(|| json!([])).as_array_mut() {
                    list.push(text(value).into());
                }
            }
            event.insert("headers".into(), Value::Object(single));
            event.insert("multiValueHeaders".into(), Value::Object(multi));
            if let Some(query) = head.query().filter(|q| !q.is_empty()) {
                let (mut single, mut multi) = (Map::new(), Map::new());
                let decode = |raw: &[u8]| {
                    let mut out = smallvec::SmallVec::<[u8; 256]>::new();
                    crate::http::query::decode_into(&mut out, raw);
                    String::from_utf8_lossy(&out).into_owned()
                };
                for (k, v) in crate::http::query::pairs(Some(query)) {
                    let (k, v) = (decode(k), decode(v));
                    single.entry(k.clone()).or_insert_with(|| v.clone().into());
                    if let Some(list) = multi.entry(k).or_insert_with(|| json!([])).as_array_mut() {
                        list.push(v.into());
                    }
                }
                event.insert("queryStringParameters".into(), Value::Object(single));
                event.insert("multiValueQueryStringParameters".into(), Value::Object(multi));
            }
            event.insert("requestContext".into(), Value::Object(context));
            event.insert("isBase64Encoded".into(), false.into());
        }
        Kind::Message { text, body } => {
            event.insert("requestContext".into(), Value::Object(context));
            let (body, base64) = match text {
                true => (String::from_utf8_lossy(body).into_owned(), false),
                false => (base64::engine::general_purpose::STANDARD.encode(body), true),
            };
            event.insert("body".into(), body.into());
            event.insert("isBase64Encoded".into(), base64.into());
        }
        Kind::Disconnect { .. } => {
            let mut headers = Map::new();
            headers.insert("Host".into(), c.domain_name.clone().into());
            headers.insert("X-Forwarded-For".into(), c.source_ip.to_string().into());
            let multi: Map<String, Value> = headers.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
            event.insert("headers".into(), Value::Object(headers));
            event.insert("multiValueHeaders".into(), Value::Object(multi));
            event.insert("requestContext".into(), Value::Object(context));
            event.insert("isBase64Encoded".into(), false.into());
        }
    }
    event
}

/// What a function's answer means for the client: its status (for `$connect`), its
/// `Sec-WebSocket-Protocol`, and the message to send back (for a route response).
pub struct Answer {
    pub status: u16,
    pub protocol: Option<Vec<u8>>,
    /// The reply: (binary?, bytes).
    pub reply: Option<(bool, Vec<u8>)>,
}

/// Reads a function's answer as AWS does for WebSocket routes: `statusCode` (default 200),
/// `headers`, and `body` (base64-decoded with `isBase64Encoded`); an answer that is not a JSON
/// object is itself the reply.
pub fn read_answer(payload: &[u8]) -> Answer {
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(payload) else {
        let reply = (!payload.is_empty()).then(|| (std::str::from_utf8(payload).is_err(), payload.to_vec()));
        return Answer { status: 200, protocol: None, reply };
    };
    let status = o.get("statusCode").and_then(Value::as_u64).filter(|s| (100..600).contains(s)).unwrap_or(200) as u16;
    let protocol = o
        .get("headers")
        .and_then(Value::as_object)
        .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-protocol")))
        .and_then(|(_, v)| v.as_str())
        .map(|s| s.as_bytes().to_vec());
    let base64 = o.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false);
    let reply = o.get("body").map(|b| match (b, base64) {
        (Value::String(s), true) => match base64::engine::general_purpose::STANDARD.decode(s) {
            Ok(bytes) => (true, bytes),
            Err(_) => (false, s.clone().into_bytes()),
        },
        (Value::String(s), false) => (false, s.clone().into_bytes()),
        (other, _) => (false, other.to_string().into_bytes()),
    });
    Answer { status, protocol, reply }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_as_aws_reads_them() {
        let a = read_answer(br#"{"statusCode":403}"#);
        assert_eq!((a.status, a.reply.is_none()), (403, true));
        let a = read_answer(br#"{"statusCode":200,"headers":{"Sec-WebSocket-Protocol":"chat"},"body":"hi"}"#);
        assert_eq!(
            (a.status, a.protocol.as_deref(), a.reply),
            (200, Some(&b"chat"[..]), Some((false, b"hi".to_vec())))
        );
        let a = read_answer(br#"{"body":"AAE=","isBase64Encoded":true}"#);
        assert_eq!(a.reply, Some((true, vec![0, 1])));
        let a = read_answer(b"plain text");
        assert_eq!(a.reply, Some((false, b"plain text".to_vec())));
        assert!(read_answer(b"").reply.is_none());
    }
}
