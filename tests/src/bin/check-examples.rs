//! Prints, as JSON, how the spec's examples fare against the committed
//! generated crate. Used by `cargo xtask stats`.

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| matrix_api_tests::release_dir("v1.19"));
    let report = matrix_api_tests::check_examples(&dir);
    println!("{}", serde_json::to_string_pretty(&report).expect("report serializes"));
}
