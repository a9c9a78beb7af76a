//! Compiling an access log template (AWS `$context` and `$stageVariables` references) into the
//! table's [`Part`]s, once, at config time. Every variable AWS documents for access logs is
//! accepted; the ones Portico has no value for (account ids, Cognito identities, WAF, ...) compile
//! to [`Var::Missing`] and render as `-`. A name AWS does not know is a config error with a
//! suggestion.

use crate::table::ClientCertField;
use crate::table::log_format::{Part, Var};

/// Names Portico fills, with their variable.
const KNOWN: &[(&str, Var)] = &[
    ("requestId", Var::RequestId),
    ("extendedRequestId", Var::RequestId),
    ("identity.sourceIp", Var::SourceIp),
    ("identity.userAgent", Var::UserAgent),
    ("httpMethod", Var::HttpMethod),
    ("routeKey", Var::RouteKey),
    ("resourcePath", Var::ResourcePath),
    ("path", Var::Path),
    ("protocol", Var::Protocol),
    ("status", Var::Status),
    ("responseLength", Var::ResponseLength),
    ("responseLatency", Var::ResponseLatency),
    ("responseLatencyUs", Var::ResponseLatencyUs),
    ("integrationLatency", Var::IntegrationLatency),
    ("integration.latency", Var::IntegrationLatency),
    ("integrationLatencyUs", Var::IntegrationLatencyUs),
    ("integrationStatus", Var::IntegrationStatus),
    ("integration.status", Var::IntegrationStatus),
    ("integration.integrationStatus", Var::IntegrationStatus),
    ("integrationErrorMessage", Var::IntegrationErrorMessage),
    ("integration.error", Var::IntegrationErrorMessage),
    ("error.message", Var::ErrorMessage),
    ("error.messageString", Var::ErrorMessageString),
    ("error.responseType", Var::ErrorResponseType),
    ("error.validationErrorString", Var::ValidationErrorString),
    ("requestTime", Var::RequestTime),
    ("requestTimeEpoch", Var::RequestTimeEpoch),
    ("stage", Var::Stage),
    ("apiId", Var::ApiId),
    ("domainName", Var::DomainName),
    ("domainPrefix", Var::DomainPrefix),
    ("traceId", Var::TraceId),
    ("identity.apiKeyId", Var::ApiKeyId),
    ("identity.apiKey", Var::ApiKey),
    ("authorizer.principalId", Var::AuthorizerPrincipal),
    ("identity.userArn", Var::IdentityUserArn),
    ("identity.user", Var::IdentityCaller),
    ("identity.caller", Var::IdentityCaller),
    ("identity.accessKey", Var::IdentityAccessKey),
    ("authorizer.error", Var::AuthorizerError),
    ("connectionId", Var::ConnectionId),
    ("eventType", Var::EventType),
    ("messageId", Var::MessageId),
    ("connectedAt", Var::ConnectedAt),
    ("messageDirection", Var::MessageDirection),
    ("identity.clientCert.clientCertPem", Var::ClientCert(ClientCertField::ClientCertPem)),
    ("identity.clientCert.subjectDN", Var::ClientCert(ClientCertField::SubjectDn)),
    ("identity.clientCert.issuerDN", Var::ClientCert(ClientCertField::IssuerDn)),
    ("identity.clientCert.serialNumber", Var::ClientCert(ClientCertField::SerialNumber)),
    ("identity.clientCert.validity.notBefore", Var::ClientCert(ClientCertField::NotBefore)),
    ("identity.clientCert.validity.notAfter", Var::ClientCert(ClientCertField::NotAfter)),
];

/// AWS access-log variables with no Portico value (rendered `-`).
const MISSING: &[&str] = &[
    "accountId",
    "awsEndpointRequestId",
    "awsEndpointRequestId2",
    "dataProcessed",
    "deploymentId",
    "identity.accountId",
    "identity.cognitoAuthenticationProvider",
    "identity.cognitoAuthenticationType",
    "identity.cognitoIdentityId",
    "identity.cognitoIdentityPoolId",
    "identity.principalOrgId",
    "identity.vpcId",
    "identity.vpceId",
    "integration.requestId",
    "isCanaryRequest",
    "resourceId",
    "wafResponseCode",
    "webaclArn",
    "xrayTraceId",
    "customDomain.basePathMatched",
    "authorizer.integrationLatency",
    "authorizer.integrationStatus",
    "authorizer.latency",
    "authorizer.requestId",
    "authorizer.status",
    "authorize.error",
    "authorize.latency",
    "authorize.status",
    "authenticate.error",
    "authenticate.latency",
    "authenticate.status",
    "waf.error",
    "waf.latency",
    "waf.status",
];

/// AWS's console presets, per API kind (REST APIs log `resourcePath`, HTTP APIs `routeKey`).
pub fn preset(name: &str, rest: bool) -> Option<&'static str> {
    Some(match (name, rest) {
        ("clf", false) => {
            r#"$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod $context.routeKey $context.protocol" $context.status $context.responseLength $context.requestId"#
        }
        ("clf", true) => {
            r#"$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime] "$context.httpMethod $context.resourcePath $context.protocol" $context.status $context.responseLength $context.requestId $context.extendedRequestId"#
        }
        ("json", false) => {
            r#"{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", "requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod","routeKey":"$context.routeKey", "status":"$context.status","protocol":"$context.protocol", "responseLength":"$context.responseLength" }"#
        }
        ("json", true) => {
            r#"{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", "caller":"$context.identity.caller", "user":"$context.identity.user","requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath", "status":"$context.status","protocol":"$context.protocol", "responseLength":"$context.responseLength" }"#
        }
        _ => return None,
    })
}

/// A template that does not compile: the offending name and, maybe, the name meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariable {
    pub name: String,
    pub suggestion: Option<&'static str>,
}

/// Compiles a template. `stage_variable` resolves `$stageVariables.name` at compile time.
pub fn compile(
    template: &str,
    mut stage_variable: impl FnMut(&str) -> Option<String>,
) -> Result<Vec<Part>, UnknownVariable> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        literal.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (family, tail) = if let Some(t) = after.strip_prefix("context.") {
            ("context", t)
        } else if let Some(t) = after.strip_prefix("stageVariables.") {
            ("stageVariables", t)
        } else {
            literal.push('$');
            rest = after;
            continue;
        };
        let len = tail.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'_').count();
        // A sentence may end right after a variable: the dot is text.
        let name = tail[..len].trim_end_matches('.');
        rest = &tail[name.len()..];
        if family == "stageVariables" {
            match stage_variable(name) {
                Some(value) => literal.push_str(&value),
                None => return Err(UnknownVariable { name: format!("$stageVariables.{name}"), suggestion: None }),
            }
            continue;
        }
        let part = context_part(name)?;
        if !literal.is_empty() {
            parts.push(Part::Literal(std::mem::take(&mut literal)));
        }
        parts.push(part);
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(parts)
}

/// The part a `$context.<name>` reference compiles to (`name` without `$context.`).
pub fn context_part(name: &str) -> Result<Part, UnknownVariable> {
    let known = KNOWN.iter().find(|(n, _)| *n == name).map(|&(_, v)| v);
    if let (None, Some(key)) = (known, name.strip_prefix("authorizer."))
        && !MISSING.contains(&name)
        && !key.is_empty()
    {
        return Ok(match key.strip_prefix("claims.") {
            Some(claim) => Part::Claim(claim.to_owned()),
            None => Part::AuthorizerValue(key.to_owned()),
        });
    }
    match known.or_else(|| MISSING.contains(&name).then_some(Var::Missing)) {
        Some(var) => Ok(Part::Var(var)),
        None => {
            let names: Vec<&'static str> = KNOWN.iter().map(|(n, _)| *n).chain(MISSING.iter().copied()).collect();
            let suggestion = super::diagnostic::did_you_mean(name, &names);
            Err(UnknownVariable { name: format!("$context.{name}"), suggestion })
        }
    }
}

/// Whether values must be JSON-escaped: the template is a JSON object.
pub fn is_json(parts: &[Part]) -> bool {
    matches!(parts.first(), Some(Part::Literal(l)) if l.trim_start().starts_with('{'))
}
