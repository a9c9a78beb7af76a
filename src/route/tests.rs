use super::*;
use crate::route::key;

fn router(keys: &[&str], rest: bool) -> Router {
    let routes: Vec<Route> = keys
        .iter()
        .map(|k| {
            let (parsed, params) = key::parse(k).unwrap();
            Route { key: k.to_string(), parsed, params }
        })
        .collect();
    Router::build(&routes, rest).unwrap()
}

fn find<'a>(r: &Router, keys: &[&'a str], method: Method, path: &str) -> Option<(&'a str, Vec<String>)> {
    r.find(method, path.as_bytes()).map(|m| {
        let caps = m.captures.iter().map(|&(s, e)| path[s as usize..e as usize].to_string()).collect();
        (keys[m.route as usize], caps)
    })
}

/// The worked example from AWS's "Working with routes for HTTP APIs".
#[test]
fn aws_priority_example() {
    let keys = ["GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default"];
    let r = router(&keys, false);
    assert_eq!(find(&r, &keys, Method::Get, "/pets/dog/1").unwrap().0, "GET /pets/dog/1");
    assert_eq!(find(&r, &keys, Method::Get, "/pets/dog/2"), Some(("GET /pets/dog/{id}", vec!["2".into()])));
    assert_eq!(find(&r, &keys, Method::Get, "/pets/cat/1"), Some(("GET /pets/{proxy+}", vec!["cat/1".into()])));
    assert_eq!(find(&r, &keys, Method::Post, "/pets/dog/1"), Some(("ANY /{proxy+}", vec!["pets/dog/1".into()])));
    assert_eq!(find(&r, &keys, Method::Get, "/").unwrap().0, "$default");
}

#[test]
fn concrete_method_beats_any_on_same_path() {
    let keys = ["ANY /pets", "GET /pets"];
    let r = router(&keys, false);
    assert_eq!(find(&r, &keys, Method::Get, "/pets").unwrap().0, "GET /pets");
    assert_eq!(find(&r, &keys, Method::Delete, "/pets").unwrap().0, "ANY /pets");
    assert_eq!(find(&r, &keys, Method::Other, "/pets"), None, "ANY covers only AWS's seven methods");
}

#[test]
fn backtracks_from_literal_to_param() {
    let keys = ["GET /a/b/c", "GET /a/{x}/d"];
    let r = router(&keys, false);
    assert_eq!(find(&r, &keys, Method::Get, "/a/b/d"), Some(("GET /a/{x}/d", vec!["b".into()])));
    assert_eq!(find(&r, &keys, Method::Get, "/a/b/e"), None);
}

#[test]
fn wrong_method_falls_through_to_less_specific_path() {
    let keys = ["POST /pets/{id}", "GET /{proxy+}"];
    let r = router(&keys, false);
    assert_eq!(find(&r, &keys, Method::Get, "/pets/1").unwrap().0, "GET /{proxy+}");
}

#[test]
fn greedy_needs_at_least_one_character() {
    let keys = ["ANY /{proxy+}"];
    let r = router(&keys, false);
    assert_eq!(find(&r, &keys, Method::Get, "/"), None);
    assert_eq!(find(&r, &keys, Method::Get, "/x"), Some(("ANY /{proxy+}", vec!["x".into()])));
    assert_eq!(find(&r, &keys, Method::Get, "/a/b/"), Some(("ANY /{proxy+}", vec!["a/b/".into()])));
}

#[test]
fn trailing_slash_only_ignored_for_rest() {
    let keys = ["GET /pets"];
    assert!(find(&router(&keys, true), &keys, Method::Get, "/pets/").is_some());
    assert!(find(&router(&keys, false), &keys, Method::Get, "/pets/").is_none());
}

#[test]
fn root_route_and_empty_segments() {
    let keys = ["GET /", "GET /{id}"];
    let r = router(&keys, false);
    assert_eq!(find(&r, &keys, Method::Get, "/").unwrap().0, "GET /");
    assert_eq!(find(&r, &keys, Method::Get, "//"), None, "an empty segment is no parameter value");
}

#[test]
fn duplicate_routes_conflict() {
    let routes: Vec<Route> = ["GET /a/{x}", "GET /a/{y}"]
        .iter()
        .map(|k| {
            let (parsed, params) = key::parse(k).unwrap();
            Route { key: k.to_string(), parsed, params }
        })
        .collect();
    assert_eq!(Router::build(&routes, false).unwrap_err(), Conflict { first: 0, second: 1 });
}

#[test]
fn many_literal_siblings() {
    let owned: Vec<String> = (0..1000).map(|i| format!("GET /r{i}/{{id}}")).collect();
    let keys: Vec<&str> = owned.iter().map(String::as_str).collect();
    let r = router(&keys, false);
    for i in [0, 1, 499, 999] {
        let path = format!("/r{i}/abc");
        assert_eq!(find(&r, &keys, Method::Get, &path).unwrap().0, keys[i]);
    }
    assert!(find(&r, &keys, Method::Get, "/r1000/abc").is_none());
}
