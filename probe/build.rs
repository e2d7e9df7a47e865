//! Build script: embeds the OONI fingerprint files gzipped. As plain text they are a tenth of a
//! router build's size (~330 KB of CSV); `Fingerprints::builtin` inflates them once.
//! It also writes the single-byte charsets' tables (`charset`), taken from encoding_rs at build
//! time so the probe carries 128 characters per charset instead of encoding_rs's CJK tables, and
//! for the multi-byte ones (GBK, Big5, EUC-KR, Shift_JIS, EUC-JP) the two-byte codes of only the
//! characters the shipped HTTP fingerprints are written with.

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
    let patterns = std::fs::read_to_string("data/fingerprints_http.csv").expect("data/fingerprints_http.csv");
    let dest = out.join("charsets.rs");
    std::fs::write(&dest, single_byte_tables() + &multi_byte_tables(&patterns))
        .unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}

/// Labels a page may declare (the WHATWG Encoding Standard's, as servers write them); only those
/// encoding_rs maps to a single-byte encoding are kept, under the encoding it maps them to.
const LABELS: &[&str] = &[
    "866",
    "cp866",
    "csibm866",
    "ibm866",
    "csisolatin2",
    "iso-8859-2",
    "iso-ir-101",
    "iso8859-2",
    "iso88592",
    "iso_8859-2",
    "iso_8859-2:1987",
    "l2",
    "latin2",
    "csisolatin3",
    "iso-8859-3",
    "iso-ir-109",
    "iso8859-3",
    "iso88593",
    "iso_8859-3",
    "l3",
    "latin3",
    "csisolatin4",
    "iso-8859-4",
    "iso-ir-110",
    "iso8859-4",
    "iso88594",
    "iso_8859-4",
    "l4",
    "latin4",
    "csisolatincyrillic",
    "cyrillic",
    "iso-8859-5",
    "iso-ir-144",
    "iso8859-5",
    "iso88595",
    "iso_8859-5",
    "iso_8859-5:1988",
    "arabic",
    "asmo-708",
    "csiso88596e",
    "csiso88596i",
    "csisolatinarabic",
    "ecma-114",
    "iso-8859-6",
    "iso-8859-6-e",
    "iso-8859-6-i",
    "iso-ir-127",
    "iso8859-6",
    "iso88596",
    "iso_8859-6",
    "iso_8859-6:1987",
    "csisolatingreek",
    "ecma-118",
    "elot_928",
    "greek",
    "greek8",
    "iso-8859-7",
    "iso-ir-126",
    "iso8859-7",
    "iso88597",
    "iso_8859-7",
    "iso_8859-7:1987",
    "sun_eu_greek",
    "csiso88598e",
    "csisolatinhebrew",
    "hebrew",
    "iso-8859-8",
    "iso-8859-8-e",
    "iso-ir-138",
    "iso8859-8",
    "iso88598",
    "iso_8859-8",
    "iso_8859-8:1988",
    "visual",
    "csiso88598i",
    "iso-8859-8-i",
    "logical",
    "csisolatin6",
    "iso-8859-10",
    "iso-ir-157",
    "iso8859-10",
    "iso885910",
    "l6",
    "latin6",
    "iso-8859-13",
    "iso8859-13",
    "iso885913",
    "iso-8859-14",
    "iso8859-14",
    "iso885914",
    "csisolatin9",
    "iso-8859-15",
    "iso8859-15",
    "iso885915",
    "iso_8859-15",
    "l9",
    "iso-8859-16",
    "cskoi8r",
    "koi",
    "koi8",
    "koi8-r",
    "koi8_r",
    "koi8-ru",
    "koi8-u",
    "csmacintosh",
    "mac",
    "macintosh",
    "x-mac-roman",
    "dos-874",
    "iso-8859-11",
    "iso8859-11",
    "iso885911",
    "tis-620",
    "windows-874",
    "cp1250",
    "windows-1250",
    "x-cp1250",
    "cp1251",
    "windows-1251",
    "x-cp1251",
    "ansi_x3.4-1968",
    "ascii",
    "cp1252",
    "cp819",
    "csisolatin1",
    "ibm819",
    "iso-8859-1",
    "iso-ir-100",
    "iso8859-1",
    "iso88591",
    "iso_8859-1",
    "iso_8859-1:1987",
    "l1",
    "latin1",
    "us-ascii",
    "windows-1252",
    "x-cp1252",
    "cp1253",
    "windows-1253",
    "x-cp1253",
    "cp1254",
    "csisolatin5",
    "iso-8859-9",
    "iso-ir-148",
    "iso8859-9",
    "iso88599",
    "iso_8859-9",
    "iso_8859-9:1989",
    "l5",
    "latin5",
    "windows-1254",
    "x-cp1254",
    "cp1255",
    "windows-1255",
    "x-cp1255",
    "cp1256",
    "windows-1256",
    "x-cp1256",
    "cp1257",
    "windows-1257",
    "x-cp1257",
    "cp1258",
    "windows-1258",
    "x-cp1258",
    "x-mac-cyrillic",
    "x-mac-ukrainian",
    // Multi-byte.
    "chinese",
    "csgb2312",
    "csiso58gb231280",
    "gb2312",
    "gb_2312",
    "gb_2312-80",
    "gbk",
    "iso-ir-58",
    "x-gbk",
    "gb18030",
    "big5",
    "big5-hkscs",
    "cn-big5",
    "csbig5",
    "x-x-big5",
    "cseuckr",
    "csksc56011987",
    "euc-kr",
    "iso-ir-149",
    "korean",
    "ks_c_5601-1987",
    "ks_c_5601-1989",
    "ksc5601",
    "ksc_5601",
    "windows-949",
    "csshiftjis",
    "ms932",
    "ms_kanji",
    "shift-jis",
    "shift_jis",
    "sjis",
    "windows-31j",
    "x-sjis",
    "cseucpkdfmtjapanese",
    "euc-jp",
    "x-euc-jp",
];

/// `MULTI_BYTE`: (encoding name, its labels, the two-byte codes of the non-ASCII characters of
/// the HTTP fingerprint file, sorted). A page in one of these charsets is decoded only as far as
/// those characters go (`charset::decode`), enough to match the rows.
fn multi_byte_tables(fingerprints_csv: &str) -> String {
    use std::collections::{BTreeMap, BTreeSet};
    let chars: BTreeSet<char> = fingerprints_csv.chars().filter(|c| !c.is_ascii()).collect();
    let mut by_name: BTreeMap<&str, (Vec<&str>, &'static encoding_rs::Encoding)> = BTreeMap::new();
    for label in LABELS {
        let enc = encoding_rs::Encoding::for_label(label.as_bytes()).unwrap_or_else(|| panic!("label {label}"));
        // GB18030's two-byte codes are GBK's: one table for both.
        let enc = if enc == encoding_rs::GB18030 { encoding_rs::GBK } else { enc };
        if !enc.is_single_byte() {
            by_name.entry(enc.name()).or_insert_with(|| (Vec::new(), enc)).0.push(label);
        }
    }
    let mut out = String::from(
        "/// Multi-byte charsets: (name, labels, sorted (two-byte code, character)), generated by build.rs\n\
         /// for the characters of the shipped HTTP fingerprints.\n\
         pub(crate) static MULTI_BYTE: &[(&str, &[&str], Codes)] = &[\n",
    );
    for (name, (labels, enc)) in &by_name {
        let mut codes: Vec<([u8; 2], u16)> = Vec::new();
        for &c in &chars {
            let mut buf = [0; 4];
            let (bytes, _, unmappable) = enc.encode(c.encode_utf8(&mut buf));
            let bmp = u16::try_from(u32::from(c)).ok();
            if let (false, [a, b], Some(unit)) = (unmappable, bytes.as_ref(), bmp) {
                codes.push(([*a, *b], unit));
            }
        }
        codes.sort_unstable();
        codes.dedup_by_key(|(code, _)| *code);
        let list: Vec<String> =
            codes.iter().map(|(code, c)| format!("([{:#x}, {:#x}], {c:#x})", code[0], code[1])).collect();
        out.push_str(&format!("    ({name:?}, &{labels:?}, &[{}]),\n", list.join(", ")));
    }
    out.push_str("];\n");
    out
}

/// `SINGLE_BYTE`: (encoding name, its labels, the characters of bytes 0x80..=0xFF).
fn single_byte_tables() -> String {
    use std::collections::BTreeMap;
    let mut by_name: BTreeMap<&str, (Vec<&str>, &'static encoding_rs::Encoding)> = BTreeMap::new();
    for label in LABELS {
        let enc = encoding_rs::Encoding::for_label(label.as_bytes()).unwrap_or_else(|| panic!("label {label}"));
        if enc.is_single_byte() {
            by_name.entry(enc.name()).or_insert_with(|| (Vec::new(), enc)).0.push(label);
        }
    }
    let mut out = String::from(
        "/// Single-byte charsets: (name, labels, characters of bytes 0x80..=0xFF), generated by build.rs.\n\
         pub(crate) static SINGLE_BYTE: &[(&str, &[&str], [u16; 128])] = &[\n",
    );
    for (name, (labels, enc)) in &by_name {
        let high: Vec<u8> = (0x80..=0xFFu8).collect();
        let (text, _) = enc.decode_without_bom_handling(&high);
        let chars: Vec<String> = text.encode_utf16().map(|u| format!("{u:#x}")).collect();
        assert_eq!(chars.len(), 128, "{name}: one BMP character per byte");
        out.push_str(&format!("    ({name:?}, &{labels:?}, [{}]),\n", chars.join(", ")));
    }
    out.push_str("];\n");
    out
}
