//! Blockpage discovery over HTTP: `GET /api/v1/blockpage-candidates` (public: the published
//! clusters with scrubbed evidence) and the operator's promotion and withdrawal of a cluster's
//! fingerprint, which `GET /api/v1/probe-config` then carries.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use vigil_report::protocol::LocalFingerprint;

use crate::api_admin::authorize;
use crate::blockpages::{self, MAX_TEXT_BYTES, cut, normalise_pattern};
use crate::blockpages_cluster::{self as clusters, Member, Params, cluster_id, common_phrase, publishable};
use crate::blockpages_store::{self as store, Op};
use crate::error::{ApiCode, HttpError};
use crate::server::{AppState, now_rfc3339};

/// Clusters per page: default and most.
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 50;
/// The deepest offset.
pub const MAX_OFFSET: usize = 10_000;
/// Members a cluster shows as evidence (titles, excerpts, measurement ids).
pub const SAMPLE: usize = 5;
/// Bytes of each published excerpt (cut at a character boundary).
pub const EXCERPT_BYTES: usize = 280;
/// Networks a cluster lists.
pub const MAX_NETWORKS: usize = 50;
/// Members whose phrases and pages a suggestion and a promotion check (the oldest).
pub const MAX_CHECKED: usize = 500;
/// Bytes of a promoted pattern.
pub const MAX_PATTERN_BYTES: usize = 200;
/// Active promoted fingerprints (what a probe configuration carries).
pub const MAX_FINGERPRINTS: usize = 500;
/// A cluster id.
pub const CLUSTER_ID_PATTERN: &str = "^[0-9a-f]{16}$";

/// A network a cluster was seen in (never an address).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Network {
    pub cc: String,
    pub asn: u32,
}

/// A published cluster of unexplained `http-diff` pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Stable while its earliest member is kept: derived from that measurement's id.
    pub id: String,
    pub size: usize,
    pub probes: usize,
    pub networks: Vec<Network>,
    pub countries: Vec<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub domains: Vec<String>,
    pub sample_titles: Vec<String>,
    pub excerpts: Vec<String>,
    /// Measurement ids (`/api/v1/measurements/{id}`), the oldest first.
    pub evidence: Vec<String>,
    /// A literal phrase every checked member's page holds, if any.
    pub suggested_pattern: Option<String>,
    /// The active fingerprint promoted from this cluster, if any.
    pub fingerprint: Option<String>,
}

/// One page of clusters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    /// Candidate pages kept.
    pub candidates: usize,
    /// Published clusters.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub clusters: Vec<Cluster>,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// The candidates and their published clusters (member indexes), largest first.
#[derive(Debug)]
pub struct Clustered {
    members: Vec<Member>,
    groups: Vec<Vec<usize>>,
}

/// The last clustering, with the candidates' (count, newest seq) it was made from: candidates
/// only change by insertion and pruning, which change that key.
#[derive(Debug, Default)]
pub struct Cache(Mutex<Option<(Version, Arc<Clustered>)>>);

/// The candidates' count and newest seq (`blockpages_store::version`).
type Version = (i64, i64);

fn published(conn: &Connection, params: &Params, cache: &Cache) -> rusqlite::Result<Arc<Clustered>> {
    let key = store::version(conn)?;
    if let Some((k, c)) = cache.0.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
        && *k == key
    {
        return Ok(c.clone());
    }
    let members = store::members(conn)?;
    let groups = clusters::cluster(&members, params)
        .into_iter()
        .filter(|g| publishable(&g.iter().map(|&i| &members[i]).collect::<Vec<_>>(), params))
        .collect();
    let clustered = Arc::new(Clustered { members, groups });
    *cache.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((key, clustered.clone()));
    Ok(clustered)
}

fn scrub(s: &str) -> String {
    vigil_report::scrub::scrub(s, &BTreeSet::new())
}

/// OONI's `YYYY-MM-DD HH:MM:SS` as RFC 3339.
fn rfc3339(t: &str) -> String {
    if t.len() == 19 && t.as_bytes()[10] == b' ' { format!("{}T{}Z", &t[..10], &t[11..]) } else { t.to_string() }
}

fn describe(
    conn: &Connection,
    members: &[Member],
    group: &[usize],
    active: &HashMap<String, String>,
) -> rusqlite::Result<Cluster> {
    let of = |i: &usize| &members[*i];
    let id = cluster_id(&members[group[0]].measurement_id);
    let probes: BTreeSet<&str> = group.iter().map(|i| of(i).key_id.as_str()).collect();
    let networks: BTreeSet<Network> = group.iter().map(|i| Network { cc: of(i).cc.clone(), asn: of(i).asn }).collect();
    let countries: BTreeSet<String> = networks.iter().map(|n| n.cc.clone()).collect();
    let first = group.iter().map(|i| &of(i).seen_at).min().cloned().unwrap_or_default();
    let last = group.iter().map(|i| &of(i).seen_at).max().cloned().unwrap_or_default();
    let mut titles = Vec::new();
    let mut domains = Vec::new();
    let mut excerpts = Vec::new();
    for i in group.iter().take(SAMPLE) {
        let Some(d) = store::detail(conn, of(i).seq)? else { continue };
        if !d.title.is_empty() && !titles.contains(&d.title) {
            titles.push(d.title);
        }
        if !d.domain.is_empty() && !domains.contains(&d.domain) {
            domains.push(d.domain);
        }
        excerpts.push(scrub(cut(&d.text, EXCERPT_BYTES)));
    }
    let phrases = group
        .iter()
        .take(MAX_CHECKED)
        .map(|i| store::phrases(conn, of(i).seq))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Cluster {
        fingerprint: active.get(&id).cloned(),
        id,
        size: group.len(),
        probes: probes.len(),
        networks: networks.into_iter().take(MAX_NETWORKS).collect(),
        countries: countries.into_iter().collect(),
        first_seen: rfc3339(&first),
        last_seen: rfc3339(&last),
        domains,
        sample_titles: titles.iter().map(|t| scrub(t)).collect(),
        excerpts,
        evidence: group.iter().take(SAMPLE).map(|i| of(i).measurement_id.clone()).collect(),
        suggested_pattern: common_phrase(phrases.iter().map(Vec::as_slice)).map(|p| scrub(&p)),
    })
}

fn active_by_cluster(conn: &Connection) -> rusqlite::Result<HashMap<String, String>> {
    Ok(store::active(conn)?.into_iter().map(|(c, f)| (c, f.name)).collect())
}

/// A page of the published clusters.
pub fn listing(
    conn: &Connection,
    params: &Params,
    cache: &Cache,
    offset: usize,
    limit: usize,
) -> rusqlite::Result<Listing> {
    let c = published(conn, params, cache)?;
    let (members, groups) = (&c.members, &c.groups);
    let active = active_by_cluster(conn)?;
    let clusters = groups
        .iter()
        .skip(offset)
        .take(limit)
        .map(|g| describe(conn, members, g, &active))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Listing { candidates: members.len(), total: groups.len(), offset, limit, clusters })
}

/// `GET /api/v1/blockpage-candidates`.
pub async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Result<Json<Listing>, HttpError> {
    let params = state.config.blockpages;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let offset = q.offset.unwrap_or(0).min(MAX_OFFSET);
    let s = state.clone();
    Ok(Json(state.read(move |conn| listing(conn, &params, &s.blockpages, offset, limit)).await?))
}

/// The body of a promotion (all optional: `{}` or nothing promotes the suggested pattern).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    pub pattern: Option<String>,
}

/// A cluster's members as a promotion checks them.
struct Checked {
    cluster: Cluster,
    /// (measurement id, normalised text, the page as the probe's matcher sees it)
    pages: Vec<(String, String, String)>,
}

fn find_cluster(conn: &Connection, params: &Params, cache: &Cache, id: &str) -> rusqlite::Result<Option<Checked>> {
    let c = published(conn, params, cache)?;
    let (members, groups) = (&c.members, &c.groups);
    let Some(group) = groups.iter().find(|g| cluster_id(&members[g[0]].measurement_id) == id) else {
        return Ok(None);
    };
    let cluster = describe(conn, members, group, &active_by_cluster(conn)?)?;
    let mut pages = Vec::new();
    for &i in group.iter().take(MAX_CHECKED) {
        let m = &members[i];
        let text = store::detail(conn, m.seq)?.map(|d| d.text).unwrap_or_default();
        let raw = crate::store::measurement(conn, &m.measurement_id)?
            .and_then(|s| blockpages::body_text(&s.payload))
            .unwrap_or_default();
        pages.push((m.measurement_id.clone(), text, raw));
    }
    Ok(Some(Checked { cluster, pages }))
}

fn bad_pattern(message: String) -> HttpError {
    HttpError::new(StatusCode::UNPROCESSABLE_ENTITY, ApiCode::BadPattern, message)
}

/// Why `pattern` cannot be promoted for these pages, if it cannot.
pub fn check_pattern(pattern: &str, pages: &[(String, String, String)]) -> Result<(), String> {
    if pattern.trim().is_empty() {
        return Err("the pattern is empty".into());
    }
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!("the pattern is {} bytes, over the limit of {MAX_PATTERN_BYTES}", pattern.len()));
    }
    if pattern.chars().any(char::is_control) {
        return Err("the pattern holds a control character".into());
    }
    let normal = normalise_pattern(pattern);
    if normal.is_empty() {
        return Err("the pattern has no word left once normalised (digits, URLs and punctuation are ignored)".into());
    }
    for (id, text, raw) in pages {
        // A member's kept text is cut at MAX_TEXT_BYTES: past it only the page itself decides.
        let in_text = text.contains(&normal) || text.len() >= MAX_TEXT_BYTES;
        if !in_text || !raw.contains(pattern) {
            return Err(format!(
                "the pattern {pattern:?} is not in the page of member {id} ({} of the cluster's members checked)",
                pages.len()
            ));
        }
    }
    Ok(())
}

/// `POST /api/v1/admin/blockpage-candidates/{id}/promote`: a local fingerprint from a cluster.
pub async fn promote(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<LocalFingerprint>, HttpError> {
    authorize(&state, &headers)?;
    let req: PromoteRequest = if body.iter().all(u8::is_ascii_whitespace) {
        PromoteRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            HttpError::bad_request(ApiCode::MalformedJson, format!("a promotion is {{\"pattern\": text}}: {e}"))
        })?
    };
    promote_cluster(&state, id, req.pattern).await.map(Json)
}

/// Promote cluster `id` with `pattern` (None: its suggested pattern), once checked.
pub async fn promote_cluster(
    state: &AppState,
    id: String,
    pattern: Option<String>,
) -> Result<LocalFingerprint, HttpError> {
    let params = state.config.blockpages;
    let wanted = id.clone();
    let s = state.clone();
    let (found, active) = state
        .read(move |conn| Ok((find_cluster(conn, &params, &s.blockpages, &wanted)?, store::active(conn)?)))
        .await?;
    let Some(found) = found else {
        return Err(HttpError::not_found(format!("no published blockpage cluster {id}")));
    };
    let pattern = match pattern.or(found.cluster.suggested_pattern.clone()) {
        Some(p) => p,
        None => return Err(bad_pattern("no phrase is common to every member: give a \"pattern\"".into())),
    };
    check_pattern(&pattern, &found.pages).map_err(bad_pattern)?;
    if active.len() >= MAX_FINGERPRINTS && !active.iter().any(|(c, _)| *c == id) {
        return Err(HttpError::new(
            StatusCode::CONFLICT,
            ApiCode::TooManyFingerprints,
            format!("{MAX_FINGERPRINTS} fingerprints are active: withdraw one first"),
        ));
    }
    let fingerprint = LocalFingerprint {
        name: format!("local.{id}"),
        location_found: "body".into(),
        pattern_type: "contains".into(),
        pattern,
        // `ZZ` (unknown) is no country: a match there only counts with a control difference.
        expected_countries: found
            .cluster
            .countries
            .iter()
            .map(|c| c.to_ascii_uppercase())
            .filter(|c| c != "ZZ" && c.len() == 2)
            .collect(),
    };
    let op = Op::Promote { cluster_id: id, fingerprint: fingerprint.clone() };
    state.writer.blockpages(op, now_rfc3339()).await.map_err(HttpError::storage)?;
    Ok(fingerprint)
}

/// The answer to a withdrawal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawn {
    pub cluster_id: String,
    pub name: String,
}

/// `POST /api/v1/admin/blockpage-candidates/{id}/withdraw`: probes stop receiving its fingerprint.
pub async fn withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Withdrawn>, HttpError> {
    authorize(&state, &headers)?;
    let op = Op::Withdraw { cluster_id: id.clone() };
    if state.writer.blockpages(op, now_rfc3339()).await.map_err(HttpError::storage)? {
        Ok(Json(Withdrawn { name: format!("local.{id}"), cluster_id: id }))
    } else {
        Err(HttpError::not_found(format!("no active fingerprint was promoted from cluster {id}")))
    }
}
