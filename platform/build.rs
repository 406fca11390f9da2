//! Puts the commit the crate is built from into `ORDERFLOW_BUILD_COMMIT`, for
//! `orderflow_build_info`: `ORDERFLOW_GIT_COMMIT` when set (a Docker build passes it, having
//! no `.git`), else `git rev-parse --short HEAD`, else "unknown".
//!
//! Re-run only when the override, `HEAD` or the branch it points to changes, so a build
//! without a new commit does not rebuild this crate (and everything that depends on it).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=ORDERFLOW_GIT_COMMIT");
    let commit = match std::env::var("ORDERFLOW_GIT_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_owned(),
        _ => from_git().unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=ORDERFLOW_BUILD_COMMIT={commit}");
}

fn from_git() -> Option<String> {
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    let git_dir = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
    watch(&git_dir.join("HEAD"));
    // The branch HEAD points to: its loose ref, or the packed refs if it is packed.
    let head = std::fs::read_to_string(git_dir.join("HEAD")).unwrap_or_default();
    if let Some(reference) = head.strip_prefix("ref: ") {
        let common = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]);
        let common = common.map_or(git_dir.clone(), PathBuf::from);
        watch(&common.join(reference.trim()));
        watch(&common.join("packed-refs"));
    }
    Some(commit)
}

/// A file that does not exist is not watched: Cargo would re-run the script every build.
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}
