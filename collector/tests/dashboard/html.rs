//! HTML checks without a browser: the HTML5 parser's errors (html5ever, exact errors on), ids
//! unique, every image with a text alternative, the document's language set.

use std::collections::HashSet;

use html5ever::tendril::TendrilSink;
use html5ever::tokenizer::TokenizerOpts;
use html5ever::tree_builder::TreeBuilderOpts;
use html5ever::{ParseOpts, parse_document};
use markup5ever_rcdom::{Handle, NodeData, RcDom};

fn walk(node: &Handle, problems: &mut Vec<String>, ids: &mut HashSet<String>) {
    if let NodeData::Element { name, attrs, .. } = &node.data {
        let attrs = attrs.borrow();
        let get = |n: &str| attrs.iter().find(|a| &*a.name.local == n).map(|a| a.value.to_string());
        if let Some(id) = get("id")
            && !ids.insert(id.clone())
        {
            problems.push(format!("duplicate id {id:?}"));
        }
        let tag = &*name.local;
        if tag == "img" && get("alt").is_none() {
            problems.push("an img without alt".into());
        }
        if tag == "html" && get("lang").is_none_or(|l| l.is_empty()) {
            problems.push("html without lang".into());
        }
        if tag == "svg" && get("role").as_deref() == Some("img") && get("aria-labelledby").is_none() {
            problems.push("an svg image without a label".into());
        }
    }
    for child in node.children.borrow().iter() {
        walk(child, problems, ids);
    }
}

/// Every problem found in `html` (empty: valid as far as the parser and these rules see).
pub fn problems(html: &str) -> Vec<String> {
    let opts = ParseOpts {
        tokenizer: TokenizerOpts { exact_errors: true, ..Default::default() },
        tree_builder: TreeBuilderOpts { exact_errors: true, ..Default::default() },
    };
    let dom = parse_document(RcDom::default(), opts).from_utf8().read_from(&mut html.as_bytes()).expect("parses");
    let mut out: Vec<String> = dom.errors.borrow().iter().map(|e| format!("parse error: {e}")).collect();
    if !html.starts_with("<!DOCTYPE html>") {
        out.push("no <!DOCTYPE html>".into());
    }
    walk(&dom.document, &mut out, &mut HashSet::new());
    out
}

#[test]
fn the_checker_finds_what_it_should() {
    let ok = "<!DOCTYPE html><html lang=\"en\"><head><title>x</title></head><body><p id=\"a\">x</p></body></html>";
    assert!(problems(ok).is_empty(), "{:?}", problems(ok));
    let bad = "<!DOCTYPE html><html><head><title>x</title></head><body><p id=\"a\"><div id=\"a\"></span><img src=x></body></html>";
    let found = problems(bad);
    for what in ["parse error", "duplicate id", "img without alt", "html without lang"] {
        assert!(found.iter().any(|p| p.contains(what)), "{what}: {found:?}");
    }
}
