//! Build script: embeds the OONI fingerprint files gzipped. As plain text they are a tenth of a
//! router build's size (~330 KB of CSV); `Fingerprints::builtin` inflates them once.

use std::io::Write;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for name in ["fingerprints_dns.csv", "fingerprints_http.csv"] {
        let src = format!("data/{name}");
        println!("cargo::rerun-if-changed={src}");
        let text = std::fs::read(&src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let packed = gz.write_all(&text).and_then(|()| gz.finish()).unwrap_or_else(|e| panic!("gzip {src}: {e}"));
        let dest = out.join(format!("{name}.gz"));
        std::fs::write(&dest, packed).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
    }
}
