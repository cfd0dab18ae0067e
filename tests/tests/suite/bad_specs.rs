//! Broken specs give one clear error naming the file and the JSON pointer,
//! never a panic. (The CLI side — exit status, `generated/` untouched — is
//! in `xtask/tests/cli.rs`.)

use matrix_api_tests::workspace_root;

fn error_for(fixture: &str) -> String {
    let dir = workspace_root().join("tests/fixtures/bad").join(fixture);
    match matrix_codegen::load_spec(&dir) {
        Ok(_) => panic!("{fixture} loaded without error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_ref_target_names_file_and_pointer() {
    let e = error_for("missing-ref");
    assert_eq!(
        e,
        "api/client-server/thing.yaml#/paths/~1thing/get/responses/200/content/application~1json/schema: \
         $ref `definitions/nowhere.yaml`: file `api/client-server/definitions/nowhere.yaml` does not exist"
    );
}

#[test]
fn yaml_syntax_error_names_file_and_position() {
    let e = error_for("yaml-syntax");
    assert!(e.starts_with("api/client-server/thing.yaml#: invalid YAML: "), "{e}");
    assert!(e.contains("line 8"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn ref_cycle_is_detected() {
    let e = error_for("ref-cycle");
    assert!(e.contains("api/client-server/definitions/"), "{e}");
    assert!(e.contains("cycle"), "{e}");
}

#[test]
fn unknown_type_names_the_node() {
    let e = error_for("unknown-type");
    assert_eq!(
        e,
        "api/client-server/thing.yaml#/paths/~1thing/get/responses/200/content/application~1json/schema/properties/size/type: \
         unknown type `bigint`"
    );
}

/// A property that both an `allOf` parent and the child declare is merged
/// into a new schema at every level, so a cycle through it never revisits a
/// location; it must still end in an error, not a stack overflow.
#[test]
fn cycle_through_merged_allof_property_is_an_error() {
    let e = error_for("merged-allof-cycle");
    assert!(
        e.starts_with("api/client-server/definitions/rate_limited.yaml#/allOf/1/properties/error/"),
        "{e}"
    );
    assert!(e.contains("cycle"), "{e}");
}
