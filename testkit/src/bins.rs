//! The real `bot` and `worker` binaries.
//!
//! `scripts/test` builds the whole workspace before the tests and points
//! `TESTKIT_BIN_DIR` at the result, so the tests only locate the binaries.
//! Run any other way (`cargo test -p testkit`, an IDE), the kit builds them
//! itself, into a target directory of its own: `cargo build -p bot -p
//! worker` resolves dependency features differently from the surrounding
//! `cargo test`, and sharing a directory would rebuild the dependencies on
//! every run, back and forth.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// `target/`, from `target/<profile>/deps/<test-binary>`.
fn target_root() -> (PathBuf, bool) {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile> directory");
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let root = profile_dir.parent().expect("target directory");
    (root.to_path_buf(), release)
}

/// The directory holding the binaries, building them first when needed.
fn bin_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("TESTKIT_BIN_DIR") {
            return PathBuf::from(dir);
        }
        let (root, release) = target_root();
        let own = root.join("testkit-bins");
        let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
        cargo
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .args([
                "build",
                "--quiet",
                "-p",
                "bot",
                "-p",
                "worker",
                "--target-dir",
            ])
            .arg(&own);
        if release {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("run cargo build");
        assert!(status.success(), "building bot and worker failed");
        own.join(if release { "release" } else { "debug" })
    })
}

/// The path of the `bot` or `worker` binary.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing (TESTKIT_BIN_DIR points at a directory without it?)",
        path.display()
    );
    path
}
