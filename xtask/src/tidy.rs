//! Tidy checks, run as tests: conventions that would otherwise rot quietly.

use std::path::{Path, PathBuf};

use crate::process::workspace_root;

fn rust_sources() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = Vec::new();
    for top in ["crates", "bins", "xtask", "tests"] {
        collect_rust_files(&root.join(top), &mut files);
    }
    files
}

fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "node_modules" || name == "target" {
            continue;
        }
        if path.is_dir() {
            collect_rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_says_what_it_is_for() {
    let missing: Vec<_> = rust_sources()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not start with a `//!` line: {missing:#?}"
    );
}

#[test]
fn no_placeholders_ship() {
    // Spelled in pieces so this file does not trip its own check.
    let markers = [
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("dbg", "!("),
    ];
    let offenders: Vec<_> = rust_sources()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            markers.iter().any(|marker| text.contains(marker))
        })
        .collect();
    assert!(offenders.is_empty(), "placeholders in: {offenders:#?}");
}

#[test]
fn readme_and_ci_name_the_two_commands() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    assert!(
        readme.contains("cargo xtask demo"),
        "README must show `cargo xtask demo`"
    );
    assert!(
        readme.contains("cargo xtask test"),
        "README must show `cargo xtask test`"
    );
    let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run");
    assert!(
        ci.contains("cargo xtask test"),
        ".ci/run must call `cargo xtask test`"
    );
}
