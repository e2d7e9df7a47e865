//! The statistics of the throttling decision: medians, the coefficient of variation and an exact
//! one-sided Mann-Whitney test for small samples (every split of the pooled values is counted, so
//! ties are handled exactly; 8 vs 8 is 12,870 splits).

/// The median of `values` (`None` when empty).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Standard deviation over mean (`None` for fewer than two values or a zero mean).
pub fn coefficient_of_variation(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some(var.sqrt() / mean)
}

/// Mann-Whitney U of `low` against `high`: pairs with `l < h`, ties counting one half.
fn u_statistic(low: &[f64], high: &[f64]) -> f64 {
    let mut u = 0.0;
    for l in low {
        for h in high {
            if l < h {
                u += 1.0;
            } else if l == h {
                u += 0.5;
            }
        }
    }
    u
}

/// Exact one-sided p-value that `low` tends to be smaller than `high` (H0: same distribution):
/// the share of the splits of the pooled values into groups of those sizes whose U is at least
/// the observed one. `None` when a group is empty or the samples are too large (> 12 each).
pub fn mann_whitney_less(low: &[f64], high: &[f64]) -> Option<f64> {
    let (n, m) = (low.len(), high.len());
    if n == 0 || m == 0 || n > 12 || m > 12 {
        return None;
    }
    let observed = u_statistic(low, high);
    let pooled: Vec<f64> = low.iter().chain(high).copied().collect();
    let total = pooled.len();
    let (mut at_least, mut splits) = (0u64, 0u64);
    // Every subset of size n (as a bit mask) is one split.
    for mask in 0u32..(1 << total) {
        if mask.count_ones() as usize != n {
            continue;
        }
        let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(m));
        for (i, x) in pooled.iter().enumerate() {
            if mask & (1 << i) != 0 { a.push(*x) } else { b.push(*x) }
        }
        splits += 1;
        if u_statistic(&a, &b) >= observed - 1e-9 {
            at_least += 1;
        }
    }
    Some(at_least as f64 / splits as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_spread() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert!(coefficient_of_variation(&[10.0, 10.0, 10.0]).unwrap() < 1e-12);
        assert!(coefficient_of_variation(&[1.0, 10.0]).unwrap() > 1.0);
    }

    #[test]
    fn exact_mann_whitney_matches_the_tables() {
        // 4 vs 4, complete separation: 1 split of 70 is as extreme.
        let p = mann_whitney_less(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0]).unwrap();
        assert!((p - 1.0 / 70.0).abs() < 1e-12, "{p}");
        // One swap: U = 15 of 16; P(U >= 15) = 2/70.
        let p = mann_whitney_less(&[1.0, 2.0, 3.0, 5.0], &[4.0, 6.0, 7.0, 8.0]).unwrap();
        assert!((p - 2.0 / 70.0).abs() < 1e-12, "{p}");
        // The wrong direction is not significant.
        let p = mann_whitney_less(&[5.0, 6.0, 7.0, 8.0], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!((p - 1.0).abs() < 1e-12, "{p}");
        // 2 vs 2 can never reach 0.05 (1/6 at best).
        let p = mann_whitney_less(&[1.0, 2.0], &[3.0, 4.0]).unwrap();
        assert!((p - 1.0 / 6.0).abs() < 1e-12, "{p}");
        // All tied: nothing to see.
        assert_eq!(mann_whitney_less(&[1.0; 4], &[1.0; 4]), Some(1.0));
        assert_eq!(mann_whitney_less(&[], &[1.0]), None);
    }
}
