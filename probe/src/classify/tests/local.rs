//! Local fingerprints (promoted on the collector, received in the signed probe configuration)
//! through the classifier with the real fingerprint set: the scope rule of national rows.

use vigil_report::protocol::LocalFingerprint;

use super::*;
use crate::fingerprint::{FingerprintSet, Fingerprints};

/// A blockpage no built-in row matches.
const NOVEL: &str = "<html><title>Diqqat</title><body>Ushbu sahifa vakolatli organ qarori bilan cheklangan. \
                     Ref 7731</body></html>";

fn set() -> FingerprintSet {
    let row = LocalFingerprint {
        name: "local.c17".into(),
        location_found: "body".into(),
        pattern_type: "contains".into(),
        pattern: "vakolatli organ qarori bilan cheklangan".into(),
        expected_countries: vec!["UZ".into()],
    };
    let (set, errors) = Fingerprints::with_local(&[row]);
    assert!(errors.is_empty(), "{errors:?}");
    set
}

fn classify(mut k: WebKeys, cc: &str, fingerprints: &FingerprintSet) -> WebKeys {
    let scope = Scope::field();
    let ctx = Context { target: Target::Http, host: Some(HOST), port: 80, probe_cc: cc, fingerprints, scope: &scope };
    apply(&mut k, &ctx);
    k
}

fn novel_page() -> WebKeys {
    let mut k = keys();
    k.tls_handshakes = vec![];
    k.requests = vec![response(&format!("http://{HOST}/"), 200, NOVEL, "Diqqat", &[])];
    k
}

#[test]
fn a_local_row_confirms_in_its_country_and_elsewhere_only_with_a_control_difference() {
    let with_local = set();
    let builtin = FingerprintSet::builtin();

    // In its country, without a control: confirmed, and named like any other row.
    let uz = classify(novel_page(), "UZ", &with_local);
    assert_eq!(verdict(&uz), (Blocking::HttpDiff, Some(false), Some(Mechanism::HttpBlockpage)), "{:?}", uz.x_reasons);
    assert!(uz.x_confirmed);
    assert_eq!(uz.x_fingerprints, ["local.c17"]);
    assert!(uz.x_reasons[0].contains("local.c17"), "{:?}", uz.x_reasons);

    // The built-in rows alone do not know this page.
    let plain = classify(novel_page(), "UZ", &builtin);
    assert!(plain.x_fingerprints.is_empty() && !plain.x_confirmed, "{plain:?}");
    assert_ne!(plain.mechanism, Some(Mechanism::HttpBlockpage));

    // Elsewhere: a match without a control does not confirm...
    let kz = classify(novel_page(), "KZ", &with_local);
    assert_eq!(kz.mechanism, Some(Mechanism::HttpBlockpage));
    assert!(!kz.x_confirmed);
    // ...with a control that gets another page it does...
    let mut k = novel_page();
    k.control = Some(control_ok(&[REAL], 20_000, "Platform home"));
    let differs = classify(k, "KZ", &with_local);
    assert_eq!(verdict(&differs), (Blocking::HttpDiff, Some(false), Some(Mechanism::HttpBlockpage)));
    assert!(differs.x_confirmed);
    // ...and the same page the control gets is no evidence at all.
    let mut k = novel_page();
    k.control = Some(control_ok(&[REAL], NOVEL.len() as i64, "Diqqat"));
    let same = classify(k, "KZ", &with_local);
    assert_eq!(verdict(&same), (Blocking::No, Some(true), None), "{:?}", same.x_reasons);
}
