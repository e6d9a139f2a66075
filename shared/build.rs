//! Rebuild when a migration changes: they are embedded into the binaries.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
