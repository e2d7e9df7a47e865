//! Robust statistics: median and the MAD scale (1.4826 × median absolute deviation).

/// The median; None for an empty slice. Reorders `v`.
pub(crate) fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Median and robust scale (1.4826 × MAD, a consistent estimator of sigma for normal data).
pub(crate) fn median_scale(v: &[f64]) -> Option<(f64, f64)> {
    let mut w = v.to_vec();
    let m = median(&mut w)?;
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    let mad = median(&mut dev)?;
    Some((m, 1.4826 * mad))
}

/// The median of integers (the lower middle for an even count, so it is a real value).
pub(crate) fn median_i64(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[(v.len() - 1) / 2])
}

/// Robust scale of integers (1.4826 × MAD), rounded.
pub(crate) fn scale_i64(v: &[i64]) -> i64 {
    let mut w = v.to_vec();
    let Some(m) = median_i64(&mut w) else { return 0 };
    let mut dev: Vec<i64> = v.iter().map(|x| (x - m).abs()).collect();
    (median_i64(&mut dev).unwrap_or(0) as f64 * 1.4826).round() as i64
}

/// The most frequent value (ties: the smallest).
pub(crate) fn mode<T: Ord + Copy>(v: impl IntoIterator<Item = T>) -> Option<T> {
    let mut counts = std::collections::BTreeMap::new();
    for x in v {
        *counts.entry(x).or_insert(0usize) += 1;
    }
    let best = counts.values().copied().max()?;
    counts.into_iter().find(|(_, c)| *c == best).map(|(x, _)| x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_ignore_outliers() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        let (m, s) = median_scale(&[1.0, 1.1, 0.9, 1.0, 100.0]).unwrap();
        assert_eq!(m, 1.0);
        assert!((s - 0.14826).abs() < 1e-9, "{s}");
        assert_eq!(median_i64(&mut [5, 1, 9, 3]), Some(3));
        assert_eq!(scale_i64(&[10, 10, 10, 1000]), 0);
        assert_eq!(mode([3, 1, 3, 1, 2]), Some(1));
    }
}
