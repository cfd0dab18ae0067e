//! One Rust type per spec schema: a `$ref` whose siblings do not change the
//! shape reuses the referenced type, and inline copies of a schema (same
//! shape, same documentation) are one type.

use matrix_api_tests::release_dir;
use matrix_codegen::ir::{Api, Ty, TypeKind};

fn field_ty<'a>(api: &'a Api, type_name: &str, field: &str) -> &'a Ty {
    let def = api
        .types
        .iter()
        .find(|t| t.name == type_name)
        .unwrap_or_else(|| panic!("no type {type_name}"));
    let TypeKind::Struct { fields, .. } = &def.kind else {
        panic!("{type_name} is not a struct")
    };
    &fields
        .iter()
        .find(|f| f.wire_name == field)
        .unwrap_or_else(|| panic!("{type_name} has no {field}"))
        .ty
}

fn named(api: &Api, ty: &Ty) -> String {
    match ty.strip_nullable() {
        Ty::Named(id) => api.types[*id].name.clone(),
        Ty::Array(inner) => format!("[{}]", named(api, inner)),
        other => format!("{other:?}"),
    }
}

#[test]
fn v1_19_has_no_copies_and_search_results_are_client_events() {
    let api = matrix_codegen::load_spec(&release_dir("v1.19")).unwrap().api;
    let stats = matrix_codegen::stats::stats(&api, "v1.19");
    assert_eq!(
        stats.types.copies, 0,
        "copies left: {:?}",
        stats.types.same_shape_groups
    );
    // `events_before`/`events_after` items are `{title, type: object, $ref: client_event.yaml}`.
    for field in ["events_before", "events_after"] {
        assert_eq!(
            named(&api, field_ty(&api, "EventContext", field)),
            "[ClientEvent]",
            "{field}"
        );
    }
    // The names that came from copying are gone; the longest name was 82 characters.
    assert!(api
        .types
        .iter()
        .all(|t| !t.name.starts_with("SearchResponseSearchCategories")));
    assert!(stats.types.longest_name.len() <= 62, "{}", stats.types.longest_name);
    // Seven operations took a copy of the push rule kind enum: one type now.
    let kinds: Vec<&str> = api
        .types
        .iter()
        .filter(|t| t.name.ends_with("PushRuleKind") || t.name.ends_with("PushRuleEnabledKind"))
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(kinds.len(), 1, "{kinds:?}");
}

/// Same shape, other documentation: one definition, both names (a kick and
/// a ban both take `{user_id, reason}`; the second is an alias of the first
/// with its own docs). Event contents stay apart, each with its event.
#[test]
fn same_shaped_schemas_share_one_definition_under_their_own_names() {
    let api = matrix_codegen::load_spec(&release_dir("v1.19")).unwrap().api;
    let stats = matrix_codegen::stats::stats(&api, "v1.19");
    assert_eq!(stats.types.same_shape, 0, "{:?}", stats.types.same_shape_groups);
    let def = |name: &str| {
        api.types
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    let (ban, kick) = (def("BanRequest"), def("KickRequest"));
    let structs = [ban, kick]
        .iter()
        .filter(|d| matches!(d.kind, TypeKind::Struct { .. }))
        .count();
    assert_eq!(structs, 1, "one of them is the struct");
    let alias = if matches!(ban.kind, TypeKind::Alias(_)) {
        ban
    } else {
        kick
    };
    assert!(matches!(alias.kind, TypeKind::Alias(Ty::Named(_))));
    assert!(!alias.doc.description.is_empty(), "the alias keeps its own docs");
    for name in [
        "PolicyRuleRoomEventContent",
        "PolicyRuleServerEventContent",
        "PolicyRuleUserEventContent",
    ] {
        assert!(matches!(def(name).kind, TypeKind::Struct { .. }), "{name}");
    }
}
