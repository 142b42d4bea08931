//! Embeds the texts given as arguments and prints their cosine matrix:
//!
//! ```text
//! cargo run --release -p chorus-embed --example similarity -- \
//!     "How do I temper chocolate?" "Pastry chef: chocolate work" "Network engineer"
//! ```
//!
//! The model folder is `models/all-MiniLM-L6-v2` of the repository, or
//! `CHORUS_EMBED_MODEL` when set.

use std::path::PathBuf;

use chorus_embed::{Embedder, cosine};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::var_os("CHORUS_EMBED_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2"));
    let texts: Vec<String> = std::env::args().skip(1).collect();
    let embedder = Embedder::load(&dir)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = embedder.embed(&refs)?;
    for (i, text) in texts.iter().enumerate() {
        let row: Vec<String> = vectors.iter().map(|other| format!("{:6.3}", cosine(&vectors[i], other))).collect();
        println!("{} | {text}", row.join(" "));
    }
    Ok(())
}
