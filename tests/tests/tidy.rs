//! House rules that are cheaper to check than to remember (STYLE.md, docs/ARCHITECTURE.md).

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn crate_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let mut files = Vec::new();
    for top in ["crates", "xtask", "tests", "bench", "examples"] {
        rust_files(&root().join(top), &mut files);
    }
    assert!(files.len() > 10, "found only {} files", files.len());
    let missing: Vec<_> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` first line: {missing:?}"
    );
}

#[test]
fn library_crates_do_not_print() {
    let mut files = Vec::new();
    for dir in crate_dirs() {
        rust_files(&dir.join("src"), &mut files);
    }
    let offenders: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines()
                .enumerate()
                .filter(|(_, l)| {
                    let code = l.trim_start();
                    !code.starts_with("//")
                        && ["println!(", "print!(", "eprintln!(", "eprint!(", "dbg!("]
                            .iter()
                            .any(|m| code.contains(m))
                })
                .map(|(i, _)| format!("{}:{}", f.display(), i + 1))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "printing in library code: {offenders:?}"
    );
}

#[test]
fn every_crate_is_documented_and_opts_into_workspace_lints() {
    let architecture = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let dirs = crate_dirs();
    assert!(!dirs.is_empty());
    for dir in dirs {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let folder = dir.file_name().unwrap().to_string_lossy().to_string();
        let package = format!("steadfast-{folder}");
        assert!(
            manifest.contains(&format!("name = \"{package}\"")),
            "crates/{folder} must be the package {package}"
        );
        assert!(
            manifest.contains("[lints]\nworkspace = true"),
            "{package} must opt into the workspace lints"
        );
        assert!(
            architecture.contains(&format!("`crates/{folder}`")),
            "docs/ARCHITECTURE.md does not describe crates/{folder}"
        );
        assert!(
            readme.contains(&package),
            "README.md does not list {package}"
        );
    }
}
