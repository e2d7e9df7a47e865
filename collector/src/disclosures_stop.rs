//! The importer for Access Now's #KeepItOn STOP dataset (its CSV export): one row per shutdown
//! as the registry curates it, with dates but no time of day and countries by name. A row
//! becomes one disclosure per country and per affected platform (`docs/disclosures.md`).

use std::collections::HashMap;

use crate::disclosures::{
    Disclosure, DisclosureType, FORMAT_VERSION, FileError, Parsed, Progress, RowError, When, canonical_platform,
    date_at, parse_iso_date, read_csv,
};

/// The `source` of every disclosure read from STOP.
pub const SOURCE: &str = "accessnow-stop";

/// The per-platform columns and the Vigil platform each stands for.
const PLATFORM_COLUMNS: &[(&str, &str, &str)] = &[
    ("facebook_affected", "facebook", "Facebook"),
    ("twitter_affected", "x", "Twitter"),
    ("whatsapp_affected", "whatsapp", "WhatsApp"),
    ("instagram_affected", "instagram", "Instagram"),
    ("telegram_affected", "telegram", "Telegram"),
];
const REQUIRED: &[&str] = &["country", "start_date", "shutdown_type"];
/// Platforms named in `other_affected` that Vigil measures.
const KNOWN: &[&str] = &[
    "facebook",
    "instagram",
    "whatsapp",
    "messenger",
    "x",
    "youtube",
    "tiktok",
    "telegram",
    "signal",
    "vk",
    "reddit",
    "linkedin",
    "bluesky",
];

/// Names the crate's table does not hold (or holds under another name).
const EXTRA_COUNTRIES: &[(&str, &str)] = &[
    ("kosovo", "XK"),
    ("somaliland", "SO"),
    ("drc", "CD"),
    ("drcongo", "CD"),
    ("congodrc", "CD"),
    ("congobrazzaville", "CG"),
    ("republicofthecongo", "CG"),
    ("swaziland", "SZ"),
    ("eswatini", "SZ"),
    ("czechia", "CZ"),
    ("northmacedonia", "MK"),
    ("macedonia", "MK"),
    ("capeverde", "CV"),
    ("caboverde", "CV"),
    ("easttimor", "TL"),
    ("timorleste", "TL"),
    ("vatican", "VA"),
    ("uk", "GB"),
    ("usa", "US"),
    ("uae", "AE"),
];

fn fold(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Á' | 'Â' | 'Ä' | 'Å' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ö' | 'Ô' => 'o',
            'ú' | 'ù' | 'û' | 'ü' | 'Ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The ISO 3166-1 alpha-2 code of a country as STOP names it (`Iran (Islamic Republic of)`,
/// `Democratic Republic of the Congo`, `Türkiye`), or of a code already; None if unknown.
pub fn country_code(name: &str) -> Option<String> {
    let name = name.trim();
    if name.len() == 2 && name.bytes().all(|b| b.is_ascii_alphabetic()) {
        return celes::Country::from_alpha2(name).ok().map(|c| c.alpha2.to_string());
    }
    let mut candidates = vec![fold(name)];
    if let Some(i) = name.find('(') {
        candidates.push(fold(&name[..i]));
    }
    for n in candidates.into_iter().filter(|n| !n.is_empty()) {
        if let Some((_, cc)) = EXTRA_COUNTRIES.iter().find(|(k, _)| *k == n) {
            return Some((*cc).to_string());
        }
        let bare = n.strip_prefix("the").unwrap_or(&n).to_string();
        for k in [n.clone(), bare.clone(), format!("the{bare}")] {
            if let Ok(c) = celes::Country::from_name(&k).or_else(|_| celes::Country::from_alias(&k)) {
                return Some(c.alpha2.to_string());
            }
        }
    }
    None
}

/// A STOP date: `M/D/YYYY` (the spreadsheet's export), `YYYY-MM-DD` or `YYYY/MM/DD`.
pub fn stop_date(s: &str) -> Result<When, String> {
    let s = s.trim();
    if let Some(d) = parse_iso_date(s) {
        return d.map(When::day);
    }
    let parts: Vec<&str> = s.split('/').collect();
    let num = |p: &str| {
        (!p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u32>().ok())
            .flatten()
    };
    match parts.as_slice() {
        [m, d, y] if y.len() == 4 => match (num(m), num(d), num(y)) {
            (Some(m), Some(d), Some(y)) => {
                date_at(y as i32, m.min(255) as u8, d.min(255) as u8).map(When::day).map_err(|e| format!("{s:?}: {e}"))
            }
            _ => Err(format!("{s:?}: expected M/D/YYYY or YYYY-MM-DD")),
        },
        _ => Err(format!("{s:?}: expected M/D/YYYY or YYYY-MM-DD")),
    }
}

fn truthy(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "yes" | "y" | "true" | "1" | "x")
}

fn first_url(s: &str) -> Option<String> {
    s.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .find_map(|w| url::Url::parse(w).ok().filter(|u| ["http", "https"].contains(&u.scheme())).map(String::from))
}

type Row<'a> = HashMap<&'a str, &'a str>;

/// The disclosures of one STOP row, or the field that is wrong and why.
pub fn row_disclosures(row: &Row<'_>) -> Result<Vec<Disclosure>, (String, String)> {
    let get = |k: &str| row.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let err = |k: &str, why: String| Err((k.to_string(), why));
    let Some(countries) = get("country") else { return err("country", "required".into()) };
    let mut codes = Vec::new();
    for name in countries.split(';').map(str::trim).filter(|n| !n.is_empty()) {
        match country_code(name) {
            Some(cc) => codes.push(cc),
            None => return err("country", format!("{name:?}: not a country this importer knows")),
        }
    }
    let Some(start) = get("start_date") else { return err("start_date", "required".into()) };
    let start = stop_date(start).map_err(|e| ("start_date".to_string(), e))?;
    let end = get("end_date").map(stop_date).transpose().map_err(|e| ("end_date".to_string(), e))?;
    if end.is_some_and(|e| e.at < start.at) {
        return err("end_date", format!("{} is before the start_date {start}", end.unwrap_or(start)));
    }
    let st = get("shutdown_type").unwrap_or_default().to_ascii_lowercase();
    let ext = get("shutdown_extent").unwrap_or_default().to_ascii_lowercase();
    let throttle = st.contains("throttl");
    let cut = st.contains("shutdown") || st.contains("blackout");
    if !throttle && !cut {
        return err("shutdown_type", format!("{st:?}: expected Shutdown, Throttle or both"));
    }
    let (full, service) = (ext.contains("full"), ext.contains("service"));
    let mut platforms: Vec<(String, String)> = PLATFORM_COLUMNS
        .iter()
        .filter(|(col, _, _)| get(col).is_some_and(truthy))
        .map(|(_, id, name)| (id.to_string(), name.to_string()))
        .collect();
    if let Some(other) = get("other_affected").filter(|o| !truthy(o) && !o.eq_ignore_ascii_case("no")) {
        for name in other.split([',', ';', '/']).map(str::trim).filter(|n| !n.is_empty()) {
            let id = canonical_platform(name);
            let id = if KNOWN.contains(&id.as_str()) { id } else { "other".into() };
            platforms.push((id, name.to_string()));
        }
    }
    let mut services: Vec<String> = platforms.iter().map(|p| p.1.clone()).collect();
    for (col, name) in [("sms_affected", "SMS"), ("phonecall_affected", "phone calls")] {
        if get(col).is_some_and(truthy) {
            services.push(name.into());
        }
    }
    let join = |keys: &[&str], sep: &str| {
        let parts: Vec<&str> = keys.iter().filter_map(|k| get(k)).collect();
        (!parts.is_empty()).then(|| parts.join(sep))
    };
    let mut cause = get("actual_cause").map(String::from);
    if let Some(j) = get("gov_justification") {
        cause = Some(match cause {
            Some(c) => format!("{c}; government justification: {j}"),
            None => format!("government justification: {j}"),
        });
    }
    let source_url = get("info_source_link").and_then(first_url).or_else(|| get("an_link").and_then(first_url));
    // (platform, type): the network as a whole, and each platform of a service-based restriction.
    let mut what: Vec<(String, DisclosureType)> = Vec::new();
    if full || (!service && platforms.is_empty()) {
        let kind = if cut { DisclosureType::Shutdown } else { DisclosureType::Throttled };
        what.push(("all".into(), kind));
    }
    if service || !platforms.is_empty() {
        let kind = if cut { DisclosureType::Blocked } else { DisclosureType::Throttled };
        if platforms.is_empty() {
            what.push(("other".into(), kind));
        }
        for (id, _) in &platforms {
            if !what.iter().any(|(p, _)| p == id) {
                what.push((id.clone(), kind));
            }
        }
    }
    let mut out = Vec::new();
    for cc in &codes {
        for (platform, kind) in &what {
            out.push(Disclosure {
                format_version: FORMAT_VERSION,
                id: None,
                source: SOURCE.into(),
                platform: platform.clone(),
                services: services.clone(),
                country: cc.clone(),
                asn: None,
                region: join(&["geo_scope", "area_name"], ": "),
                network: get("affected_network").map(String::from),
                start,
                end,
                kind: *kind,
                cause: cause.clone(),
                government_request: join(&["ordered_by", "decision_maker"], "; "),
                source_url: source_url.clone(),
                published_at: None,
            });
        }
    }
    Ok(out)
}

/// Parse a STOP CSV export. Columns are matched case-insensitively; columns this importer does
/// not use are ignored (the dataset adds some every year), the required ones must be there.
pub fn parse(text: &str, progress: Progress<'_>) -> Result<Parsed, FileError> {
    let check = |header: &[String]| match REQUIRED.iter().find(|k| !header.iter().any(|h| h == *k)) {
        Some(k) => Err(FileError(format!("line 1: the STOP column {k:?} is missing (is this a STOP export?)"))),
        None => Ok(()),
    };
    read_csv(text, progress, check, |out, line, header, record| {
        if record.iter().all(|f| f.trim().is_empty()) {
            return;
        }
        let row: Row<'_> = header.iter().map(String::as_str).zip(record.iter()).collect();
        match row_disclosures(&row) {
            Ok(ds) => out.rows.extend(ds.into_iter().map(|d| (line, d))),
            Err((field, reason)) => out.errors.push(RowError { line, field: Some(field), reason }),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_by_stop_name() {
        for (name, cc) in [
            ("India", "IN"),
            ("Iran (Islamic Republic of)", "IR"),
            ("Iran", "IR"),
            ("Democratic Republic of the Congo", "CD"),
            ("Russia", "RU"),
            ("Türkiye", "TR"),
            ("Turkey", "TR"),
            ("Myanmar", "MM"),
            ("Ethiopia", "ET"),
            ("Syria", "SY"),
            ("Venezuela", "VE"),
            ("Tanzania", "TZ"),
            ("South Sudan", "SS"),
            ("Sudan", "SD"),
            ("Gambia", "GM"),
            ("Côte d'Ivoire", "CI"),
            ("Palestine", "PS"),
            ("Kosovo", "XK"),
            ("United States", "US"),
            ("pk", "PK"),
        ] {
            assert_eq!(country_code(name).as_deref(), Some(cc), "{name}");
        }
        assert_eq!(country_code("Atlantis"), None);
    }

    #[test]
    fn stop_dates_are_whole_days() {
        assert_eq!(stop_date("3/4/2025").unwrap(), When::day(1_741_046_400));
        assert_eq!(stop_date("2025-03-04").unwrap(), When::day(1_741_046_400));
        assert!(stop_date("13/4/2025").unwrap_err().contains("month 13"));
        assert!(stop_date("4 March 2025").unwrap_err().contains("M/D/YYYY"));
    }

    fn row(pairs: &[(&'static str, &'static str)]) -> Row<'static> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn a_row_becomes_one_disclosure_per_country_and_platform() {
        let r = row(&[
            ("country", "Cameroon; Chad"),
            ("start_date", "1/9/2025"),
            ("end_date", ""),
            ("shutdown_type", "Shutdown"),
            ("shutdown_extent", "Service-based"),
            ("facebook_affected", "Yes"),
            ("twitter_affected", "TRUE"),
            ("whatsapp_affected", "No"),
            ("other_affected", "YouTube, Zoom"),
            ("info_source_link", "see https://example.org/report and more"),
            ("ordered_by", "Ministry"),
        ]);
        let ds = row_disclosures(&r).unwrap();
        let got: Vec<(&str, &str, DisclosureType)> =
            ds.iter().map(|d| (d.country.as_str(), d.platform.as_str(), d.kind)).collect();
        let b = DisclosureType::Blocked;
        assert_eq!(
            got,
            [
                ("CM", "facebook", b),
                ("CM", "x", b),
                ("CM", "youtube", b),
                ("CM", "other", b),
                ("TD", "facebook", b),
                ("TD", "x", b),
                ("TD", "youtube", b),
                ("TD", "other", b)
            ]
        );
        assert!(ds.iter().all(|d| d.end.is_none() && d.source_url.as_deref() == Some("https://example.org/report")));
        assert_eq!(ds[0].government_request.as_deref(), Some("Ministry"));
        let keys: std::collections::HashSet<String> = ds.iter().map(Disclosure::key).collect();
        assert_eq!(keys.len(), ds.len(), "distinct keys");

        let full = row(&[
            ("country", "Iran (Islamic Republic of)"),
            ("start_date", "2025-03-04"),
            ("end_date", "2025-03-05"),
            ("shutdown_type", "Shutdown, Throttle"),
            ("shutdown_extent", "Full network"),
        ]);
        let ds = row_disclosures(&full).unwrap();
        assert_eq!((ds.len(), ds[0].platform.as_str(), ds[0].kind), (1, "all", DisclosureType::Shutdown));
        let slow = row(&[("country", "IR"), ("start_date", "2025-03-04"), ("shutdown_type", "Throttle")]);
        assert_eq!(row_disclosures(&slow).unwrap()[0].kind, DisclosureType::Throttled);
        let bad = row(&[("country", "IR"), ("start_date", "2025-03-04"), ("shutdown_type", "Curfew")]);
        assert_eq!(row_disclosures(&bad).unwrap_err().0, "shutdown_type");
        let bad = row(&[("country", "Atlantis"), ("start_date", "2025-03-04"), ("shutdown_type", "Shutdown")]);
        assert_eq!(row_disclosures(&bad).unwrap_err().0, "country");
    }
}
