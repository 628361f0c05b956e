//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds the files it finds, and without this a
//! new file would not invalidate a cached build.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
