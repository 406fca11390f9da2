//! Stripe takes amounts as integers in the currency's smallest unit: cents for EUR and
//! USD, whole yen for JPY ("zero-decimal currencies"), thousandths for KWD and the other
//! three-decimal currencies (whose last digit Stripe wants 0, which a two-place amount
//! always gives).

use orderflow_domain::Decimal;

/// Stripe's zero-decimal currencies (stripe.com/docs/currencies#zero-decimal).
const ZERO_DECIMAL: [&str; 16] = [
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

/// Stripe's three-decimal currencies (stripe.com/docs/currencies#three-decimal).
const THREE_DECIMAL: [&str; 5] = ["BHD", "JOD", "KWD", "OMR", "TND"];

/// `amount` in the smallest unit of `currency`, or `None` when it has no exact one (a
/// fraction of a yen) or does not fit.
pub fn minor_units(amount: Decimal, currency: &str) -> Option<i64> {
    let scale = if ZERO_DECIMAL.contains(&currency) {
        0
    } else if THREE_DECIMAL.contains(&currency) {
        3
    } else {
        2
    };
    let scaled = amount * Decimal::from(10_i64.pow(scale));
    if !scaled.fract().is_zero() || scaled.is_sign_negative() {
        return None;
    }
    i64::try_from(scaled.trunc()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_sent_in_the_smallest_unit_of_their_currency() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(minor_units(d("25.99"), "EUR"), Some(2599));
        assert_eq!(minor_units(d("10.00"), "USD"), Some(1000));
        assert_eq!(minor_units(d("0.01"), "USD"), Some(1));
        assert_eq!(minor_units(d("500.00"), "JPY"), Some(500));
        assert_eq!(minor_units(d("500.50"), "JPY"), None);
        assert_eq!(minor_units(d("10.00"), "KWD"), Some(10_000));
        assert_eq!(minor_units(d("-1.00"), "EUR"), None);
    }
}
