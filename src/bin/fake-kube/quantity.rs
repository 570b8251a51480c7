//! Resource quantities (`500m`, `1Gi`, `1e3`) read and written back in the
//! apiserver's canonical form.
//!
//! This follows `k8s.io/apimachinery/pkg/api/resource/quantity.go`: a quantity
//! remembers the family of its suffix (decimal SI, binary SI or decimal exponent)
//! and is printed with the largest exponent of that family that loses no precision
//! (`1000m` → `1`, `0.5` → `500m`, `1000` → `1k`, `1024Mi` → `1Gi`,
//! `1536Mi` stays, `1.5Gi` → `1536Mi`). A binary quantity below 1024, or one with
//! a fraction, is printed as decimal SI (`0.5Ki` → `512`). Values finer than
//! `1n` are rounded up to `1n`; binary values are capped at 2^63-1. As in Go, a
//! string that already is in canonical form, as the parser's fast path judges it,
//! is kept as written, sign and leading zeros included (`+1`, `010`, `1E3`).
//!
//! Unlike Go, which falls back to arbitrary precision, a value whose digits do not
//! fit in 128-bit arithmetic (about 38 significant digits) is refused as not
//! numeric.

/// The regular expression Go quotes when a quantity is malformed.
const FORMAT: &str = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

/// Why a string is no quantity, with Go's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityError {
    FormatWrong,
    Numeric,
    Suffix,
}

impl std::fmt::Display for QuantityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuantityError::FormatWrong => {
                write!(f, "quantities must match the regular expression '{FORMAT}'")
            }
            QuantityError::Numeric => f.write_str("unable to parse numeric part of quantity"),
            QuantityError::Suffix => f.write_str("unable to parse quantity's suffix"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    DecimalExponent,
    BinarySI,
    DecimalSI,
}

/// The parts `parseQuantityString` finds.
struct Scanned<'a> {
    positive: bool,
    /// The numerator's digits without leading zeros; `0` when there are none.
    num: &'a str,
    /// The digits after the point.
    denom: &'a str,
    suffix: &'a str,
}

/// Returns the canonical form of a quantity, or why it is none.
pub fn canonical(text: &str) -> Result<String, QuantityError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(QuantityError::FormatWrong);
    }
    if text == "0" {
        return Ok("0".to_owned());
    }
    let scanned = scan(text)?;
    let (base, exponent, format) = interpret(scanned.suffix).ok_or(QuantityError::Suffix)?;
    if keeps_its_text(&scanned, base, exponent, format) {
        return Ok(text.to_owned());
    }
    let (mantissa, scale, format) = exact_value(&scanned, base, exponent, format)?;
    render(mantissa, scale, format).ok_or(QuantityError::Numeric)
}

/// Scans sign, numerator, fraction and suffix, as Go's `parseQuantityString` does.
fn scan(text: &str) -> Result<Scanned<'_>, QuantityError> {
    let bytes = text.as_bytes();
    let end = bytes.len();
    let mut pos = 0;
    let mut positive = true;
    match bytes.first() {
        Some(b'-') => {
            positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    while pos < end && bytes[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Ok(Scanned {
            positive,
            num: "0",
            denom: "",
            suffix: "",
        });
    }
    let num_start = pos;
    while pos < end && bytes[pos].is_ascii_digit() {
        pos += 1;
    }
    let mut num = text.get(num_start..pos).unwrap_or_default();
    if num.is_empty() {
        num = "0";
    }
    let mut denom = "";
    if pos < end && bytes[pos] == b'.' {
        pos += 1;
        let denom_start = pos;
        while pos < end && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = text.get(denom_start..pos).unwrap_or_default();
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&bytes[pos]) {
        pos += 1;
    }
    if pos < end && (bytes[pos] == b'-' || bytes[pos] == b'+') {
        pos += 1;
    }
    while pos < end && bytes[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(QuantityError::FormatWrong);
    }
    Ok(Scanned {
        positive,
        num,
        denom,
        suffix: text.get(suffix_start..).unwrap_or_default(),
    })
}

/// Returns the base, exponent and format a suffix stands for.
fn interpret(suffix: &str) -> Option<(u32, i64, Format)> {
    let decimal = |exponent| Some((10, exponent, Format::DecimalSI));
    let binary = |exponent| Some((2, exponent, Format::BinarySI));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let exponent = suffix
                .strip_prefix(['e', 'E'])
                .filter(|rest| !rest.is_empty())?;
            exponent
                .parse::<i64>()
                .ok()
                .map(|exponent| (10, exponent, Format::DecimalExponent))
        }
    }
}

/// Reports whether Go's fast path would keep the string as written because it is
/// already canonical.
fn keeps_its_text(scanned: &Scanned<'_>, base: u32, exponent: i64, format: Format) -> bool {
    let shifted = format!("{}{}", scanned.num, scanned.denom);
    let digits = (scanned.num.len() + scanned.denom.len()) as i64;
    let Ok(value) = shifted.parse::<i64>() else {
        return false;
    };
    match format {
        Format::BinarySI => {
            if !scanned.denom.is_empty() || exponent < 0 {
                return false;
            }
            let precision = 15 - digits - (exponent as f32 * 3.0 / 10.0) as i64 - 1;
            let fits = 1i64
                .checked_shl(exponent as u32)
                .and_then(|factor| value.checked_mul(factor))
                .is_some();
            precision >= 0 && fits && exponent % 10 == 0 && value & 0x07 != 0
        }
        Format::DecimalSI | Format::DecimalExponent => {
            let _ = base;
            let scale = exponent.saturating_sub(scanned.denom.len() as i64);
            18 - digits >= 0
                && scale >= -9
                && scale % 3 == 0
                && !shifted.ends_with("000")
                && !shifted.starts_with('0')
        }
    }
}

/// Returns the exact value as `mantissa × 10^scale`, rounded up to `1n`, with the
/// format it prints in.
fn exact_value(
    scanned: &Scanned<'_>,
    base: u32,
    exponent: i64,
    format: Format,
) -> Result<(i128, i64, Format), QuantityError> {
    // Trailing zeros go into the scale, so that only significant digits must fit.
    let digits = format!("{}{}", scanned.num, scanned.denom);
    let significant = digits.trim_end_matches('0');
    let mut scale = (digits.len() - significant.len()) as i64 - scanned.denom.len() as i64;
    let significant = significant.trim_start_matches('0');
    if significant.is_empty() {
        return Ok((0, 0, format));
    }
    if significant.len() > 38 {
        return Err(QuantityError::Numeric);
    }
    let mut mantissa: i128 = significant.parse().map_err(|_| QuantityError::Numeric)?;
    let mut format = format;
    if base == 10 {
        scale = scale.checked_add(exponent).ok_or(QuantityError::Numeric)?;
    } else {
        // Binary values are capped at 2^63-1, so an overflow here is the cap.
        let max = i128::from(i64::MAX);
        mantissa = 1i128
            .checked_shl(exponent as u32)
            .and_then(|factor| mantissa.checked_mul(factor))
            .unwrap_or(i128::MAX);
        if scale > 0 {
            mantissa = scale_up(mantissa, scale).unwrap_or(i128::MAX);
            scale = 0;
        }
        if exceeds(mantissa, scale, max) {
            mantissa = max;
            scale = 0;
        }
    }
    (mantissa, scale) = round_up_to_nano(mantissa, scale);
    if format == Format::BinarySI && below_one(mantissa, scale) {
        format = Format::DecimalSI;
    }
    if !scanned.positive {
        mantissa = -mantissa;
    }
    Ok((mantissa, scale, format))
}

/// Returns `10^exponent`, or `None` when it does not fit.
fn pow10(exponent: i64) -> Option<i128> {
    10i128.checked_pow(u32::try_from(exponent).ok()?)
}

/// Multiplies by `10^times`, or `None` on overflow.
fn scale_up(mantissa: i128, times: i64) -> Option<i128> {
    mantissa.checked_mul(pow10(times)?)
}

/// Reports whether `mantissa × 10^scale` (non-negative) is above `limit`.
fn exceeds(mantissa: i128, scale: i64, limit: i128) -> bool {
    if scale >= 0 {
        return scale_up(mantissa, scale).is_none_or(|value| value > limit);
    }
    match pow10(scale.saturating_neg()) {
        Some(divisor) => mantissa / divisor > limit,
        None => false,
    }
}

/// Reports whether `mantissa × 10^scale` (non-negative) is below one.
fn below_one(mantissa: i128, scale: i64) -> bool {
    if scale >= 0 {
        return mantissa == 0;
    }
    match pow10(scale.saturating_neg()) {
        Some(divisor) => mantissa < divisor,
        None => true,
    }
}

/// Rounds a non-negative value up to a multiple of `10^-9`.
fn round_up_to_nano(mantissa: i128, scale: i64) -> (i128, i64) {
    if scale >= -9 || mantissa == 0 {
        return (mantissa, scale);
    }
    match pow10((-9i64).saturating_sub(scale)) {
        Some(divisor) => {
            let quotient = mantissa / divisor;
            let rounded = if mantissa % divisor == 0 {
                quotient
            } else {
                quotient + 1
            };
            (rounded, -9)
        }
        None => (1, -9),
    }
}

/// Prints an exact value in the canonical form of its format; `None` when the
/// digits it needs do not fit.
fn render(mantissa: i128, scale: i64, format: Format) -> Option<String> {
    if mantissa == 0 {
        return Some("0".to_owned());
    }
    if format == Format::BinarySI
        && let Some(integer) = integer_value(mantissa, scale)
        && integer.abs() >= 1024
    {
        let (amount, exponent) = remove_factors(integer, 1024);
        let suffix = match exponent {
            1 => "Ki",
            2 => "Mi",
            3 => "Gi",
            4 => "Ti",
            5 => "Pi",
            6 => "Ei",
            _ => "",
        };
        return Some(format!("{amount}{suffix}"));
    }
    let (amount, times) = remove_factors(mantissa, 10);
    let mut exponent = scale.checked_add(times)?;
    let down = exponent.rem_euclid(3);
    let mut amount = amount.checked_mul(pow10(down)?)?;
    exponent -= down;
    match format {
        Format::DecimalExponent => {
            if exponent == 0 {
                Some(amount.to_string())
            } else {
                Some(format!("{amount}e{exponent}"))
            }
        }
        Format::DecimalSI | Format::BinarySI => {
            while exponent > 18 {
                amount = amount.checked_mul(1000)?;
                exponent -= 3;
            }
            let suffix = match exponent {
                -9 => "n",
                -6 => "u",
                -3 => "m",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                18 => "E",
                _ => "",
            };
            Some(format!("{amount}{suffix}"))
        }
    }
}

/// Returns the value as an integer when it has no fraction.
fn integer_value(mantissa: i128, scale: i64) -> Option<i128> {
    if scale >= 0 {
        return scale_up(mantissa, scale);
    }
    let divisor = pow10(scale.saturating_neg())?;
    (mantissa % divisor == 0).then_some(mantissa / divisor)
}

/// Divides out every factor of `base`, returning what is left and how many.
fn remove_factors(mut value: i128, base: i128) -> (i128, i64) {
    let mut times = 0;
    while value != 0 && value % base == 0 {
        value /= base;
        times += 1;
    }
    (value, times)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(canonical(input).as_deref(), Ok(expected), "{input}");
    }

    #[test]
    fn decimal_si_takes_the_largest_exact_suffix() {
        check("1000m", "1");
        check("0.5", "500m");
        check("1.5", "1500m");
        check("1000", "1k");
        check("100", "100");
        check("2000", "2k");
        check("1500", "1500");
        check("100m", "100m");
        check("0.1", "100m");
        check("2500000", "2500k");
        check("1.5k", "1500");
        check("1000k", "1M");
        check("1000000000n", "1");
        check("-1000m", "-1");
        check("0", "0");
        check("0.0", "0");
        check("000", "0");
    }

    #[test]
    fn binary_si_takes_the_largest_exact_power_of_1024() {
        check("1024Mi", "1Gi");
        check("2000Mi", "2000Mi");
        check("1536Mi", "1536Mi");
        check("1.5Gi", "1536Mi");
        check("1Ki", "1Ki");
        check("2048Ki", "2Mi");
        check("8Mi", "8Mi");
    }

    #[test]
    fn small_or_fractional_binary_quantities_print_as_decimal() {
        check("0.5Ki", "512");
        check("0.5Mi", "512Ki");
        check("1.1Ki", "1126400m");
    }

    #[test]
    fn exponents_keep_their_form() {
        check("1e3", "1e3");
        check("1E3", "1E3");
        check("1.5e3", "1500");
        check("1000e3", "1e6");
        check("12e-3", "12e-3");
    }

    #[test]
    fn canonical_text_is_kept_as_written() {
        check("+1", "+1");
        check("010", "010");
        check("1025Mi", "1025Mi");
    }

    #[test]
    fn values_finer_than_nano_round_up() {
        check("0.1n", "1n");
        check("1.0000000001", "1000000001n");
    }

    #[test]
    fn malformed_quantities_are_refused() {
        assert_eq!(canonical(""), Err(QuantityError::FormatWrong));
        assert_eq!(canonical("abc"), Err(QuantityError::FormatWrong));
        assert_eq!(canonical("1 Gi"), Err(QuantityError::FormatWrong));
        assert_eq!(canonical("1K"), Err(QuantityError::Suffix));
        assert_eq!(canonical("1Gb"), Err(QuantityError::FormatWrong));
        assert_eq!(canonical("1Mm"), Err(QuantityError::Suffix));
        let huge = format!("1{}E", "0".repeat(40));
        assert_eq!(canonical(&huge), Err(QuantityError::Numeric));
        let long = format!("{}e1", "9".repeat(38));
        assert_eq!(canonical(&long), Err(QuantityError::Numeric));
        assert_eq!(canonical("1e-9223372036854775808").as_deref(), Ok("1e-9"));
        assert!(canonical("1e9223372036854775807").is_ok());
    }
}
