//! Timeline charts for people: an SVG with one row per platform and time across, each cell
//! coloured (Okabe–Ito, colour-blind safe) and, for blocking, shutdowns and throttling, patterned
//! (so it reads in greyscale), the events marked, and a text alternative; and its PNG, rendered
//! with `resvg` and an embedded font (DejaVu Sans, `assets/DejaVuSans-LICENSE.txt`) so PNGs have
//! text on machines without fonts. Output is deterministic and has no external resources.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use resvg::tiny_skia;
use resvg::usvg::{self, fontdb};
use time::OffsetDateTime;

use crate::api_events::EventRecord;
use crate::error::ApiCode;
use crate::events::rfc3339_to_unix;
use crate::timeline::{CellState, Timeline};

/// The chart's width in pixels.
pub const WIDTH: f64 = 960.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 24.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
const ROW_H: f64 = 20.0;
const ROW_GAP: f64 = 3.0;
const LANE_H: f64 = 18.0;
const TOP: f64 = 68.0;
/// Events drawn as markers; the rest are only in the text alternative.
const MAX_LANES: usize = 6;
const FONT_FAMILY: &str = "DejaVu Sans, Verdana, Arial, sans-serif";
const FONT_TTF: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// The largest PNG rendered (pixels), against absurd SVGs.
const MAX_PIXELS: u64 = 4096 * 4096;

/// A chart that could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("the SVG does not parse: {0}")]
    Svg(String),
    #[error("the chart is too large to render ({0} × {1} px)")]
    TooLarge(u32, u32),
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

impl ChartError {
    /// A stable short label.
    pub fn label(&self) -> &'static str {
        self.code().label()
    }

    /// The API error code answering it.
    pub fn code(&self) -> ApiCode {
        match self {
            ChartError::Svg(_) => ApiCode::ChartSvgInvalid,
            ChartError::TooLarge(..) => ApiCode::ChartTooLarge,
            ChartError::Encode(_) => ApiCode::ChartPngEncode,
        }
    }
}

/// The state in human words (the legend and the text alternative).
pub fn words(s: CellState) -> &'static str {
    match s {
        CellState::Shutdown => "shutdown",
        CellState::BlockedDns => "blocked (DNS)",
        CellState::BlockedTcpIp => "blocked (TCP/IP)",
        CellState::BlockedTlsSni => "blocked (TLS/SNI)",
        CellState::BlockedHttp => "blocked (HTTP)",
        CellState::Throttled => "throttled",
        CellState::Anomaly => "failures, no event",
        CellState::Reachable => "reachable",
        CellState::CollectorDown => "collector down",
        CellState::NoData => "no data",
    }
}

/// The state's colour (Okabe–Ito; light grey for no data, near white under a grey hatch for
/// the collector's own downtime).
pub fn colour(s: CellState) -> &'static str {
    match s {
        CellState::Shutdown => "#000000",
        CellState::BlockedDns => "#D55E00",
        CellState::BlockedTcpIp => "#CC79A7",
        CellState::BlockedTlsSni => "#E69F00",
        CellState::BlockedHttp => "#0072B2",
        CellState::Throttled => "#F0E442",
        CellState::Anomaly => "#56B4E9",
        CellState::Reachable => "#009E73",
        CellState::CollectorDown => "#F6F6F6",
        CellState::NoData => "#E4E4E4",
    }
}

/// The pattern drawn over the colour: (rotation in degrees, tile content), for the states that
/// must read without colour.
fn pattern(s: CellState) -> Option<(u32, &'static str)> {
    const LINE: &str = r##"<path d="M1 0V6" stroke="#000" stroke-opacity=".55" stroke-width="2"/>"##;
    match s {
        CellState::Shutdown => Some((45, r##"<path d="M1 0V6M0 1H6" stroke="#fff" stroke-width="1.5"/>"##)),
        CellState::BlockedDns => Some((45, LINE)),
        CellState::BlockedTcpIp => Some((135, LINE)),
        CellState::BlockedTlsSni => Some((0, LINE)),
        CellState::BlockedHttp => Some((90, r##"<path d="M1 0V6" stroke="#fff" stroke-width="2"/>"##)),
        CellState::Throttled => Some((0, r##"<circle cx="3" cy="3" r="1.3" fill="#000" fill-opacity=".6"/>"##)),
        // Neutral: thin grey dashes, nothing like an event's pattern nor no data's flat grey.
        CellState::CollectorDown => {
            Some((135, r##"<path d="M1 0V6" stroke="#8C8C8C" stroke-width="1" stroke-dasharray="2 1"/>"##))
        }
        _ => None,
    }
}

/// The `fill` of a state: its colour, or its pattern.
pub fn fill(s: CellState) -> String {
    match pattern(s) {
        Some(_) => format!("url(#p-{})", s.label()),
        None => colour(s).to_string(),
    }
}

/// Text escaped for XML (text and attributes), characters XML 1.0 cannot carry replaced: the one
/// XML escape of the collector and the dashboard.
pub use vigil_dashboard::xml::text as esc;

/// A coordinate: at most one decimal.
fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 { format!("{}", r as i64) } else { format!("{r:.1}") }
}

fn utc(t: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t).ok()
}

/// `2025-03-03 06:00`.
pub fn utc_minutes(t: i64) -> String {
    utc(t).map_or_else(String::new, |d| {
        format!("{}-{:02}-{:02} {:02}:{:02}", d.year(), d.month() as u8, d.day(), d.hour(), d.minute())
    })
}

/// `3 Mar`, with the year when asked.
fn day_label(t: i64, year: bool) -> String {
    let Some(d) = utc(t) else { return String::new() };
    let month = &d.month().to_string()[..3];
    if year { format!("{} {month} {}", d.day(), d.year()) } else { format!("{} {month}", d.day()) }
}

/// A duration in words: `45 min`, `14 h`, `2 d 3 h`.
pub fn duration(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h) {
        (0, 0) => format!("{m} min"),
        (0, h) if m == 0 => format!("{h} h"),
        (0, h) => format!("{h} h {m} min"),
        (d, 0) => format!("{d} d"),
        (d, h) => format!("{d} d {h} h"),
    }
}

fn scope_words(t: &Timeline) -> String {
    match t.scope.asn {
        Some(a) if t.scope.cc.is_empty() => format!("AS{a}"),
        Some(a) => format!("AS{a} ({})", t.scope.cc),
        None => format!("country {}", t.scope.cc),
    }
}

/// A mechanism label in words: `tls_sni_reset` → `TLS SNI reset`.
pub fn mechanism_words(m: &str) -> String {
    let m = m.replace("tcp_ip", "TCP/IP");
    let words: Vec<String> = m
        .split('_')
        .map(|w| match w {
            "dns" | "tcp" | "ip" | "tls" | "sni" | "http" | "https" | "rst" | "eof" | "nxdomain" => {
                w.to_ascii_uppercase()
            }
            w => w.to_string(),
        })
        .collect();
    words.join(" ")
}

/// One event in words, for the markers and the text alternative.
pub fn event_words(e: &EventRecord) -> String {
    let what = match (e.kind.as_str(), e.platforms.is_empty()) {
        ("shutdown", _) | (_, true) => format!("{} (all platforms)", e.kind),
        (kind, false) => format!("{kind} of {}", e.platforms.join(", ")),
    };
    let how = match (&e.mechanism, e.rate_kbps) {
        (Some(m), _) => format!(" ({})", mechanism_words(m)),
        (None, Some(r)) => format!(" (about {r:.0} kbit/s)"),
        _ => String::new(),
    };
    let scope = e.scope.asn.map_or_else(|| e.scope.cc.clone(), |a| format!("{} AS{a}", e.scope.cc));
    let start = rfc3339_to_unix(&e.start).map(utc_minutes).unwrap_or_else(|| e.start.clone());
    let end = match &e.end {
        Some(end) => format!("to {} UTC", rfc3339_to_unix(end).map(utc_minutes).unwrap_or_else(|| end.clone())),
        None => "UTC, ongoing".to_string(),
    };
    let status = if e.status == "confirmed" { String::new() } else { format!(", {}", e.status) };
    format!("{what}{how} in {scope} from {start} {end}{status}")
}

/// The tick step (seconds) for a span: about eight labels at most.
fn tick_step(span: i64) -> i64 {
    const H: i64 = 3600;
    const D: i64 = 86_400;
    let steps = [H, 2 * H, 3 * H, 6 * H, 12 * H, D, 2 * D, 7 * D, 14 * D, 28 * D, 91 * D, 364 * D];
    steps.into_iter().find(|s| span / s <= 8).unwrap_or(364 * D)
}

/// Cells per column: when there are more buckets than pixels, neighbours merge into the most
/// severe of the group (a state in the whole country before the same state in some networks).
fn columns<T: Copy + Ord>(cells: &[T], none: T) -> (usize, Vec<T>) {
    let k = cells.len().div_ceil(PLOT_W as usize).max(1);
    let cols = cells.chunks(k).map(|c| c.iter().copied().min().unwrap_or(none)).collect();
    (k, cols)
}

/// Runs of equal columns: (first column, length, value).
pub fn runs<T: Copy + PartialEq>(cols: &[T]) -> Vec<(usize, usize, T)> {
    let mut out: Vec<(usize, usize, T)> = Vec::new();
    for (i, &s) in cols.iter().enumerate() {
        match out.last_mut() {
            Some(last) if last.2 == s => last.1 += 1,
            _ => out.push((i, 1, s)),
        }
    }
    out
}

/// The band a state in only some of a country's networks is drawn as: (offset, height) in the row.
const BAND: (f64, f64) = (ROW_H * 0.3, ROW_H * 0.4);

/// `in 1 of 3 networks`.
pub fn partial_words(affected: u32, networks: u32) -> String {
    format!("in {affected} of {networks} network{}", if networks == 1 { "" } else { "s" })
}

struct Layout {
    from: i64,
    to: i64,
}

impl Layout {
    fn x(&self, t: i64) -> f64 {
        let span = (self.to - self.from).max(1) as f64;
        LEFT + (t.clamp(self.from, self.to) - self.from) as f64 / span * PLOT_W
    }
}

/// The text alternative: scope, period, coverage, what each platform went through, each event.
pub fn text_alternative(t: &Timeline, title: &str) -> String {
    let mut s = format!(
        "{title}. {} platform(s) in {} from {} to {} UTC in {} cells; {} probe(s) reported.",
        t.rows.len(),
        scope_words(t),
        utc_minutes(t.from),
        utc_minutes(t.to),
        duration(t.bucket),
        t.probes
    );
    if no_data(t) {
        s.push_str(" No data for this period.");
    }
    for row in &t.rows {
        let mut spent: BTreeMap<(CellState, Option<(u32, u32)>), i64> = BTreeMap::new();
        for c in &row.cells {
            let part = c.partial.then(|| (c.affected_networks.unwrap_or(0), c.networks.unwrap_or(0)));
            *spent.entry((c.state, part)).or_default() += t.bucket;
        }
        let notable: Vec<String> = spent
            .iter()
            .filter(|((st, _), _)| !matches!(st, CellState::Reachable | CellState::NoData))
            .map(|((st, part), secs)| match part {
                Some((a, n)) => format!("{} {} for {}", words(*st), partial_words(*a, *n), duration(*secs)),
                None => format!("{} for {}", words(*st), duration(*secs)),
            })
            .collect();
        if !notable.is_empty() {
            let _ = write!(s, " {}: {}.", row.platform, notable.join(", "));
        }
    }
    match t.events.len() {
        0 => s.push_str(" No event in this period."),
        k => {
            let _ = write!(s, " {k} event(s):");
            for (i, e) in sorted_events(t).iter().enumerate() {
                let _ = write!(s, " {}. {}.", i + 1, event_words(e));
            }
        }
    }
    s
}

fn no_data(t: &Timeline) -> bool {
    t.rows.iter().all(|r| r.cells.iter().all(|c| c.state == CellState::NoData))
}

fn sorted_events(t: &Timeline) -> Vec<&EventRecord> {
    let mut ev: Vec<&EventRecord> = t.events.iter().collect();
    ev.sort_by_key(|e| (rfc3339_to_unix(&e.start).unwrap_or(i64::MIN), e.id.clone()));
    ev
}

/// The chart as a standalone SVG document.
pub fn svg(t: &Timeline, title: &str) -> String {
    let l = Layout { from: t.from, to: t.to.max(t.from + 1) };
    let events = sorted_events(t);
    let lanes = events.len().min(MAX_LANES);
    let more = events.len() - lanes;
    let grid_top = TOP + lanes as f64 * LANE_H + if more > 0 { 14.0 } else { 0.0 } + 6.0;
    let rows_h = if t.rows.is_empty() { 3.0 * ROW_H } else { t.rows.len() as f64 * (ROW_H + ROW_GAP) - ROW_GAP };
    let grid_bottom = grid_top + rows_h;

    let mut present: Vec<CellState> = t.rows.iter().flat_map(|r| r.cells.iter().map(|c| c.state)).collect();
    present.sort();
    present.dedup();
    let partial = t.rows.iter().any(|r| r.cells.iter().any(|c| c.partial));

    // The body first (its height is known only at the end).
    let mut b = String::new();
    let _ = write!(
        b,
        "<text x=\"16\" y=\"30\" font-size=\"19\" font-weight=\"bold\">{}</text>\n\
         <text x=\"16\" y=\"52\" font-size=\"12.5\" fill=\"#333\">{} · {} – {} UTC · {} cells · {} probe{}</text>\n",
        esc(title),
        esc(&scope_words(t)),
        utc_minutes(t.from),
        utc_minutes(t.to),
        duration(t.bucket),
        t.probes,
        if t.probes == 1 { "" } else { "s" }
    );

    // Rows: the label, then one path per state (runs merged).
    for (i, row) in t.rows.iter().enumerate() {
        let y = grid_top + i as f64 * (ROW_H + ROW_GAP);
        let label: String = row.platform.chars().take(22).collect();
        let _ = write!(
            b,
            "<g class=\"row\" data-platform=\"{p}\"><text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{p}</text>",
            n(LEFT - 8.0),
            n(y + 14.0),
            p = esc(&label)
        );
        // A state in only some of the country's networks: a light tint and a thin band.
        let states: Vec<(CellState, bool)> = row.cells.iter().map(|c| (c.state, c.partial)).collect();
        let (k, cols) = columns(&states, (CellState::NoData, false));
        let mut paths: BTreeMap<(CellState, bool), (String, String)> = BTreeMap::new();
        for (first, len, key) in runs(&cols) {
            let x0 = l.x(t.from + (first * k) as i64 * t.bucket);
            let x1 = l.x(t.from + ((first + len) * k) as i64 * t.bucket);
            let w = n(x1 - x0);
            let (full, band) = paths.entry(key).or_default();
            let _ = write!(full, "M{} {}h{w}v{}h-{w}z", n(x0), n(y), n(ROW_H));
            if key.1 {
                let _ = write!(band, "M{} {}h{w}v{}h-{w}z", n(x0), n(y + BAND.0), n(BAND.1));
            }
        }
        for ((s, part), (d, band)) in paths {
            if part {
                let _ = write!(
                    b,
                    "<path data-state=\"{l}\" data-partial=\"true\" fill=\"{f}\" fill-opacity=\".3\" d=\"{d}\"/>\
                     <path data-state=\"{l}\" data-partial=\"true\" class=\"band\" fill=\"{f}\" d=\"{band}\"/>",
                    l = s.label(),
                    f = fill(s)
                );
            } else {
                let _ = write!(b, "<path data-state=\"{}\" fill=\"{}\" d=\"{d}\"/>", s.label(), fill(s));
            }
        }
        b.push_str("</g>\n");
    }
    if no_data(t) {
        let _ = writeln!(
            b,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\" fill=\"#333\">No data for this period</text>",
            n(LEFT),
            n(grid_top),
            n(PLOT_W),
            n(rows_h),
            n(LEFT + PLOT_W / 2.0),
            n(grid_top + rows_h / 2.0 + 5.0)
        );
    }

    // Events: one lane each, start and end marked, ongoing open to the right edge with an arrow.
    for (i, e) in events.iter().take(MAX_LANES).enumerate() {
        let start = rfc3339_to_unix(&e.start).unwrap_or(t.from);
        let end = e.end.as_deref().and_then(rfc3339_to_unix);
        let yl = TOP + i as f64 * LANE_H + 14.0;
        let x0 = l.x(start);
        let x1 = end.map_or(LEFT + PLOT_W, |e| l.x(e));
        let mut d = format!("M{} {}H{}", n(x0), n(yl), n(x1));
        if start >= t.from {
            let _ = write!(d, "M{} {}v9", n(x0), n(yl - 4.5));
        }
        if end.is_some_and(|e| e <= t.to) {
            let _ = write!(d, "M{} {}v9", n(x1), n(yl - 4.5));
        }
        let _ = write!(
            b,
            "<g class=\"event\" data-event=\"{}\"><path d=\"{d}\" stroke=\"#000\" stroke-width=\"2\"/>",
            esc(&e.id)
        );
        if end.is_none() {
            let _ = write!(b, "<path d=\"M{} {}l-8 -5v10z\"/>", n(x1), n(yl));
        }
        // Guides through the rows at the start and the end.
        let mut g = String::new();
        if start >= t.from {
            let _ = write!(g, "M{} {}V{}", n(x0), n(yl + 5.0), n(grid_bottom));
        }
        if let Some(e) = end.filter(|&e| e <= t.to) {
            let _ = write!(g, "M{} {}V{}", n(l.x(e)), n(yl + 5.0), n(grid_bottom));
        }
        if !g.is_empty() {
            let _ = write!(
                b,
                "<path d=\"{g}\" stroke=\"#000\" stroke-opacity=\".6\" stroke-dasharray=\"3 3\" fill=\"none\"/>"
            );
        }
        let text = format!("{}. {}", i + 1, event_words(e));
        let (tx, anchor) = if x0 > LEFT + PLOT_W * 0.55 { (x1 - 10.0, "end") } else { (x0 + 5.0, "start") };
        let _ = writeln!(
            b,
            "<text x=\"{}\" y=\"{}\" font-size=\"10.5\" text-anchor=\"{anchor}\">{}</text></g>",
            n(tx),
            n(yl - 4.0),
            esc(&text)
        );
    }
    if more > 0 {
        let _ = writeln!(
            b,
            "<text x=\"{}\" y=\"{}\" font-size=\"10.5\" fill=\"#333\">+{more} more event(s), listed in the text alternative</text>",
            n(LEFT),
            n(TOP + lanes as f64 * LANE_H + 10.0)
        );
    }

    // The time axis, UTC.
    let axis_y = grid_bottom + 4.0;
    let step = tick_step(l.to - l.from);
    let mut ticks = String::new();
    let mut labels = String::new();
    let mut tick = (l.from + step - 1).div_euclid(step) * step;
    let mut last_year = None;
    while tick <= l.to {
        let x = l.x(tick);
        let _ = write!(ticks, "M{} {}v5", n(x), n(axis_y));
        let year = utc(tick).map(|d| d.year());
        let text = if step % 86_400 == 0 || tick % 86_400 == 0 {
            let show_year = last_year != year;
            last_year = year;
            day_label(tick, show_year)
        } else {
            utc(tick).map_or_else(String::new, |d| format!("{:02}:{:02}", d.hour(), d.minute()))
        };
        // Labels at the edges stay inside the plot.
        let anchor = if x - LEFT < 30.0 {
            "start"
        } else if LEFT + PLOT_W - x < 30.0 {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            labels,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"{anchor}\">{text}</text>",
            n(x),
            n(axis_y + 18.0)
        );
        tick += step;
    }
    let _ = writeln!(
        b,
        "<path d=\"M{} {}H{}{ticks}\" stroke=\"#333\" fill=\"none\"/>{labels}\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\" fill=\"#333\">UTC</text>",
        n(LEFT),
        n(axis_y),
        n(LEFT + PLOT_W),
        n(LEFT - 8.0),
        n(axis_y + 18.0)
    );

    // The legend: the states present, then the event marker.
    let mut x = LEFT;
    let mut y = axis_y + 44.0;
    let mut items: Vec<(String, String)> = present.iter().map(|&s| (fill(s), words(s).to_string())).collect();
    if partial {
        items.push(("partial".to_string(), "thin band: in some of the country's networks only".to_string()));
    }
    if !events.is_empty() {
        items.push((String::new(), "event, start to end (arrow: ongoing)".to_string()));
    }
    for (f, text) in &items {
        let w = 24.0 + text.chars().count() as f64 * 6.9 + 16.0;
        if x + w > WIDTH - RIGHT && x > LEFT {
            x = LEFT;
            y += 22.0;
        }
        if f == "partial" {
            let _ = write!(
                b,
                "<rect class=\"legend\" x=\"{x}\" y=\"{}\" width=\"16\" height=\"14\" fill=\"#555\" fill-opacity=\".3\"/>\
                 <rect x=\"{x}\" y=\"{}\" width=\"16\" height=\"{}\" fill=\"#555\"/>",
                n(y - 11.0),
                n(y - 11.0 + 14.0 * 0.3),
                n(14.0 * 0.4),
                x = n(x)
            );
        } else if f.is_empty() {
            let _ = write!(
                b,
                "<path d=\"M{} {}v10M{} {}h14\" stroke=\"#000\" stroke-width=\"2\"/>",
                n(x + 1.0),
                n(y - 10.0),
                n(x),
                n(y - 5.0)
            );
        } else {
            let _ = write!(
                b,
                "<rect class=\"legend\" x=\"{}\" y=\"{}\" width=\"16\" height=\"14\" fill=\"{f}\" stroke=\"#555\" stroke-width=\".5\"/>",
                n(x),
                n(y - 11.0)
            );
        }
        let _ = write!(b, "<text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>", n(x + 22.0), n(y), esc(text));
        x += w;
    }
    b.push('\n');
    let foot_y = y + 26.0;
    let _ = writeln!(
        b,
        "<text x=\"16\" y=\"{}\" font-size=\"10.5\" fill=\"#555\">Source: Vigil measurements. Times in UTC. \
         Lines mark blocking, cross-hatching shutdowns, dots throttling.{}</text>",
        n(foot_y),
        if partial { " A thin band: only some of the country's networks." } else { "" }
    );
    let height = (foot_y + 14.0).ceil();

    // Patterns for the patterned states shown.
    let mut defs = String::new();
    for &s in &present {
        if let Some((angle, content)) = pattern(s) {
            let _ = write!(
                defs,
                "<pattern id=\"p-{}\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" \
                 patternTransform=\"rotate({angle})\"><rect width=\"6\" height=\"6\" fill=\"{}\"/>{content}</pattern>",
                s.label(),
                colour(s)
            );
        }
    }

    let alt = text_alternative(t, title);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         role=\"img\" aria-labelledby=\"chart-title chart-desc\" font-family=\"{FONT_FAMILY}\">\n\
         <title id=\"chart-title\">{}</title>\n<desc id=\"chart-desc\">{}</desc>\n<defs>{defs}</defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n{b}</svg>\n",
        esc(title),
        esc(&alt),
        w = n(WIDTH),
        h = n(height),
    )
}

fn font_db() -> Arc<fontdb::Database> {
    static DB: OnceLock<Arc<fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = fontdb::Database::new();
        db.load_font_data(FONT_TTF.to_vec());
        db.set_sans_serif_family("DejaVu Sans");
        Arc::new(db)
    })
    .clone()
}

/// The SVG rendered to PNG at its own size, text in the embedded font.
pub fn png(svg: &str) -> Result<Vec<u8>, ChartError> {
    let mut opt = usvg::Options { font_family: "DejaVu Sans".to_string(), ..usvg::Options::default() };
    opt.fontdb = font_db();
    let tree = usvg::Tree::from_str(svg, &opt).map_err(|e| ChartError::Svg(e.to_string()))?;
    let size = tree.size().to_int_size();
    let (w, h) = (size.width(), size.height());
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(ChartError::TooLarge(w, h));
    }
    let mut pixmap = tiny_skia::Pixmap::new(w, h).ok_or(ChartError::TooLarge(w, h))?;
    resvg::render(&tree, tiny_skia::Transform::identity(), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| ChartError::Encode(e.to_string()))
}

#[cfg(test)]
#[path = "chart_tests.rs"]
mod tests;
