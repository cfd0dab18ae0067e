fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let t = std::time::Instant::now();
    match matrix_codegen::load_spec(std::path::Path::new(&dir)) {
        Ok(spec) => {
            let api = &spec.api;
            println!(
                "ops {} types {} events {} examples {} skipped {} unhandled {} in {:?}",
                api.operations.len(),
                api.types.len(),
                api.events.len(),
                api.examples.len(),
                api.skipped_examples.len(),
                api.unhandled.len(),
                t.elapsed()
            );
            for u in api.unhandled.iter().take(20) {
                println!("  {:?}", u);
            }
            let mut names: Vec<_> = api
                .types
                .iter()
                .map(|t| format!("{:?}::{}", t.module, t.name))
                .collect();
            names.sort();
            if std::env::var("NAMES").is_ok() {
                for n in names {
                    println!("{n}");
                }
            }
        }
        Err(e) => println!("ERROR {e}"),
    }
}
