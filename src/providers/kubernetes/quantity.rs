//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`), parsed exactly so that
//! the server's canonical spelling of a value compares equal to the spelling a
//! spec chose.
//!
//! Invariant: no floating point; a quantity is an integer times powers of ten
//! and two, compared by exact integer arithmetic.

use std::cmp::Ordering;

/// A parsed quantity: `(-1)^negative × digits × 10^exp10 × 2^exp2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Quantity {
    negative: bool,
    digits: u128,
    exp10: i32,
    exp2: u32,
}

/// The suffixes of the Kubernetes quantity grammar with their powers of ten or two.
const DECIMAL_SUFFIXES: &[(&str, i32)] = &[
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];

const BINARY_SUFFIXES: &[(&str, u32)] = &[
    ("Ki", 10),
    ("Mi", 20),
    ("Gi", 30),
    ("Ti", 40),
    ("Pi", 50),
    ("Ei", 60),
];

/// Parses a quantity: an optional sign, digits with an optional decimal point, and
/// one suffix (decimal SI, binary SI, or a decimal exponent such as `e3`).
fn parse(text: &str) -> Option<Quantity> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, text.get(1..)?),
        b'+' => (false, text.get(1..)?),
        _ => (false, text),
    };
    let number_len = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_len);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    let (mut exp10, exp2) =
        if let Some((_, e)) = DECIMAL_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
            (*e, 0)
        } else if let Some((_, p)) = BINARY_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
            (0, *p)
        } else {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            (exponent.parse::<i32>().ok()?, 0)
        };
    let all_digits = format!("{whole}{fraction}");
    let significant = all_digits.trim_start_matches('0');
    if significant.is_empty() {
        return Some(Quantity {
            negative: false,
            digits: 0,
            exp10: 0,
            exp2: 0,
        });
    }
    // Trailing zeros move into the exponent, so that equal values have equal parts.
    let trimmed = significant.trim_end_matches('0');
    let zeros = i32::try_from(significant.len() - trimmed.len()).ok()?;
    let places = i32::try_from(fraction.len()).ok()?;
    exp10 = exp10.checked_add(zeros)?.checked_sub(places)?;
    let digits: u128 = trimmed.parse().ok()?;
    Some(Quantity {
        negative,
        digits,
        exp10,
        exp2,
    })
}

/// Compares two quantities' magnitudes exactly; `None` when the comparison does
/// not fit in 128 bits.
fn compare_magnitudes(a: &Quantity, b: &Quantity) -> Option<Ordering> {
    let common = a.exp10.min(b.exp10);
    let scale = |q: &Quantity| -> Option<u128> {
        let tens = u32::try_from(q.exp10 - common).ok()?;
        let twos = 2u128.checked_pow(q.exp2)?;
        q.digits
            .checked_mul(10u128.checked_pow(tens)?)?
            .checked_mul(twos)
    };
    Some(scale(a)?.cmp(&scale(b)?))
}

/// Whether two spellings denote the same quantity (`1000m` and `1`, `1024Mi` and
/// `1Gi`). Text that is not a quantity equals only itself, as does a pair too
/// large to compare exactly.
pub fn same_quantity(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (Some(qa), Some(qb)) = (parse(a), parse(b)) else {
        return false;
    };
    if qa.digits == 0 || qb.digits == 0 {
        return qa.digits == qb.digits;
    }
    qa.negative == qb.negative && compare_magnitudes(&qa, &qb) == Some(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(a: &str, b: &str, same: bool) {
        assert_eq!(same_quantity(a, b), same, "{a} vs {b}");
        assert_eq!(same_quantity(b, a), same, "{b} vs {a}");
    }

    #[test]
    fn milli_units_equal_whole_units() {
        check("1000m", "1", true);
        check("1500m", "1.5", true);
        check("100m", "0.1", true);
        check("1001m", "1", false);
    }

    #[test]
    fn binary_suffixes() {
        check("1024Mi", "1Gi", true);
        check("1536Mi", "1.5Gi", true);
        check("1Ki", "1024", true);
        check("1Ki", "1k", false);
        check("1Ei", "1152921504606846976", true);
    }

    #[test]
    fn decimal_suffixes_and_exponents() {
        check("1k", "1000", true);
        check("1e3", "1k", true);
        check("1E3", "1000", true);
        check("1E", "1e18", true);
        check("12e-3", "12m", true);
        check("1n", "0.000000001", true);
        check("5u", "5000n", true);
        check("2G", "2000M", true);
        check("1M", "1Mi", false);
    }

    #[test]
    fn signs_zeros_and_decimal_points() {
        check("0", "0m", true);
        check("-0", "0", true);
        check("+1", "1", true);
        check("-1", "1", false);
        check("-500m", "-0.5", true);
        check(".5", "500m", true);
        check("5.", "5", true);
        check("010", "10", true);
    }

    #[test]
    fn text_that_is_not_a_quantity_equals_only_itself() {
        check("abc", "abc", true);
        check("1x", "1", false);
        check("1..0", "1", false);
        check("", "0", false);
        check("e3", "1000", false);
        check("1e", "1", false);
        check("-", "0", false);
    }

    #[test]
    fn quantities_too_large_to_compare_are_different() {
        check("1e100", "10e99", true);
        check("1e39", &format!("1{}", "0".repeat(39)), true);
        check("1e100", "2e100", false);
        check("1e40", "1n", false);
    }
}
