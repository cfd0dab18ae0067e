//! A throwaway Cargo workspace of generated crates, checked in one `cargo
//! check` so that their dependencies build once. The release matrix and
//! the seed documents share one target folder.

use crate::workspace_root;
use matrix_codegen::emit;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target folder every generated-crate workspace builds into.
pub fn shared_target() -> PathBuf {
    workspace_root().join("target/release-matrix/target")
}

/// Generated crates under one folder, made a workspace by [`Workspace::check`].
pub struct Workspace {
    dir: PathBuf,
    members: Vec<String>,
}

impl Workspace {
    pub fn new(dir: PathBuf) -> Workspace {
        std::fs::create_dir_all(&dir).unwrap();
        Workspace {
            dir,
            members: Vec::new(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Generates `api` as the crate `package` in the folder `member`, over
    /// this workspace's runtime; returns the crate's folder.
    pub fn add(&mut self, member: &str, package: &str, label: &str, api: &matrix_codegen::ir::Api) -> PathBuf {
        let runtime = workspace_root().join("runtime");
        let mut options = emit::Options::new(label);
        options.crate_name = package.to_owned();
        options.runtime_dependency = format!("{{ path = {:?} }}", runtime.display().to_string());
        let files = emit::generate(api, &options).unwrap_or_else(|e| panic!("{label} does not generate: {e}"));
        let crate_dir = self.dir.join(member);
        emit::write::write(&files, &crate_dir).unwrap();
        self.members.push(format!("{member:?}"));
        crate_dir
    }

    /// `cargo check <args>` over the workspace (written on each call).
    pub fn check(&self, args: &[&str]) -> bool {
        std::fs::write(
            self.dir.join("Cargo.toml"),
            format!(
                "[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
                self.members.join(", ")
            ),
        )
        .unwrap();
        std::fs::copy(workspace_root().join("Cargo.lock"), self.dir.join("Cargo.lock")).unwrap();
        Command::new(env!("CARGO"))
            .arg("check")
            .args(args)
            .arg("--quiet")
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", shared_target())
            // Many crates' worth of incremental state would take gigabytes of disk.
            .env("CARGO_INCREMENTAL", "0")
            .status()
            .unwrap()
            .success()
    }
}
