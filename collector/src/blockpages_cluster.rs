//! Blockpage discovery, clustering: LSH banding over the candidates' MinHash signatures, pairs
//! confirmed by their estimated similarity, union-find into clusters, and the phrase every member
//! of a cluster holds (the suggested fingerprint pattern). Pure: no database.

use std::collections::{BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use crate::blockpages::{HASHES, similarity};

/// Discovery's bounds and thresholds (`Config`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Rows per LSH band (`HASHES / rows` bands): pairs below about (1/bands)^(1/rows) rarely
    /// meet in a band.
    pub band_rows: usize,
    /// Estimated Jaccard similarity a pair that met in a band needs to be joined.
    pub min_similarity: f64,
    /// A cluster is published when it spans this many probes...
    pub min_probes: usize,
    /// ... or this many networks (country + ASN).
    pub min_networks: usize,
}

impl Default for Params {
    fn default() -> Params {
        Params { band_rows: 4, min_similarity: 0.3, min_probes: 2, min_networks: 2 }
    }
}

/// What clustering needs of a candidate.
#[derive(Debug, Clone)]
pub struct Member {
    /// Insertion order (the oldest first).
    pub seq: i64,
    pub measurement_id: String,
    pub key_id: String,
    pub cc: String,
    pub asn: u32,
    /// The measurement's start time (OONI's layout).
    pub seen_at: String,
    pub signature: Vec<u32>,
}

/// Clusters of `members` (indexes into it), each sorted oldest first, singletons included.
pub fn cluster(members: &[Member], params: &Params) -> Vec<Vec<usize>> {
    let rows = params.band_rows.clamp(1, HASHES);
    let mut parent: Vec<usize> = (0..members.len()).collect();
    for band in 0..HASHES / rows {
        let mut buckets: HashMap<&[u32], usize> = HashMap::new();
        for (i, m) in members.iter().enumerate() {
            let Some(key) = m.signature.get(band * rows..(band + 1) * rows) else { continue };
            match buckets.get(key) {
                // The first of a bucket stands for it: each member is compared once per band,
                // and not at all when an earlier band joined them.
                Some(&first)
                    if find(&mut parent, first) != find(&mut parent, i)
                        && similarity(&members[first].signature, &m.signature) >= params.min_similarity =>
                {
                    union(&mut parent, first, i)
                }
                Some(_) => {}
                None => {
                    buckets.insert(key, i);
                }
            }
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..members.len() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().push(i);
    }
    let mut out: Vec<Vec<usize>> = groups.into_values().collect();
    for g in &mut out {
        g.sort_by_key(|&i| members[i].seq);
    }
    out.sort_by_key(|g| (std::cmp::Reverse(g.len()), members[g[0]].seq));
    out
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        parent[ra.max(rb)] = ra.min(rb);
    }
}

/// Whether a cluster spans enough probes or networks to be published.
pub fn publishable(members: &[&Member], params: &Params) -> bool {
    let probes: BTreeSet<&str> = members.iter().map(|m| m.key_id.as_str()).collect();
    let networks: BTreeSet<(&str, u32)> = members.iter().map(|m| (m.cc.as_str(), m.asn)).collect();
    probes.len() >= params.min_probes.max(1) || networks.len() >= params.min_networks.max(1)
}

/// A cluster's stable id: derived from its earliest member's measurement id.
pub fn cluster_id(earliest_measurement_id: &str) -> String {
    let digest = Sha256::digest(earliest_measurement_id.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The longest phrase every member holds (`phrases` of each member), if any: a literal the
/// probe can match on each of these pages.
pub fn common_phrase<'a>(phrases: impl IntoIterator<Item = &'a [String]>) -> Option<String> {
    let mut it = phrases.into_iter();
    let mut common: BTreeSet<&str> = it.next()?.iter().map(String::as_str).collect();
    for p in it {
        let theirs: BTreeSet<&str> = p.iter().map(String::as_str).collect();
        common.retain(|c| theirs.contains(c));
    }
    common.into_iter().max_by_key(|p| (p.len(), std::cmp::Reverse(*p))).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blockpages::page;
    use vigil_report::MaybeBinary;

    fn member(seq: i64, key: &str, cc: &str, asn: u32, body: &str) -> Member {
        let p = page(String::new(), &MaybeBinary::from(body), "", "");
        Member {
            seq,
            measurement_id: format!("m{seq}"),
            key_id: key.into(),
            cc: cc.into(),
            asn,
            seen_at: String::new(),
            signature: p.signature,
        }
    }

    #[test]
    fn near_duplicates_cluster_across_probes_and_others_stay_apart() {
        let block = |n: u32| {
            format!(
                "<h1>Access restricted</h1><p>The page you requested is blocked by the national telecommunications authority under decision {n}. Contact your provider.</p>"
            )
        };
        let members = vec![
            member(1, "k1", "RU", 1, &block(7)),
            member(
                2,
                "k2",
                "RU",
                2,
                "<p>A recipe blog about sourdough bread, starters and long fermentation at home</p>",
            ),
            member(3, "k3", "RU", 3, &block(99)),
            member(4, "k1", "RU", 1, &block(12)),
        ];
        let params = Params::default();
        let clusters = cluster(&members, &params);
        assert_eq!(clusters, vec![vec![0, 2, 3], vec![1]]);
        let big: Vec<&Member> = clusters[0].iter().map(|&i| &members[i]).collect();
        assert!(publishable(&big, &params));
        assert!(!publishable(&[&members[1]], &params));
        let one_probe_one_network = [&members[0], &members[3]];
        assert!(!publishable(&one_probe_one_network, &params));
        assert_eq!(cluster_id("m1"), cluster_id("m1"));
        assert_eq!(cluster_id("m1").len(), 16);
    }

    #[test]
    fn the_common_phrase_is_the_longest_all_members_hold() {
        let a = vec!["Access restricted".to_string(), "Blocked by the national authority".to_string(), "x".repeat(9)];
        let b = vec!["Blocked by the national authority".to_string(), "Access restricted".to_string()];
        assert_eq!(common_phrase([a.as_slice(), b.as_slice()]).as_deref(), Some("Blocked by the national authority"));
        let c = vec!["Something else".to_string()];
        assert_eq!(common_phrase([a.as_slice(), c.as_slice()]), None);
    }
}
