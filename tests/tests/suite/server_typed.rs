//! The homeserver builds what it answers from the generated types: `json!`
//! appears in its handlers only where the spec itself leaves a value
//! free-form, and each such place is listed here with the reason.

use matrix_api_tests::workspace_root;
use std::collections::BTreeMap;

/// Files under `server/src/api/` and how many `json!` each may hold
/// outside its tests, with why the value is free-form.
const ALLOWED: &[(&str, usize, &str)] = &[(
    "mod.rs",
    1,
    "push rules match dot-paths into the whole event, whatever its content, whose JSON the spec leaves free-form",
)];

/// The text of a source file before its `#[cfg(test)]` module.
fn without_tests(text: &str) -> &str {
    text.find("\n#[cfg(test)]").map_or(text, |at| &text[..at])
}

#[test]
fn handlers_use_typed_values_not_json_macros() {
    let dir = workspace_root().join("server/src/api");
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            let count = without_tests(&text).matches("json!").count();
            if count > 0 {
                found.insert(path.file_name().unwrap().to_string_lossy().into_owned(), count);
            }
        }
    }
    let allowed: BTreeMap<String, usize> = ALLOWED.iter().map(|(f, n, _)| ((*f).to_owned(), *n)).collect();
    println!("json! in server/src/api outside tests: {found:?}");
    assert_eq!(
        found, allowed,
        "json! outside the listed free-form places: build the value from its generated type"
    );
}
