//! Non-ASCII text: access log lines keep the characters a client sent (invalid bytes become
//! U+FFFD, line breaks stay escaped), and `portico check` names characters, not bytes.

use std::time::Duration;

use crate::support::*;

#[test]
fn json_access_log_lines_keep_non_ascii_characters() {
    let dir = temp_path("text");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("access.json");
    let config = format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1
[[api]]
name = "a"
[[api.stage]]
name = "$default"
access_log = {{ destination = "{}", format = '{{"ua":"$context.identity.userAgent","path":"$context.path"}}' }}
[[api.route]]
key = "ANY /{{proxy+}}"
integration = {{ type = "mock", body = "ok" }}
"#,
        log.display()
    );
    let mut gw = Gateway::start(&config, Driver::Uring);
    let agents: [(&[u8], &str); 4] = [
        (b"caf\xc3\xa9", "café"),
        (b"\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80", "日本 🚀"),
        (b"half \xc3 \xff", "half \u{fffd} \u{fffd}"),
        (b"sep \xe2\x80\xa8 nel \xc2\x85", "sep \u{2028} nel \u{85}"),
    ];
    for (agent, _) in agents {
        let raw = [&b"GET /x HTTP/1.1\r\nHost: a\r\nUser-Agent: "[..], agent, b"\r\n\r\n"].concat();
        assert_eq!(gw.send(&raw).status, 200);
    }
    gw.signal(libc::SIGTERM);
    assert_eq!(gw.wait_exit(Duration::from_secs(10)), Some(0));
    let text = std::fs::read_to_string(&log).expect("the log is UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), agents.len(), "{text}");
    for (line, (_, want)) in lines.iter().zip(agents) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(v["ua"], want, "{line}");
        assert!(!line.contains("\\u00c3"), "bytes were escaped one by one: {line}");
    }
}

#[test]
fn check_names_the_character_it_refuses() {
    let config = "[[api]]\nname = \"a\"\n[[api.stage]]\nname = \"prod\"\n[[api.route]]\nkey = \"GET /café\"\nintegration = { type = \"mock\" }\n";
    let (ok, err) = check(config);
    assert!(!ok);
    assert!(err.contains("the character `é`"), "{err}");
    assert!(!err.contains('Ã'), "{err}");
}
