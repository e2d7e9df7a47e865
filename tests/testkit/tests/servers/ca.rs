//! The lab CA: certificates chain to it, expire when told, and cover IDNs and IPs.

use vigil_testkit::TestCa;

#[test]
fn writes_its_certificate_as_pem() {
    let ca = TestCa::new();
    let dir = std::env::temp_dir().join(format!("vigil-testkit-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = ca.write_pem(&dir);
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(pem, ca.cert_pem());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn leaves_carry_dns_names_punycode_and_ips() {
    let ca = TestCa::new();
    let (cert, _key) = ca.leaf(&["xn--mnchen-3ya.lab.test", "127.0.0.1"]);
    let der = cert.as_ref();
    let contains = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"xn--mnchen-3ya.lab.test"));
    assert!(contains(&[127, 0, 0, 1]));
    assert_ne!(ca.leaf(&["a.lab.test"]).0, ca.leaf_expired(&["a.lab.test"]).0);
}
