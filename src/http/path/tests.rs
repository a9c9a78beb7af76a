use super::*;

fn norm(path: &str, rules: &PathRules) -> Result<String, &'static str> {
    match normalize(path.as_bytes(), rules)? {
        Normal::Unchanged => Ok(path.to_owned()),
        Normal::Changed(v) => Ok(String::from_utf8(v).unwrap()),
    }
}

fn strict(path: &str) -> Result<String, &'static str> {
    norm(path, &PathRules::default())
}

#[test]
fn normal_paths_are_unchanged_without_allocating() {
    for p in ["/", "/pets", "/pets/7", "/a/b/", "/.well-known/x", "/a.b/c..d", "/a-b_c~d/e!$&'()*+,=:@"] {
        assert_eq!(normalize(p.as_bytes(), &PathRules::default()), Ok(Normal::Unchanged), "{p}");
    }
}

#[test]
fn dot_segments() {
    assert_eq!(strict("/public/../admin").unwrap(), "/admin");
    assert_eq!(strict("/a/./b").unwrap(), "/a/b");
    assert_eq!(strict("/a/b/..").unwrap(), "/a/");
    assert_eq!(strict("/a/.").unwrap(), "/a/");
    assert_eq!(strict("/a/b/../../c").unwrap(), "/c");
    assert_eq!(strict("/a/..").unwrap(), "/");
    assert_eq!(strict("/.").unwrap(), "/");
    for climbs in ["/..", "/../admin", "/a/../../b", "/%2e%2e/x", "/.%2E/x", "/a/%2e%2e/%2E%2E/x"] {
        assert!(strict(climbs).is_err(), "{climbs}");
    }
}

#[test]
fn encoded_dots_and_unreserved_are_decoded_first() {
    assert_eq!(strict("/public/%2e%2e/admin").unwrap(), "/admin");
    assert_eq!(strict("/public/%2E./admin").unwrap(), "/admin");
    assert_eq!(strict("/public/.%2e/admin").unwrap(), "/admin");
    assert_eq!(strict("/%61dmin").unwrap(), "/admin");
    assert_eq!(strict("/%7Euser/%2D%5F").unwrap(), "/~user/-_");
    // Reserved and other characters stay encoded, in upper case.
    assert_eq!(strict("/a%20b/%3f/%3B/%25").unwrap(), "/a%20b/%3F/%3B/%25");
}

#[test]
fn slashes_merge_unless_turned_off() {
    assert_eq!(strict("//admin").unwrap(), "/admin");
    assert_eq!(strict("/a//b///c/").unwrap(), "/a/b/c/");
    assert_eq!(strict("//").unwrap(), "/");
    assert_eq!(strict("/a//../b").unwrap(), "/b");
    let keep = PathRules { merge_slashes: false, ..PathRules::default() };
    assert_eq!(norm("/a//b", &keep).unwrap(), "/a//b");
    assert_eq!(norm("//admin", &keep).unwrap(), "//admin");
    assert_eq!(norm("/a//../b", &keep).unwrap(), "/a/b");
    assert_eq!(norm("/a/", &keep).unwrap(), "/a/");
}

#[test]
fn invalid_escapes_and_nul_are_refused() {
    for bad in ["/%", "/a%2", "/a%zz", "/a%2g/b", "/%00", "/a%00b", "/%%41"] {
        assert!(strict(bad).is_err(), "{bad}");
    }
    assert!(check_escapes(b"a=%41&b=%zz").is_err());
    assert!(check_escapes(b"a=%4").is_err());
    assert!(check_escapes(b"a=%41&b=c%20d").is_ok());
}

#[test]
fn encoded_slashes_follow_the_rule() {
    for p in ["/a%2Fb", "/a%2fb", "/a%5Cb", "/a%5cb"] {
        assert!(strict(p).is_err(), "{p}");
    }
    let keep = PathRules { escaped_slashes: EscapedSlashes::Keep, ..PathRules::default() };
    assert_eq!(norm("/a%2fb", &keep).unwrap(), "/a%2Fb");
    assert_eq!(norm("/a%5cb", &keep).unwrap(), "/a%5Cb");
    for hides in ["/x/..%2Fadmin", "/x/a%2F..", "/x/.%2fy", "/x/%2E%2E%2Fadmin", "/x/..%5Cadmin"] {
        assert!(norm(hides, &keep).is_err(), "{hides}");
    }
    let decode = PathRules { escaped_slashes: EscapedSlashes::Decode, ..PathRules::default() };
    assert_eq!(norm("/a%2Fb", &decode).unwrap(), "/a/b");
    assert_eq!(norm("/public/..%2Fadmin", &decode).unwrap(), "/admin");
    assert_eq!(norm("/a%5Cb", &decode).unwrap(), "/a/b");
    assert!(norm("/..%2Fadmin", &decode).is_err());
}

#[test]
fn backslashes_and_semicolons() {
    assert!(strict("/public\\..\\admin").is_err());
    assert!(strict("/admin;jsessionid=1").is_err());
    assert!(strict("/public/..;/admin").is_err());
    let semi = PathRules { allow_semicolons: true, ..PathRules::default() };
    assert_eq!(norm("/a;v=1/b", &semi).unwrap(), "/a;v=1/b");
    // `..;` is not a dot segment (RFC 3986), so it stays a segment of its own.
    assert_eq!(norm("/public/..;/admin", &semi).unwrap(), "/public/..;/admin");
}

#[test]
fn normalising_is_idempotent() {
    let rules = [
        PathRules::default(),
        PathRules { merge_slashes: false, escaped_slashes: EscapedSlashes::Keep, allow_semicolons: true },
        PathRules { merge_slashes: true, escaped_slashes: EscapedSlashes::Decode, allow_semicolons: false },
    ];
    let corpus = ["/a/./b/../c//d/", "/%41%2e/./%7e", "/x%2Fy/z", "//a//b//", "/a;b/..", "/a/b/%2E"];
    for r in &rules {
        for p in corpus {
            if let Ok(once) = norm(p, r) {
                assert_eq!(norm(&once, r).unwrap(), once, "{p} under {r:?}");
            }
        }
    }
}
