//! Golden tests for config errors: each bad config, the messages and positions it must produce.

use super::*;

fn errors(src: &str) -> Vec<Diagnostic> {
    compile_str("test.toml", src).expect_err("config should be rejected")
}

fn ok(src: &str) -> Table {
    compile_str("test.toml", src)
        .unwrap_or_else(|es| panic!("{}", es.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")))
}

const MINIMAL: &str = r#"
[[api]]
name = "a"
[[api.stage]]
name = "prod"
variables = { backend = "127.0.0.1:9000" }
[[api.route]]
key = "GET /pets/{id}"
integration = { type = "http_proxy", uri = "http://${stageVariables.backend}/pets/{id}" }
"#;

#[test]
fn quickstart_compiles() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/configs/quickstart.toml")).unwrap();
    let table = compile_str("quickstart.toml", &src).unwrap();
    assert_eq!(table.apis.len(), 2);
    assert_eq!(table.listeners.len(), 2);
    assert_eq!(table.upstreams, [crate::table::Upstream { host: "127.0.0.1".into(), port: 9000, tls: false }]);
}

#[test]
fn defaults_and_substitution() {
    let t = ok(MINIMAL);
    assert_eq!(t.settings.limits.max_body_bytes, 10 * 1024 * 1024);
    let crate::table::Integration::HttpProxy(p) = &t.apis[0].stages[0].integrations[0] else { panic!() };
    assert_eq!(p.uri, "http://127.0.0.1:9000/pets/{id}");
    assert_eq!(p.timeout_ms, 29_000);
}

#[test]
fn reports_every_error_in_one_pass_with_positions() {
    let src = r#"
[server]
listen = ["nonsense"]
wokers = 2

[[api]]
name = "a"
protocol = "soap"
[[api.stage]]
name = "prod"
[[api.route]]
key = "FETCH /x"
integration = { type = "mock" }
[[api.route]]
key = "GET /y"
integration = { type = "http_proxy", uri = "http://h/y", timout_ms = 5 }
"#;
    let es = errors(src);
    let found: Vec<(usize, usize, &str)> = es.iter().map(|e| (e.line, e.column, e.message.as_str())).collect();
    assert_eq!(
        found,
        [
            (3, 11, "`nonsense` is not an address and port"),
            (4, 1, "unknown key `wokers` in [server]"),
            (8, 12, "unknown protocol `soap`"),
            (12, 7, "`FETCH` is not a route method"),
            (16, 58, "unknown key `timout_ms` in the integration"),
        ]
    );
    assert_eq!(es[1].hint.as_deref(), Some("did you mean `workers`?"));
    assert_eq!(es[4].hint.as_deref(), Some("did you mean `timeout_ms`?"));
}

#[test]
fn missing_stage_variable_names_the_stage() {
    let src = MINIMAL.replace("variables = { backend = \"127.0.0.1:9000\" }", "");
    let es = errors(&src);
    assert_eq!(es.len(), 1);
    assert_eq!(es[0].message, "stage `prod` has no variable `backend`");
    assert_eq!(es[0].line, 9);
}

#[test]
fn validation_and_compile_errors_come_in_one_pass() {
    let src = r#"
[server]
workers = "many"
[[api]]
name = "a"
[[api.stage]]
name = "prod"
variables = { backend = "127.0.0.1:9000" }
[[api.route]]
key = "GET /pets/{id}"
integration = { type = "http_proxy", uri = "http://${stageVariables.backnd}/pets/{id}" }
[[api.route]]
key = "GET /pets/{x}"
integration = { type = "mock" }
"#;
    let es = errors(src);
    let messages: Vec<&str> = es.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`workers` must be \"auto\" or a number of workers from 1 to 1024",
            "stage `prod` has no variable `backnd`",
            "route `GET /pets/{x}` has the same method and path as `GET /pets/{id}`",
        ]
    );
    assert_eq!(es[1].hint.as_deref(), Some("did you mean `backend`?"));
}

#[test]
fn unreadable_file_has_no_position() {
    let es = compile_file(std::path::Path::new("/nonexistent/portico.toml")).unwrap_err();
    assert_eq!(
        es[0].to_string(),
        "error: cannot read the config: No such file or directory (os error 2)\n --> /nonexistent/portico.toml"
    );
}

#[test]
fn conflicting_and_invalid_routes() {
    let src = r#"
[[api]]
name = "a"
protocol = "rest"
[[api.stage]]
name = "p"
[[api.route]]
key = "GET /a/{x}"
integration = { type = "mock" }
[[api.route]]
key = "GET /a/{y}"
integration = { type = "mock" }
[[api.route]]
key = "$default"
integration = { type = "mock" }
[[api.route]]
key = "GET /b"
integration = { type = "http_proxy", uri = "http://h/{id}" }
"#;
    let messages: Vec<String> = errors(src).into_iter().map(|e| e.message).collect();
    assert!(messages.contains(&"REST APIs have no `$default` route".to_owned()), "{messages:?}");
    assert!(messages.contains(&"the URI uses `{id}`, which the route key does not capture".to_owned()), "{messages:?}");
}

#[test]
fn route_conflicts_are_compile_errors() {
    let src = r#"
[[api]]
name = "a"
[[api.stage]]
name = "p"
[[api.route]]
key = "GET /a/{x}"
integration = { type = "mock" }
[[api.route]]
key = "GET /a/{y}"
integration = { type = "mock" }
"#;
    let es = errors(src);
    assert_eq!(es[0].message, "route `GET /a/{y}` has the same method and path as `GET /a/{x}`");
    assert_eq!(es[0].line, 10);
}

#[test]
fn structural_errors() {
    for (src, want) in [
        ("x = 1\n[[api]]\nname='a'\n", "unknown key `x` in the config"),
        (
            "[[api]]\nname = 'a'\n[[api.route]]\nkey = 'GET /'\nintegration = { type = 'mock' }\n",
            "this API has no stage",
        ),
        (
            "[server]\nworkers = 0\n[[api]]\nname='a'\n",
            "`workers` must be \"auto\" or a number of workers from 1 to 1024",
        ),
        ("[limits]\nmax_header_count = 100000\n", "`max_header_count` = 100000 is out of range"),
        ("[[api]]\nname = 'a'\n[[api]]\nname = 'a'\n", "two APIs are named `a`"),
        ("not toml", "invalid TOML"),
        ("", "the config defines no API"),
    ] {
        let es = errors(src);
        assert!(
            es.iter().any(|e| e.message.starts_with(want)),
            "{src:?}: {:?}",
            es.iter().map(|e| &e.message).collect::<Vec<_>>()
        );
    }
}

#[test]
fn domains_map_base_paths() {
    let src = format!(
        "{MINIMAL}\n[[domain]]\nname = \"API.example.com\"\n[[domain.mapping]]\nbase_path = \"v1\"\napi = \"a\"\nstage = \"prod\"\n[[domain.mapping]]\napi = \"a\"\nstage = \"prod\"\n"
    );
    let t = ok(&src);
    assert_eq!(t.domains[0].name, "api.example.com");
    assert_eq!(t.domains[0].mappings[0].base_path, ["v1"], "longest base path first");
    let bad = src.replace("stage = \"prod\"\n[[domain.mapping]]", "stage = \"nope\"\n[[domain.mapping]]");
    assert_eq!(errors(&bad)[0].message, "API `a` has no stage `nope`");
}

#[test]
fn observability_settings_and_their_errors() {
    let src = format!(
        "[admin]\nlisten = \"0.0.0.0:9901\"\n\n{}access_log = {{ destination = \"stdout\", format = \"$context.requestID $context.status\" }}\n",
        MINIMAL.replace("[[api.route]]", "").replace("key = \"GET /pets/{id}\"\nintegration = { type = \"http_proxy\", uri = \"http://${stageVariables.backend}/pets/{id}\" }\n", "")
    );
    let src = format!("{src}[[api.route]]\nkey = \"GET /x\"\nintegration = {{ type = \"mock\" }}\n");
    let es = errors(&src);
    let texts: Vec<String> = es.iter().map(ToString::to_string).collect();
    assert!(
        texts.iter().any(|t| t.contains("test.toml:2:10")
            && t.contains("not a loopback address")
            && t.contains("allow_remote")),
        "{texts:#?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("unknown access log variable `$context.requestID`")
            && t.contains("did you mean `$context.requestId`?")),
        "{texts:#?}"
    );

    // An admin listener open to the network needs a token (issue 11).
    let token = std::env::temp_dir().join(format!("portico-admin-token-{}", std::process::id()));
    std::fs::write(&token, "0123456789abcdef-token\n").unwrap();
    let good = src.replace("requestID", "requestId").replace(
        "listen = \"0.0.0.0:9901\"",
        &format!("listen = \"0.0.0.0:9901\"\nallow_remote = true\ntoken_file = \"{}\"", token.display()),
    );
    let t = ok(&good);
    assert_eq!(t.settings.admin.as_ref().and_then(|a| a.token.as_deref()), Some("0123456789abcdef-token"));
    assert_eq!(t.settings.admin.as_ref().map(|a| a.addr.port()), Some(9901));
    let log = t.apis[0].stages[0].access_log.as_ref().expect("stage log");
    assert_eq!(&*log.destination, "stdout");
    assert!(!log.json);
    assert_eq!(t.settings.access_log.buffer_bytes, 256 * 1024);
    // Presets follow the API kind: HTTP APIs log the route key.
    let preset = ok(&good.replace("$context.requestId $context.status", "json"));
    let parts = &preset.apis[0].stages[0].access_log.as_ref().unwrap().format;
    assert!(parts.contains(&crate::table::log_format::Part::Var(crate::table::log_format::Var::RouteKey)));
}

#[test]
fn apis_and_domains_can_have_their_own_tls_listeners_but_an_address_is_one_or_the_other() {
    let base = "[tls]\ndefault_certificate = { cert = \"/nonexistent/c.pem\", key = \"/nonexistent/k.pem\" }\n[[api]]\nname = \"a\"\nlisten_tls = [\"127.0.0.1:8443\"]\n[[api.stage]]\nname = \"$default\"\n[[api.route]]\nkey = \"GET /\"\nintegration = { type = \"mock\" }\n";
    let t = ok(base);
    assert_eq!(t.listeners.len(), 1);
    assert!(t.listeners[0].tls && t.listeners[0].addr.port() == 8443);
    assert!(t.tls.is_some());
    let mixed = base.replace(
        "listen_tls = [\"127.0.0.1:8443\"]",
        "listen_tls = [\"127.0.0.1:8443\"]\nlisten = [\"127.0.0.1:8443\"]",
    );
    let es = errors(&mixed);
    assert!(es.iter().any(|e| e.to_string().contains("both as a plain listener")), "{es:?}");
}

#[test]
fn cluster_settings_and_their_errors() {
    let base = "[[api]]\nname = \"a\"\nprotocol = \"rest\"\n[[api.stage]]\nname = \"s\"\n[[api.route]]\nkey = \"GET /\"\napi_key_required = true\nintegration = { type = \"mock\" }\n[[api_key]]\nname = \"k\"\nvalue = \"0123456789abcdefghij\"\n[[usage_plan]]\nname = \"p\"\napi_stages = [{ api = \"a\", stage = \"s\" }]\nkeys = [\"k\"]\nquota = { limit = 5, period = \"DAY\" }\n";
    let t = ok(&format!("[cluster]\nredis = \"redis://:pw@127.0.0.1:6379/2\"\n{base}on_redis_failure = \"closed\"\n"));
    let cluster = t.settings.cluster.as_ref().expect("cluster");
    assert_eq!((cluster.prefix.as_str(), cluster.timeout_ms), ("portico", 250));
    assert_eq!(t.usage_plans[0].on_redis_failure, crate::table::FailureMode::Closed);
    assert!(ok(base).settings.cluster.is_none());
    assert_eq!(ok(base).usage_plans[0].on_redis_failure, crate::table::FailureMode::Open, "open by default");

    let texts = |src: String| errors(&src).iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    let t = texts(format!("[cluster]\nredis = \"rediss://h:1\"\n{base}"));
    assert!(t.contains("test.toml:2:9") && t.contains("only redis:// URLs"), "{t}");
    let t = texts(format!("[cluster]\nredis_env = \"PORTICO_TEST_UNSET_REDIS_URL\"\n{base}"));
    assert!(t.contains("`PORTICO_TEST_UNSET_REDIS_URL` is not set"), "{t}");
    let t = texts(format!("[cluster]\nprefix = \"x\"\n{base}"));
    assert!(t.contains("[cluster] needs `redis`"), "{t}");
    let t = texts(base.replace("name = \"s\"\n", "name = \"s\"\nthrottle = { rate = 1, burst = 1, global = true }\n"));
    assert!(t.contains("test.toml:6:44") && t.contains("`global` limits need a Redis"), "{t}");
    let t = texts(format!("{base}global_rate = true\nrate = 1\nburst = 1\n[cluster]\nredis = \"rediss://x:1\"\n"));
    assert!(!t.contains("`global` limits need"), "an invalid [cluster] has its own error: {t}");
    let t = texts(format!("{base}on_redis_failure = \"maybe\"\n"));
    assert!(t.contains("unknown `on_redis_failure` = \"maybe\"") && t.contains("\"open\" or \"closed\""), "{t}");
}

#[test]
fn the_fleet_example_compiles() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/configs/fleet.toml")).unwrap();
    // The example reads its key from the environment, as a deployment would.
    let src = src.replace("value_env = \"PARTNER_KEY\"", "value = \"partner-key-0123456789abcdef\"");
    let table = compile_str("fleet.toml", &src).unwrap();
    assert!(table.settings.cluster.is_some());
    // Without its variable, the key's one error, not a second one from the plan that names it.
    let raw = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/configs/fleet.toml")).unwrap();
    let unset = raw.replace("PARTNER_KEY", "PORTICO_TEST_UNSET_PARTNER_KEY");
    let es = errors(&unset);
    assert_eq!(es.len(), 1, "{es:#?}");
    assert!(es[0].to_string().contains("`PORTICO_TEST_UNSET_PARTNER_KEY` is not set"));
    assert!(table.usage_plans[0].throttle.as_ref().is_some_and(|t| t.global));
    assert!(table.apis[0].stages[0].throttle.as_ref().is_some_and(|t| t.global));
}

#[test]
fn path_rules_trusted_proxies_and_their_errors() {
    use crate::http::path::{EscapedSlashes, PathRules};
    let t = ok(MINIMAL);
    assert_eq!(t.settings.paths, PathRules::default());
    assert_eq!(t.apis[0].paths, PathRules::default());
    assert!(t.settings.trusted_proxies.is_empty());
    let src = format!(
        "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\", \"::1\"]\n[paths]\nmerge_slashes = false\n{}",
        MINIMAL.replace("name = \"a\"\n", "name = \"a\"\npaths = { escaped_slashes = \"keep\" }\n")
    );
    let t = ok(&src);
    assert!(!t.settings.paths.merge_slashes);
    let api = t.apis[0].paths;
    assert_eq!(
        (api.merge_slashes, api.escaped_slashes),
        (false, EscapedSlashes::Keep),
        "an API's rules start from [paths]"
    );
    assert_eq!(t.settings.trusted_proxies.len(), 3);
    for (bad, want) in [
        ("[paths]\nescaped_slashes = \"maybe\"\n", "unknown `escaped_slashes` value `maybe`"),
        ("[paths]\nmerge = true\n", "unknown key `merge`"),
        ("[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n", "`10.0.0.0/33` is not an IP address or network"),
        ("[server]\ntrusted_proxies = [\"lb.example\"]\n", "`lb.example` is not an IP address or network"),
    ] {
        let es = errors(&format!("{bad}{MINIMAL}"));
        assert!(
            es.iter().any(|e| e.message.starts_with(want)),
            "{bad:?}: {:?}",
            es.iter().map(|e| &e.message).collect::<Vec<_>>()
        );
    }
}

#[test]
fn the_gateway_wide_limit_is_off_unless_configured() {
    assert!(ok(MINIMAL).settings.throttle.is_none());
    let t = ok(&format!("[throttle]\n{MINIMAL}"));
    assert_eq!(
        t.settings.throttle.as_ref().map(|s| (s.rate, s.burst)),
        Some((10_000.0, 5_000)),
        "AWS's numbers as defaults"
    );
}

#[test]
fn a_route_ttl_over_the_cap_is_refused_like_a_stage_ttl() {
    let cached = MINIMAL.replace("variables = {", "cache = { ttl_s = 60 }\nvariables = {");
    let route = |ttl: &str| format!("{cached}cache = {{ ttl_s = {ttl} }}\n");
    let es = errors(&route("7200"));
    assert!(es[0].message.starts_with("cache `ttl_s` = 7200 is over 3600 s"), "{:?}", es[0].message);
    assert_eq!(es[0].line, 11, "pointed at the route's ttl_s");
    assert_eq!(ok(&route("3600")).apis[0].stages[0].route_caches[0].as_ref().map(|c| c.ttl_ms), Some(3_600_000));
    let uncapped = route("7200").replace("cache = { ttl_s = 60 }", "cache = { ttl_s = 60, ttl_uncapped = true }");
    assert_eq!(ok(&uncapped).apis[0].stages[0].route_caches[0].as_ref().map(|c| c.ttl_ms), Some(7_200_000));
    let stage = MINIMAL.replace("variables = {", "cache = { ttl_s = 7200 }\nvariables = {");
    assert!(errors(&stage)[0].message.contains("out of range"));
}

#[test]
fn the_quota_state_file_defaults_outside_the_config_folder() {
    let src = format!(
        "{MINIMAL}[[api_key]]\nname = \"k\"\nvalue = \"key-0123456789abcdefghij\"\n[[usage_plan]]\nname = \"p\"\napi_stages = [{{ api = \"a\", stage = \"prod\" }}]\nkeys = [\"k\"]\nquota = {{ limit = 5, period = \"DAY\" }}\n"
    );
    let t = compile_str("/srv/repo/configs/shop.toml", &src).unwrap();
    let state = t.quota_state_file.unwrap();
    assert!(!state.starts_with("/srv/repo"), "{state}");
    assert!(state.contains("/shop-") && state.ends_with("-quota-state.json"), "{state}");
    let other = compile_str("/srv/other/shop.toml", &src).unwrap().quota_state_file.unwrap();
    assert_ne!(state, other, "two configs never share a state file");
}

/// Regression (issue 11): `GET /café` was reported as "the character `Ã`" (a byte shown as Latin-1).
#[test]
fn messages_show_characters_not_bytes() {
    let src = MINIMAL
        .replace("GET /pets/{id}\"\nintegration", "GET /café\"\nintegration")
        .replace("/pets/{id}\" }", "/x\" }");
    let es = errors(&src);
    assert!(
        es.iter().any(|e| e.message.contains("has the character `é`")),
        "{:?}",
        es.iter().map(|e| &e.message).collect::<Vec<_>>()
    );
    let src = MINIMAL.replace("/pets/{id}\" }", "/pëts/{id}\" }");
    let es = errors(&src);
    assert!(
        es.iter().any(|e| e.message.contains("the character 'ë'")),
        "{:?}",
        es.iter().map(|e| &e.message).collect::<Vec<_>>()
    );
}
