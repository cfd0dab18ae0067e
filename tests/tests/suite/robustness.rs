//! The generator never panics or hangs on a damaged spec, and the generated
//! models never panic on arbitrary JSON. Bounded case counts run in CI; set
//! `PROPTEST_CASES` for longer runs (see the README).

use matrix_api_tests::release_dir;
use matrix_codegen::emit;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// A few real files to damage: an API file with inline and referenced
/// schemas, and what it refers to.
const SEED_FILES: &[&str] = &[
    "api/client-server/login.yaml",
    "api/client-server/definitions/user_identifier.yaml",
    "api/client-server/definitions/wellknown/full.yaml",
    "api/client-server/definitions/wellknown/homeserver.yaml",
    "api/client-server/definitions/wellknown/identity_server.yaml",
    "api/client-server/definitions/errors/error.yaml",
    "api/client-server/definitions/errors/rate_limited.yaml",
    "api/client-server/definitions/security.yaml",
    "api/client-server/definitions/m.oauth_params.yaml",
    "api/client-server/definitions/m.login.terms_params.yaml",
    "event-schemas/schema/m.room.topic.yaml",
    "event-schemas/schema/core-event-schema/state_event.yaml",
    "event-schemas/schema/core-event-schema/room_event.yaml",
    "event-schemas/schema/core-event-schema/sync_state_event.yaml",
    "event-schemas/schema/core-event-schema/sync_room_event.yaml",
    "event-schemas/schema/core-event-schema/event.yaml",
    "event-schemas/schema/core-event-schema/unsigned_prop.yaml",
    "event-schemas/schema/core-event-schema/stripped_state.yaml",
    "event-schemas/schema/components/m_text_content_block.yaml",
];

fn seed() -> BTreeMap<String, Value> {
    let dir = release_dir("v1.19");
    let mut out = BTreeMap::new();
    for f in SEED_FILES {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        out.insert((*f).to_owned(), matrix_codegen::load::yaml::parse(&text).unwrap());
    }
    out
}

/// One damage to one node, chosen by `pick` among all nodes.
#[derive(Clone, Debug)]
enum Mutation {
    Delete,
    Replace(Value),
    BadRef(String),
    SelfRef,
    WrongType(String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Delete),
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z$#/.~]{0,12}".prop_map(Value::String),
            Just(json!([])),
            Just(json!({})),
            Just(json!({ "type": "object", "properties": [] })),
        ]
        .prop_map(Mutation::Replace),
        prop_oneof![
            Just("#/nowhere".to_owned()),
            Just("missing.yaml".to_owned()),
            Just("../../../../etc/passwd".to_owned()),
            Just("#".to_owned()),
            Just("definitions/errors/error.yaml#/properties/%zz".to_owned()),
            "[a-z./#~]{0,20}",
        ]
        .prop_map(Mutation::BadRef),
        Just(Mutation::SelfRef),
        prop_oneof![
            Just("bigint"),
            Just("enum"),
            Just("string[]"),
            Just("null"),
            Just("file")
        ]
        .prop_map(|s| Mutation::WrongType(s.to_owned())),
    ]
}

/// Applies `m` at the `pick`-th node (depth-first) of the documents.
fn apply(docs: &mut BTreeMap<String, Value>, pick: usize, m: &Mutation) {
    let total: usize = docs.values().map(count).sum();
    let mut target = pick % total.max(1);
    for value in docs.values_mut() {
        let n = count(value);
        if target < n {
            mutate_at(value, target, m, "");
            return;
        }
        target -= n;
    }
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Object(m) => m.values().map(count).sum(),
        Value::Array(a) => a.iter().map(count).sum(),
        _ => 0,
    }
}

/// Returns true when the mutation was applied (and the node should be kept).
fn mutate_at(v: &mut Value, mut target: usize, m: &Mutation, pointer: &str) -> bool {
    if target == 0 {
        match m {
            Mutation::Delete => return false,
            Mutation::Replace(new) => *v = new.clone(),
            Mutation::BadRef(r) => *v = json!({ "$ref": r }),
            Mutation::SelfRef => *v = json!({ "$ref": format!("#{pointer}") }),
            Mutation::WrongType(t) => {
                if let Value::Object(o) = v {
                    o.insert("type".into(), json!(t));
                } else {
                    *v = json!({ "type": t });
                }
            }
        }
        return true;
    }
    target -= 1;
    match v {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                let n = count(&map[&k]);
                if target < n {
                    let child_pointer = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                    if !mutate_at(map.get_mut(&k).unwrap(), target, m, &child_pointer) {
                        map.remove(&k);
                    }
                    return true;
                }
                target -= n;
            }
        }
        Value::Array(items) => {
            for i in 0..items.len() {
                let n = count(&items[i]);
                if target < n {
                    if !mutate_at(&mut items[i], target, m, &format!("{pointer}/{i}")) {
                        items.remove(i);
                    }
                    return true;
                }
                target -= n;
            }
        }
        _ => {}
    }
    true
}

/// Runs load + IR + emit on another thread, so a hang shows as a timeout
/// and a panic as a failure, each with the damage that caused it.
fn generate_bounded(docs: BTreeMap<String, Value>) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(|| {
            let store = matrix_codegen::load::docs::DocStore::from_docs(Path::new("/fuzz").to_owned(), docs);
            match matrix_codegen::ir::build(&store) {
                Ok(api) => emit::generate(&api, &emit::Options::new("fuzz"))
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        });
        let _ = tx.send(outcome.is_ok());
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(true) => Ok(()),
        Ok(false) => Err("panicked".into()),
        Err(_) => Err("did not finish within 20 s".into()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn damaged_specs_give_errors_not_panics(damage in proptest::collection::vec((any::<usize>(), mutation()), 1..4)) {
        let mut docs = seed();
        for (pick, m) in &damage {
            apply(&mut docs, *pick, m);
        }
        prop_assert_eq!(generate_bounded(docs), Ok(()));
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-zA-Z0-9.:@!$_ -]{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    "[a-z_.]{1,12}",
                    Just("type".to_owned()),
                    Just("content".to_owned()),
                    Just("m.relates_to".to_owned())
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Every type in the registry either decodes a value or says why not.
    #[test]
    fn generated_models_never_panic_on_arbitrary_json(value in arbitrary_json()) {
        for key in registry_keys() {
            let outcome = std::panic::catch_unwind(|| matrix_api::registry::round_trip(key, &value));
            prop_assert!(outcome.is_ok(), "{} panicked on {}", key, value);
        }
    }
}

fn registry_keys() -> &'static [String] {
    static KEYS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let spec = matrix_codegen::load_spec(&release_dir("v1.19")).unwrap();
        matrix_codegen::emit::registry::registry_types(&spec.api)
            .into_keys()
            .collect()
    })
}

#[test]
fn the_seed_itself_generates() {
    assert_eq!(generate_bounded(seed()), Ok(()));
}
