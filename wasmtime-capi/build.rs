//! Copies the wasmtime C/C++ headers that `wasmtime-c-api-impl` installs into
//! its own OUT_DIR, and Nebula's own header (include/), to
//! `<target>/<profile>/include`, a path CMake can name.
use std::path::{Path, PathBuf};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create include dir");
    for entry in std::fs::read_dir(from).expect("read header dir") {
        let entry = entry.expect("header dir entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy header");
        }
    }
}

fn main() {
    let headers = std::env::var("DEP_WASMTIME_C_API_INCLUDE")
        .expect("wasmtime-c-api-impl exports its include dir");
    // OUT_DIR is <target>/<profile>/build/<crate>-<hash>/out.
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let profile_dir = out_dir
        .ancestors()
        .nth(3)
        .expect("OUT_DIR has the usual depth")
        .to_path_buf();
    copy_tree(Path::new(&headers), &profile_dir.join("include"));
    // Nebula's own header, for the entry points this crate adds.
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    copy_tree(&ours, &profile_dir.join("include"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=include");
}
