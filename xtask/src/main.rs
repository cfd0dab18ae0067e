//! `cargo xtask`: a thin clap shell over the `matrix-codegen` library.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use matrix_codegen::emit::{self, write};
use matrix_codegen::load::spec;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

mod bench;

/// Codegen allocates and frees many small token trees; glibc's allocator
/// spent about a third of a run in malloc and free (perf, v1.19).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Matrix spec code generator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the `generated/` crate from a spec.
    Codegen {
        /// A spec directory (holding `api/`), a release name under the spec
        /// root, or one API description file.
        #[arg(long)]
        spec: Option<String>,
        /// With a single file as `--spec`: the release (folder or name) to
        /// read the files it refers to from (default: beside the file).
        #[arg(long)]
        refs: Option<String>,
        /// Where to write the crate.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Compare with what is on disk instead of writing; non-zero exit when stale.
        #[arg(long)]
        check: bool,
    },
    /// Coverage figures per family: operations, types, examples, unhandled constructs.
    Stats {
        #[arg(long)]
        spec: Option<String>,
        /// With a single file as `--spec`: where the files it refers to are.
        #[arg(long)]
        refs: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write one resolved OpenAPI 3.1 JSON document per family.
    Bundle {
        #[arg(long)]
        spec: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// What changed between two spec versions, and whom it breaks.
    Diff {
        /// Old version: a release name under the spec root, or a spec directory.
        #[arg(required_unless_present = "rules")]
        from: Option<String>,
        /// New version.
        #[arg(required_unless_present = "rules")]
        to: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: DiffFormat,
        /// Only changes that break someone.
        #[arg(long)]
        breaking_only: bool,
        /// Also report description-only changes.
        #[arg(long)]
        include_docs: bool,
        /// Exit with status 1 when a change breaks this audience.
        #[arg(long, value_enum)]
        fail_on: Option<FailOn>,
        /// List the classification rules and exit.
        #[arg(long)]
        rules: bool,
    },
    /// For every operation and event of the newest release: when it appeared and which
    /// releases changed its shape, against the spec's own annotations.
    History {
        #[arg(long)]
        json: bool,
        /// Only entries whose annotations disagree with the structure.
        #[arg(long)]
        disagreements_only: bool,
    },
    /// Recover a spec file from a copy of a web page that showed it (the page
    /// header, a blame view's `|` gutter and the lost indentation put back).
    Recover {
        /// The copied text.
        copy: PathBuf,
        /// Where to write the YAML (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify (or rewrite) the checksums in `api-specs/manifest.toml` against the spec root.
    Manifest {
        /// Rewrite the checksums of the releases present under the spec root.
        #[arg(long)]
        update: bool,
    },
    /// Benchmarks against the alternatives (release builds; see README):
    /// codegen, compile, decode, server, send, diff, or all. Writes
    /// target/bench/report.md and target/bench/ratios.svg.
    Bench {
        /// What to measure.
        #[arg(default_value = "all")]
        what: String,
        #[arg(long)]
        spec: Option<String>,
        /// A reduced run (debug builds, fewer iterations, no Ruma) that checks
        /// the harness in under two minutes; its figures are not comparable.
        #[arg(long)]
        quick: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DiffFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum FailOn {
    /// Any breaking change (client, server or Rust).
    Breaking,
    /// Breaking on the wire (client or server).
    Wire,
    Client,
    Server,
    Rust,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default()
}

/// The label for a spec: the release name, or the folder's name.
fn spec_label(arg: Option<&str>, dir: &Path) -> String {
    match arg {
        Some(a) if !Path::new(a).join("api").is_dir() && !Path::new(a).join("data/api").is_dir() => a.to_owned(),
        None => spec::DEFAULT_RELEASE.to_owned(),
        _ => {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name == "data" {
                "(local checkout)".to_owned()
            } else {
                name
            }
        }
    }
}

/// Reads `--spec`: a spec folder or release name (its folder is returned
/// too), or a single API description file, whose references come from the
/// `--refs` release or from beside it.
fn load_input(
    spec_arg: Option<&str>,
    refs: Option<&str>,
    root: &Path,
) -> Result<(String, Option<PathBuf>, matrix_codegen::Spec)> {
    if let Some(file) = spec_arg.map(Path::new).filter(|p| p.is_file()) {
        let refs_dir = refs.map(|r| spec::locate(Some(r), root)).transpose()?;
        let spec = matrix_codegen::load_spec_file(file, refs_dir.as_deref())?;
        let label = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok((label, None, spec));
    }
    if refs.is_some() {
        bail!("--refs goes with a single file as --spec");
    }
    let dir = spec::locate(spec_arg, root)?;
    let label = spec_label(spec_arg, &dir);
    let spec = matrix_codegen::load_spec(&dir)?;
    Ok((label, Some(dir), spec))
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let root = workspace_root();
    match cli.command {
        Command::Codegen {
            spec: spec_arg,
            refs,
            out,
            check,
        } => {
            let started = Instant::now();
            let (label, dir, spec) = load_input(spec_arg.as_deref(), refs.as_deref(), &root)?;
            let out = out.unwrap_or_else(|| root.join("generated"));
            let mut options = emit::Options::new(&label);
            if out != root.join("generated") {
                let runtime = root.join("runtime").canonicalize().context("locating runtime/")?;
                options.runtime_dependency = format!("{{ path = {:?} }}", runtime.display().to_string());
            }
            if let Some(dir) = &dir {
                warn_if_unlike_manifest(&root, &label, dir);
            }
            let files = emit::generate(&spec.api, &options)?;
            if check {
                let stale = write::check(&files, &out)?;
                if !stale.is_clean() {
                    eprint!("{} is stale:\n{stale}", out.display());
                    eprintln!("run `cargo xtask codegen` and commit the result");
                    return Ok(ExitCode::FAILURE);
                }
                eprintln!("{} is up to date with {label} ({} files)", out.display(), files.len());
            } else {
                write::write(&files, &out)?;
                eprintln!(
                    "wrote {} files to {} from {label} in {:.2?} ({} unhandled constructs, see `cargo xtask stats`)",
                    files.len(),
                    out.display(),
                    started.elapsed(),
                    spec.api.unhandled.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats {
            spec: spec_arg,
            refs,
            json,
        } => {
            let (label, dir, spec) = load_input(spec_arg.as_deref(), refs.as_deref(), &root)?;
            let mut stats = matrix_codegen::stats::stats(&spec.api, &label).with_files(&spec.store);
            if let Some(dir) = &dir {
                example_results(&root, dir, &label, &spec, &mut stats)?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                print!("{}", stats.to_text());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bundle { spec: spec_arg, out } => {
            let dir = spec::locate(spec_arg.as_deref(), &root)?;
            let label = spec_label(spec_arg.as_deref(), &dir);
            let store = matrix_codegen::load::docs::DocStore::load(&dir)?;
            let docs = matrix_codegen::bundle::bundle(&store, &label)?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            for (family, doc) in docs {
                let path = out.join(format!("{}.json", family.dir()));
                let text = serde_json::to_string_pretty(&doc)? + "\n";
                let tmp = path.with_extension("json.tmp");
                std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
                std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Manifest { update } => manifest(&root, update),
        Command::Recover { copy, out } => {
            let text = std::fs::read_to_string(&copy).with_context(|| format!("reading {}", copy.display()))?;
            let yaml = matrix_codegen::load::web_copy::recover(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", copy.display()))?;
            match out {
                Some(path) => std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?,
                None => print!("{yaml}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::History {
            json,
            disagreements_only,
        } => {
            let spec_root = spec::spec_root(&root);
            let mut loaded = Vec::new();
            // The archived releases (2015–2019) first, when they are beside the spec root.
            if let Some(archives) = matrix_codegen::load::archive::beside(&spec_root) {
                for (name, dir) in
                    matrix_codegen::load::archive::releases(&archives, &root.join("target/spec-history"))?
                {
                    loaded.push((name, matrix_codegen::load_spec(&dir)?.api));
                }
            }
            for name in spec::releases(&spec_root)? {
                let api = matrix_codegen::load_spec(&spec_root.join(&name))?.api;
                loaded.push((name, api));
            }
            let mut entries = matrix_codegen::diff::history::history(&loaded);
            if disagreements_only {
                entries.retain(|e| !e.disagreements.is_empty());
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                for e in &entries {
                    let changed = if e.changed_in.is_empty() {
                        "-".to_owned()
                    } else {
                        e.changed_in.join(", ")
                    };
                    println!(
                        "{:<9} {:<90} first {:<20} changed {changed}",
                        e.kind, e.name, e.first_release
                    );
                    for (release, before) in &e.moved_in {
                        println!("          moved in {release} from {before}");
                    }
                    for d in &e.disagreements {
                        println!("          ! {d}");
                    }
                }
                let n = entries.iter().filter(|e| !e.disagreements.is_empty()).count();
                println!(
                    "{} entries, {n} where the annotations disagree with the structure",
                    entries.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff {
            from,
            to,
            format,
            breaking_only,
            include_docs,
            fail_on,
            rules,
        } => {
            use matrix_codegen::diff::{self, render};
            if rules {
                print!("{}", render::rules_table());
                return Ok(ExitCode::SUCCESS);
            }
            let (from, to) = (from.unwrap_or_default(), to.unwrap_or_default());
            let load = |name: &str| -> Result<(String, matrix_codegen::ir::Api)> {
                let dir = spec::locate(Some(name), &root)?;
                let label = spec_label(Some(name), &dir);
                Ok((label, matrix_codegen::load_spec(&dir)?.api))
            };
            let ((from_label, old), (to_label, new)) = (load(&from)?, load(&to)?);
            let mut report = diff::diff(&old, &new, &from_label, &to_label, diff::Options { include_docs });
            if breaking_only {
                report = report.breaking_only();
            }
            let text = match format {
                DiffFormat::Text => {
                    use std::io::IsTerminal;
                    render::text(&report, std::io::stdout().is_terminal())
                }
                DiffFormat::Markdown => render::markdown(&report),
                DiffFormat::Json => render::json(&report),
            };
            print!("{text}");
            let failing = fail_on.is_some_and(|f| {
                report.changes.iter().any(|c| {
                    let b = c.breaking;
                    match f {
                        FailOn::Breaking => b.any(),
                        FailOn::Wire => b.wire(),
                        FailOn::Client => b.client,
                        FailOn::Server => b.server,
                        FailOn::Rust => b.rust,
                    }
                })
            });
            Ok(if failing { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        Command::Bench {
            what,
            spec: spec_arg,
            quick,
        } => {
            if cfg!(debug_assertions) && !quick {
                // Figures from a debug build mean nothing: run the release build.
                let status = std::process::Command::new(env!("CARGO"))
                    .args(["run", "--quiet", "--release", "--package", "xtask", "--"])
                    .args(std::env::args_os().skip(1))
                    .current_dir(&root)
                    .status()
                    .context("running the release build of xtask")?;
                return Ok(if status.success() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            }
            let dir = spec::locate(spec_arg.as_deref(), &root)?;
            let label = spec_label(spec_arg.as_deref(), &dir);
            bench::run(&root, dir, label, spec::spec_root(&root), &what, quick)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn manifest(root: &Path, update: bool) -> Result<ExitCode> {
    use matrix_codegen::load::manifest::{checksum, Manifest};
    let path = root.join("api-specs/manifest.toml");
    let manifest = Manifest::load(&path)?;
    let spec_root = spec::spec_root(root);
    let mut text = std::fs::read_to_string(&path)?;
    let mut bad = 0;
    for release in &manifest.releases {
        let dir = spec_root.join(&release.name);
        if !dir.join("api").is_dir() {
            println!("{:<6} not present under {}", release.name, spec_root.display());
            continue;
        }
        let actual = checksum(&dir)?;
        if actual == release.checksum {
            println!("{:<6} ok", release.name);
        } else if update {
            text = text.replace(&release.checksum, &actual);
            println!("{:<6} updated", release.name);
        } else {
            bad += 1;
            println!(
                "{:<6} differs: manifest {} but {} has {}",
                release.name,
                release.checksum,
                dir.display(),
                actual
            );
        }
    }
    if update {
        std::fs::write(&path, text)?;
    }
    Ok(if bad == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Warns when a release found by name differs from what the manifest records.
fn warn_if_unlike_manifest(root: &Path, label: &str, dir: &Path) {
    use matrix_codegen::load::manifest::{checksum, Manifest};
    let Ok(manifest) = Manifest::load(&root.join("api-specs/manifest.toml")) else {
        return;
    };
    let Some(release) = manifest.release(label) else { return };
    if let Ok(actual) = checksum(dir) {
        if actual != release.checksum {
            eprintln!(
                "warning: {} does not match {label} (upstream {}) in api-specs/manifest.toml; generating anyway",
                dir.display(),
                release.upstream_commit
            );
        }
    }
}

/// Runs the example checker (a binary of the `tests` package that links the
/// generated crate) when the committed crate was generated from this spec.
fn example_results(
    root: &Path,
    dir: &Path,
    label: &str,
    spec: &matrix_codegen::Spec,
    stats: &mut matrix_codegen::stats::Stats,
) -> Result<()> {
    let files = emit::generate(&spec.api, &emit::Options::new(label))?;
    if !write::check(&files, &root.join("generated"))?.is_clean() {
        eprintln!("note: generated/ is not generated from {label}; examples are counted but not run");
        return Ok(());
    }
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "run",
            "--quiet",
            "--package",
            "matrix-api-tests",
            "--bin",
            "check-examples",
            "--",
        ])
        .arg(dir)
        .current_dir(root)
        .output()
        .context("running the example checker")?;
    if !output.status.success() {
        bail!("example checker failed:\n{}", String::from_utf8_lossy(&output.stderr));
    }
    let results: serde_json::Value = serde_json::from_slice(&output.stdout).context("reading checker output")?;
    for (family, f) in stats.families.iter_mut() {
        f.examples_passed = results["passed_by_module"][family]
            .as_u64()
            .map(|n| n as usize)
            .or(Some(0));
    }
    stats.events.examples_passed = results["passed_by_module"]["events"]
        .as_u64()
        .map(|n| n as usize)
        .or(Some(0));
    Ok(())
}
