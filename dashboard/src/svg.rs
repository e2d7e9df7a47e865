//! Timelines drawn as inline SVG: platforms × time, each run of equal cells one rectangle with
//! its tooltip, Okabe–Ito colours plus patterns (readable in greyscale and by colour-blind
//! readers), a title and description for screen readers, a table alternative, and the layout
//! mirrored for right-to-left languages (time flows from right to left there).

use maud::{Markup, html};

use crate::i18n::{Dir, Lang};
use crate::model::{Partial, State, Timeline};
use crate::words;
use crate::xml::clean;

const W: f64 = 960.0;
const LABEL_W: f64 = 120.0;
const PAD: f64 = 8.0;
const AXIS_H: f64 = 22.0;
const ROW_H: f64 = 18.0;
const GAP: f64 = 3.0;
const SPARK_W: f64 = 300.0;
const SPARK_H: f64 = 16.0;
/// Above this many runs a chart draws one path per platform and state, without tooltips (the
/// table alternative has the periods), so a noisy month stays light.
const MAX_RECTS: usize = 600;
/// The table alternative lists at most this many periods (the timeline JSON has them all).
const MAX_TABLE: usize = 100;

/// The pattern over a state's colour: (rotation, tile), for the states that must read without
/// colour.
fn pattern(s: State) -> Option<(u32, &'static str, &'static str, f64)> {
    match s {
        State::Shutdown => Some((45, "#fff", "M1 0V6M0 1H6", 1.5)),
        State::BlockedDns => Some((45, "#000", "M1 0V6", 2.0)),
        State::BlockedTcpIp => Some((135, "#000", "M1 0V6", 2.0)),
        State::BlockedTlsSni => Some((0, "#000", "M1 0V6", 2.0)),
        State::BlockedHttp => Some((90, "#fff", "M1 0V6", 2.0)),
        State::Throttled => Some((0, "#000", "M2 2h2v2h-2z", 1.0)),
        // Neutral: thin grey hatching, like no event's pattern and unlike no data's flat grey.
        State::CollectorDown => Some((135, "#8C8C8C", "M1 0V2M1 3V5", 1.0)),
        _ => None,
    }
}

/// The fill of a state: its pattern (defined once per page by [`defs`]) or its colour.
pub fn fill(s: State) -> String {
    match pattern(s) {
        Some(_) => format!("url(#p-{})", s.label()),
        None => s.colour().to_string(),
    }
}

/// The patterns, once per page (a hidden SVG every chart's `url(#p-…)` refers to).
pub fn defs() -> Markup {
    html! {
        svg class="defs" width="0" height="0" aria-hidden="true" focusable="false" {
            defs {
                @for s in State::ALL {
                    @if let Some((rot, stroke, d, width)) = pattern(s) {
                        pattern id={ "p-" (s.label()) } width="6" height="6" patternUnits="userSpaceOnUse"
                            patternTransform={ "rotate(" (rot) ")" } {
                            rect width="6" height="6" fill=(s.colour()) {}
                            path d=(d) stroke=(stroke) stroke-opacity=".6" stroke-width=(width) fill=(stroke) {}
                        }
                    }
                }
            }
        }
    }
}

/// The band a state in only some of a country's networks is drawn as: (offset, height) within
/// its row's height `h`, over a light tint of the same fill.
fn band(h: f64) -> (f64, f64) {
    (h * 0.3, h * 0.4)
}

/// The tint under a partial cell's band.
const TINT: &str = ".3";

/// One path per state (and partial scope: a thin band): a subpath per run, in cell units
/// (`M i y h len v H h -len z`; the group's transform scales and mirrors them), for a compact chart.
fn paths(cells: &[(State, Option<Partial>)], y: f64) -> Vec<((State, bool), String)> {
    let mut by: Vec<((State, bool), String)> = Vec::new();
    for (i, len, (s, p)) in runs(cells) {
        let (dy, h) = if p.is_some() { band(ROW_H) } else { (0.0, ROW_H) };
        let d = format!("M{i} {}h{len}v{}h-{len}z", n(y + dy), n(h));
        let key = (s, p.is_some());
        match by.iter_mut().find(|(t, _)| *t == key) {
            Some((_, path)) => path.push_str(&d),
            None => by.push((key, d)),
        }
    }
    by
}

/// `in 1 of 3 networks`.
pub fn partial_words(lang: &Lang, p: Partial) -> String {
    lang.f("in_networks", &[("affected", &p.affected), ("networks", &lang.n("of_networks_n", p.networks))])
}

/// Whether any cell of the timeline holds in only some networks.
pub fn has_partial(t: &Timeline) -> bool {
    t.rows.iter().any(|r| r.partial.iter().any(Option::is_some))
}

/// One decimal at most.
fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 { format!("{}", r as i64) } else { format!("{r:.1}") }
}

/// Runs of equal cells: (first index, length, cell).
pub fn runs<T: Copy + PartialEq>(cells: &[T]) -> Vec<(usize, usize, T)> {
    let mut out: Vec<(usize, usize, T)> = Vec::new();
    for (i, &s) in cells.iter().enumerate() {
        match out.last_mut() {
            Some((_, len, last)) if *last == s => *len += 1,
            _ => out.push((i, 1, s)),
        }
    }
    out
}

/// Horizontal placement in a plot of `width` starting at `left`, mirrored for RTL.
struct Axis {
    left: f64,
    width: f64,
    total: f64,
    n: usize,
    rtl: bool,
}

impl Axis {
    /// (x, w) of cells `i .. i + len`.
    fn span(&self, i: usize, len: usize) -> (f64, f64) {
        let step = self.width / self.n.max(1) as f64;
        let (x, w) = (self.left + i as f64 * step, len as f64 * step);
        if self.rtl { (self.total - x - w, w) } else { (x, w) }
    }
}

/// Cell units to the plot: scale by the cell width, mirrored for RTL.
fn cells_transform(ax: &Axis) -> String {
    let step = ax.width / ax.n.max(1) as f64;
    if ax.rtl {
        format!("translate({} 0) scale(-{} 1)", n(ax.total - ax.left), step)
    } else {
        format!("translate({} 0) scale({} 1)", n(ax.left), step)
    }
}

fn tip(lang: &Lang, t: &Timeline, platform: &str, i: usize, len: usize, s: State, p: Option<Partial>) -> String {
    let from = t.from + i as i64 * t.bucket;
    let to = from + len as i64 * t.bucket;
    let state = match p {
        Some(p) => format!("{} ({})", words::state(lang, s), partial_words(lang, p)),
        None => words::state(lang, s).to_string(),
    };
    format!("{}: {state} · {} – {} UTC", clean(platform), words::utc_minutes(from), words::utc_minutes(to))
}

/// The day ticks: (time, label), at most about ten.
fn ticks(t: &Timeline) -> Vec<(i64, String)> {
    const DAY: i64 = 86_400;
    let days = ((t.to - t.from) / DAY).max(1);
    let step = DAY * ((days + 9) / 10).max(1);
    let mut out = Vec::new();
    let mut at = (t.from + DAY - 1).div_euclid(DAY) * DAY;
    if t.to - t.from <= 2 * DAY {
        // Short periods: every six hours.
        at = (t.from + 6 * 3600 - 1).div_euclid(6 * 3600) * 6 * 3600;
        while at < t.to {
            out.push((at, words::utc_minutes(at)[5..].to_string()));
            at += 6 * 3600;
        }
        return out;
    }
    while at < t.to {
        out.push((at, words::utc_day(at)[5..].to_string()));
        at += step;
    }
    out
}

/// A link for a day tick: the page zoomed into the day starting at the given time.
pub type Zoom<'a> = &'a dyn Fn(i64) -> String;

/// The full chart: one row per platform. `id` makes the title and description ids unique;
/// `mark` outlines a period (an event's); `zoom` makes each day's label a link to that day.
pub fn timeline(
    lang: &Lang,
    t: &Timeline,
    title: &str,
    desc: &str,
    id: &str,
    mark: Option<(i64, i64)>,
    zoom: Option<Zoom<'_>>,
) -> Markup {
    let rtl = lang.dir == Dir::Rtl;
    let height = AXIS_H + t.rows.len().max(1) as f64 * (ROW_H + GAP) + PAD;
    let ax = Axis { left: LABEL_W, width: W - LABEL_W - PAD, total: W, n: t.len(), rtl };
    let x_of = |at: i64| {
        let f = (at - t.from) as f64 / (t.to - t.from).max(1) as f64;
        let x = LABEL_W + f * ax.width;
        if rtl { W - x } else { x }
    };
    let (label_x, anchor) = if rtl { (W - LABEL_W + 6.0, "start") } else { (LABEL_W - 6.0, "end") };
    let bottom = height - PAD;
    let rects = t.rows.iter().map(|r| runs(&r.keyed()).len()).sum::<usize>() <= MAX_RECTS;
    html! {
        svg class="timeline" viewBox={ "0 0 " (n(W)) " " (n(height)) } role="img"
            aria-labelledby={ (id) "-t " (id) "-d" } data-from=(t.from) data-to=(t.to) data-bucket=(t.bucket) {
            title id={ (id) "-t" } { (clean(title)) }
            desc id={ (id) "-d" } { (clean(desc)) }
            @for (at, label) in ticks(t) {
                @let x = x_of(at);
                @let room = if rtl { x - 40.0 } else { W - x - 40.0 };
                @if room < 0.0 { line x1=(n(x)) x2=(n(x)) y1="14" y2=(n(bottom)) class="tick" {} }
                @else {
                line x1=(n(x)) x2=(n(x)) y1="14" y2=(n(bottom)) class="tick" {}
                text x=(n(x + if rtl { -3.0 } else { 3.0 })) y="12" class="axis"
                    text-anchor=(if rtl { "end" } else { "start" }) {
                        @match zoom.filter(|_| at % 86_400 == 0) {
                            Some(z) => a href=(z(at)) class="zoom" { title { (lang.f("zoom_day", &[("day", &words::utc_day(at))])) } (label) },
                            None => (label),
                        }
                    }
                }
            }
            @if t.rows.is_empty() {
                text x=(n(W / 2.0)) y=(n(AXIS_H + ROW_H - 4.0)) text-anchor="middle" class="label" { (lang.t("no_data_period")) }
            }
            @for (r, row) in t.rows.iter().enumerate() {
                @let y = AXIS_H + r as f64 * (ROW_H + GAP);
                g data-platform=(clean(&row.platform)) {
                    text x=(n(label_x)) y=(n(y + ROW_H - 5.0)) text-anchor=(anchor) class="label" { (clean(&row.platform)) }
                    @if rects {
                        @for (i, len, (s, p)) in runs(&row.keyed()) {
                            @let (x, w) = ax.span(i, len);
                            rect x=(n(x)) y=(n(y)) width=(n(w)) height=(n(ROW_H)) fill=(fill(s)) data-state=(s.label())
                                fill-opacity=[p.map(|_| TINT)] data-partial=[p.map(|p| format!("{}/{}", p.affected, p.networks))]
                                data-from=(t.from + i as i64 * t.bucket) data-to=(t.from + (i + len) as i64 * t.bucket) {
                                title { (tip(lang, t, &row.platform, i, len, s, p)) }
                            }
                            @if p.is_some() {
                                @let (dy, h) = band(ROW_H);
                                rect class="band" x=(n(x)) y=(n(y + dy)) width=(n(w)) height=(n(h)) fill=(fill(s)) {}
                            }
                        }
                    } @else {
                        g transform=(cells_transform(&ax)) {
                            @for ((s, part), d) in paths(&row.keyed(), y) {
                                path d=(d) fill=(fill(s)) data-state=(s.label()) data-partial=[part.then_some("")] {}
                            }
                        }
                    }
                }
            }
            @if let Some((a, b)) = mark {
                @let (xa, xb) = (x_of(a.max(t.from)), x_of(b.min(t.to)));
                rect class="mark" x=(n(xa.min(xb))) y=(n(AXIS_H - 3.0)) width=(n((xb - xa).abs().max(2.0)))
                    height=(n(bottom - AXIS_H + 3.0)) {}
            }
        }
    }
}

/// A one-row sparkline of the most severe state in each bucket (the overview).
pub fn sparkline(lang: &Lang, t: &Timeline, title: &str, id: &str) -> Markup {
    let rtl = lang.dir == Dir::Rtl;
    let worst = t.worst_keyed();
    let ax = Axis { left: 0.0, width: SPARK_W, total: SPARK_W, n: worst.len(), rtl };
    html! {
        svg class="spark" viewBox={ "0 0 " (n(SPARK_W)) " " (n(SPARK_H)) } role="img" aria-labelledby={ (id) "-t" }
            preserveAspectRatio="none" {
            title id={ (id) "-t" } { (clean(title)) }
            @for (i, len, (s, p)) in runs(&worst) {
                @let (x, w) = ax.span(i, len);
                rect x=(n(x)) y="0" width=(n(w)) height=(n(SPARK_H)) fill=(fill(s)) data-state=(s.label())
                    fill-opacity=[p.map(|_| TINT)] data-partial=[p.map(|p| format!("{}/{}", p.affected, p.networks))] {
                    title { (tip(lang, t, lang.t("all_platforms"), i, len, s, p)) }
                }
                @if p.is_some() {
                    @let (dy, h) = band(SPARK_H);
                    rect class="band" x=(n(x)) y=(n(dy)) width=(n(w)) height=(n(h)) fill=(fill(s)) {}
                }
            }
        }
    }
}

/// The states drawn in these cells, most severe first.
pub fn present<'a>(cells: impl IntoIterator<Item = &'a [State]>) -> Vec<State> {
    let mut seen = [false; State::ALL.len()];
    for row in cells {
        for s in row {
            seen[*s as usize] = true;
        }
    }
    State::ALL.into_iter().filter(|s| seen[*s as usize]).collect()
}

/// The legend: the states present, each with its swatch, and (`partial`) the thin band of a
/// state in only some of the country's networks.
pub fn legend(lang: &Lang, present: &[State], partial: bool) -> Markup {
    let (dy, h) = band(14.0);
    html! {
        ul class="legend" aria-label=(lang.t("legend")) {
            @for s in present {
                @let s = *s;
                li {
                    svg width="14" height="14" aria-hidden="true" focusable="false" {
                        rect width="14" height="14" fill=(fill(s)) stroke="#555" stroke-width=".5" {}
                    }
                    " " (words::state(lang, s))
                }
            }
            @if partial {
                li class="partial" {
                    svg width="14" height="14" aria-hidden="true" focusable="false" {
                        rect width="14" height="14" fill="#555" fill-opacity=(TINT) {}
                        rect y=(n(dy)) width="14" height=(n(h)) fill="#555" {}
                    }
                    " " (lang.t("legend_partial"))
                }
            }
        }
    }
}

/// The chart as a table: every run of a problem state (and of the collector's own downtime),
/// per platform.
pub fn table(lang: &Lang, t: &Timeline, caption: &str) -> Markup {
    let mut lines = Vec::new();
    for row in &t.rows {
        for (i, len, (s, p)) in runs(&row.keyed()) {
            if s.is_problem() || s == State::CollectorDown {
                lines.push((
                    row.platform.as_str(),
                    t.from + i as i64 * t.bucket,
                    t.from + (i + len) as i64 * t.bucket,
                    s,
                    p,
                ));
            }
        }
    }
    let total = lines.len();
    lines.truncate(MAX_TABLE);
    html! {
        @if total > lines.len() {
            p class="more" { (lang.f("table_more", &[("shown", &lines.len()), ("total", &total)])) }
        }
        @if lines.is_empty() {
            p { (lang.t("table_no_problems")) }
        } @else {
            table class="alt" {
                caption { (caption) }
                thead { tr { th scope="col" { (lang.t("col_platform")) } th scope="col" { (lang.t("col_state")) }
                    th scope="col" { (lang.t("col_from")) } th scope="col" { (lang.t("col_to")) } } }
                tbody {
                    @for (platform, a, b, s, p) in lines {
                        tr data-state=(s.label()) data-partial=[p.map(|p| format!("{}/{}", p.affected, p.networks))] {
                            td { (platform) }
                            td { (words::state(lang, s)) @if let Some(p) = p { ", " (partial_words(lang, p)) } }
                            td { (crate::layout::time(a)) }
                            td { (crate::layout::time(b)) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::by_code;
    use crate::model::Row;

    fn tl() -> Timeline {
        use State::*;
        Timeline {
            from: 0,
            to: 4 * 3600,
            bucket: 3600,
            rows: vec![Row {
                platform: "x<y".into(),
                cells: vec![Reachable, BlockedDns, BlockedDns, NoData],
                partial: Vec::new(),
            }],
        }
    }

    #[test]
    fn runs_merge_and_rtl_mirrors_time() {
        assert_eq!(
            runs(&tl().rows[0].cells),
            [(0, 1, State::Reachable), (1, 2, State::BlockedDns), (3, 1, State::NoData)]
        );
        let en = timeline(by_code("en").unwrap(), &tl(), "T", "D", "c", None, None).into_string();
        let ar = timeline(by_code("ar").unwrap(), &tl(), "T", "D", "c", None, None).into_string();
        assert!(en.contains("x&lt;y") && !en.contains("x<y"), "escaped: {en}");
        // The first cell (the earliest hour) is at the left in English, at the right in Arabic.
        assert!(en.contains(r#"<rect x="120" y="22" width="208""#), "{en}");
        assert!(ar.contains(r#"<rect x="632" y="22" width="208""#), "{ar}");
        assert!(en.contains(r#"fill="url(#p-blocked_dns)""#));
        assert!(table(by_code("en").unwrap(), &tl(), "c").into_string().contains("blocked (DNS)"));
    }

    #[test]
    fn the_collectors_downtime_has_its_own_neutral_pattern_legend_and_table_line() {
        let mut t = tl();
        t.rows[0].cells = vec![State::Reachable, State::CollectorDown, State::CollectorDown, State::NoData];
        assert_eq!(State::from_label("collector_down"), Some(State::CollectorDown));
        assert!(!State::CollectorDown.is_problem());
        let (down, none) = (fill(State::CollectorDown), fill(State::NoData));
        assert_eq!((down.as_str(), none.as_str()), ("url(#p-collector_down)", "#E4E4E4"));
        assert!(defs().into_string().contains(r##"<pattern id="p-collector_down""##));
        for (code, words) in [("en", "collector down"), ("ar", "المُجمِّع متوقف")] {
            let lang = by_code(code).unwrap();
            let chart = timeline(lang, &t, "T", "D", "c", None, None).into_string();
            assert!(
                chart.contains(r#"data-state="collector_down""#) && chart.contains(r#"fill="url(#p-collector_down)""#)
            );
            let key = legend(lang, &present([t.rows[0].cells.as_slice()]), false).into_string();
            assert!(key.contains(words), "{code}: {key}");
            let alt = table(lang, &t, "c").into_string();
            assert!(alt.contains(r#"data-state="collector_down""#) && alt.contains(words), "{code}: {alt}");
            assert!(!alt.contains(r#"data-state="no_data""#), "no data is not listed");
        }
    }

    #[test]
    fn a_state_in_some_networks_is_a_thin_band_with_its_count_in_words() {
        let mut t = tl();
        let part = Some(Partial { affected: 1, networks: 3 });
        t.rows[0].partial = vec![None, part, None, None];
        let en = by_code("en").unwrap();
        let chart = timeline(en, &t, "T", "D", "c", None, None).into_string();
        // The first blocked hour (1 of 3 networks) is a tint and a band; the second, country-wide, a full cell.
        assert!(chart.contains(r#"fill-opacity=".3" data-partial="1/3""#), "{chart}");
        assert!(chart.contains(r#"<rect class="band""#));
        assert!(chart.contains("blocked (DNS) (in 1 of 3 networks)"), "the tooltip says it");
        assert_eq!(chart.matches(r#"data-state="blocked_dns""#).count(), 2);
        let alt = table(en, &t, "c").into_string();
        assert!(alt.contains("blocked (DNS), in 1 of 3 networks") && alt.contains("data-partial=\"1/3\""), "{alt}");
        let key = legend(en, &present([t.rows[0].cells.as_slice()]), has_partial(&t)).into_string();
        assert!(key.contains("thin band: in some of the country"), "{key}");
        assert!(!legend(en, &[State::BlockedDns], has_partial(&tl())).into_string().contains("thin band"));
        let ar = table(by_code("ar").unwrap(), &t, "c").into_string();
        assert!(ar.contains("في 1 من 3 شبكات"), "{ar}");
        let two = partial_words(by_code("ar").unwrap(), Partial { affected: 1, networks: 2 });
        assert_eq!(two, "في 1 من شبكتين", "the genitive after من");
        // The sparkline: partial where no platform has the state country-wide.
        assert_eq!(t.worst_keyed()[1], (State::BlockedDns, part));
        assert_eq!(t.worst_keyed()[2], (State::BlockedDns, None));
        assert!(sparkline(en, &t, "S", "s").into_string().contains(r#"data-partial="1/3""#));
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced_in_every_text() {
        let mut t = tl();
        t.rows[0].platform = "ctl\u{1}\u{b}plat\u{fffe}".into();
        let en = by_code("en").unwrap();
        let chart = timeline(en, &t, "T\u{0}", "D\u{1f}", "c", None, None).into_string();
        let spark = sparkline(en, &t, "S\u{ffff}", "s").into_string();
        for svg in [&chart, &spark] {
            assert!(svg.chars().all(crate::xml::allowed), "{svg:?}");
        }
        assert!(chart.contains("ctl\u{fffd}\u{fffd}plat\u{fffd}") && chart.contains("T\u{fffd}"), "{chart}");
    }
}
