//! Numeric functions: `abs`, `ceil`, `floor`, `log`, `max`, `min`, `parseint`,
//! `pow`, `signum` and `sum`.

use super::{Fail, FuncContext, int_arg, number_arg, sequence_arg, string_arg};
use crate::lang::types::{self, Type};
use crate::lang::value::{Number, Value};

pub(super) fn abs(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::Number(match number_arg(&args, 0)? {
        Number::Int(i) => i
            .checked_abs()
            .map_or(Number::Float((i as f64).abs()), Number::Int),
        Number::Float(f) => Number::from_f64(f.abs()),
    }))
}

pub(super) fn ceil(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::Number(round_with(number_arg(&args, 0)?, f64::ceil)))
}

pub(super) fn floor(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::Number(round_with(number_arg(&args, 0)?, f64::floor)))
}

fn round_with(n: Number, round: fn(f64) -> f64) -> Number {
    match n {
        Number::Int(i) => Number::Int(i),
        Number::Float(f) => Number::from_f64(round(f)),
    }
}

pub(super) fn log(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let num = number_arg(&args, 0)?.as_f64();
    let base = number_arg(&args, 1)?.as_f64();
    Ok(Value::float(num.ln() / base.ln()))
}

pub(super) fn max(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    extreme(&args, std::cmp::Ordering::Greater)
}

pub(super) fn min(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    extreme(&args, std::cmp::Ordering::Less)
}

fn extreme(args: &[Value], wanted: std::cmp::Ordering) -> Result<Value, Fail> {
    if args.is_empty() {
        return Err(Fail::call("must pass at least one number"));
    }
    let mut best = number_arg(args, 0)?;
    for i in 1..args.len() {
        let n = number_arg(args, i)?;
        if n.partial_cmp(&best) == Some(wanted) {
            best = n;
        }
    }
    Ok(Value::Number(best))
}

pub(super) fn parseint(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let number = string_arg(&args, 0)?;
    let base = int_arg(&args, 1)?;
    if !(2..=62).contains(&base) {
        return Err(Fail::arg(
            1,
            "base must be a whole number between 2 and 62 inclusive",
        ));
    }
    let fail = || {
        Fail::arg(
            0,
            format!("cannot parse {number:?} as a base {base} integer"),
        )
    };
    let (negative, digits) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number.strip_prefix('+').unwrap_or(&number)),
    };
    if digits.is_empty() {
        return Err(fail());
    }
    // Go's big.Int.SetString: letters are case-insensitive up to base 36, and
    // above it upper case letters are the digits 36 to 61.
    let mut value: f64 = 0.0;
    let mut exact: Option<i64> = Some(0);
    for c in digits.chars() {
        let digit = match c {
            '0'..='9' => c as i64 - '0' as i64,
            'a'..='z' => c as i64 - 'a' as i64 + 10,
            'A'..='Z' if base <= 36 => c as i64 - 'A' as i64 + 10,
            'A'..='Z' => c as i64 - 'A' as i64 + 36,
            _ => return Err(fail()),
        };
        if digit >= base {
            return Err(fail());
        }
        exact = exact
            .and_then(|v| v.checked_mul(base))
            .and_then(|v| v.checked_add(digit));
        value = value * base as f64 + digit as f64;
    }
    let number = match exact {
        Some(v) => Number::Int(if negative { -v } else { v }),
        None => Number::Float(if negative { -value } else { value }),
    };
    Ok(Value::Number(number))
}

pub(super) fn pow(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let num = number_arg(&args, 0)?;
    let power = number_arg(&args, 1)?;
    if let (Number::Int(n), Number::Int(p)) = (num, power)
        && let Ok(p) = u32::try_from(p)
        && let Some(result) = n.checked_pow(p)
    {
        return Ok(Value::int(result));
    }
    Ok(Value::float(num.as_f64().powf(power.as_f64())))
}

pub(super) fn signum(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let n = number_arg(&args, 0)?;
    // cty reads the argument into a Go int, so fractions are refused.
    let i = n
        .as_i64()
        .ok_or_else(|| Fail::call("value must be a whole number"))?;
    Ok(Value::int(i.signum()))
}

pub(super) fn sum(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let items = match args.first() {
        Some(Value::Tuple(_) | Value::List(_) | Value::Set(_)) => sequence_arg(&args, 0)?,
        _ => return Err(Fail::arg(0, "cannot sum noniterable")),
    };
    if items.is_empty() {
        return Err(Fail::arg(0, "cannot sum an empty list"));
    }
    let mut total = Number::Int(0);
    for item in items {
        if item.is_null() {
            return Err(Fail::arg(
                0,
                "argument must be list, set, or tuple of number values",
            ));
        }
        let n = match types::convert(item, &Type::Number) {
            Ok(Value::Number(n)) => n,
            _ => {
                return Err(Fail::arg(
                    0,
                    "argument must be list, set, or tuple of number values",
                ));
            }
        };
        total = add(total, n);
    }
    Ok(Value::Number(total))
}

/// Adds exactly while both numbers are integers that do not overflow.
pub(super) fn add(a: Number, b: Number) -> Number {
    match (a, b) {
        (Number::Int(x), Number::Int(y)) => x
            .checked_add(y)
            .map_or(Number::Float(x as f64 + y as f64), Number::Int),
        _ => Number::from_f64(a.as_f64() + b.as_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    use super::*;

    fn check(name: &str, args: Vec<Value>, expected: Result<Value, &str>) {
        assert_eq!(call_str(name, args), expected.map_err(str::to_string));
    }

    fn fl(x: f64) -> Value {
        Value::float(x)
    }

    #[test]
    fn abs_negative_float() {
        check("abs", vec![fl(-3.5)], Ok(fl(3.5)));
    }

    #[test]
    fn abs_of_string_number() {
        check("abs", vec![s("-2")], Ok(i(2)));
    }

    #[test]
    fn abs_of_bool_fails() {
        check(
            "abs",
            vec![Value::Bool(true)],
            Err("Invalid value for \"num\" parameter: number required."),
        );
    }

    #[test]
    fn ceil_negative() {
        check("ceil", vec![fl(-1.2)], Ok(i(-1)));
    }

    #[test]
    fn floor_negative() {
        check("floor", vec![fl(-1.8)], Ok(i(-2)));
    }

    #[test]
    fn log_base_two() {
        check("log", vec![i(8), i(2)], Ok(i(3)));
    }

    #[test]
    fn max_of_several() {
        check("max", vec![i(1), i(5), fl(3.5)], Ok(i(5)));
    }

    #[test]
    fn min_of_several() {
        check("min", vec![i(4), fl(2.5), i(9)], Ok(fl(2.5)));
    }

    #[test]
    fn max_without_arguments() {
        check(
            "max",
            vec![],
            Err("Call to function \"max\" failed: must pass at least one number"),
        );
    }

    #[test]
    fn parseint_hex() {
        check("parseint", vec![s("FF"), i(16)], Ok(i(255)));
    }

    #[test]
    fn parseint_negative_binary() {
        check("parseint", vec![s("-1010"), i(2)], Ok(i(-10)));
    }

    #[test]
    fn parseint_base_62_uppercase() {
        check("parseint", vec![s("Z"), i(62)], Ok(i(61)));
    }

    #[test]
    fn parseint_bad_digit() {
        check(
            "parseint",
            vec![s("12"), i(2)],
            Err("Invalid value for \"number\" parameter: cannot parse \"12\" as a base 2 integer"),
        );
    }

    #[test]
    fn parseint_bad_base() {
        check(
            "parseint",
            vec![s("1"), i(1)],
            Err(
                "Invalid value for \"base\" parameter: base must be a whole number between 2 and 62 inclusive",
            ),
        );
    }

    #[test]
    fn pow_integers_stay_exact() {
        check("pow", vec![i(3), i(39)], Ok(i(4052555153018976267)));
    }

    #[test]
    fn pow_fraction() {
        check("pow", vec![i(2), fl(0.5)], Ok(fl(std::f64::consts::SQRT_2)));
    }

    #[test]
    fn signum_negative() {
        check("signum", vec![i(-4)], Ok(i(-1)));
    }

    #[test]
    fn signum_fraction_fails() {
        check(
            "signum",
            vec![fl(3.2)],
            Err("Call to function \"signum\" failed: value must be a whole number"),
        );
    }

    #[test]
    fn sum_mixed() {
        check(
            "sum",
            vec![Value::Tuple(vec![i(1), s("2"), fl(3.5)])],
            Ok(fl(6.5)),
        );
    }

    #[test]
    fn sum_empty() {
        check(
            "sum",
            vec![Value::Tuple(vec![])],
            Err("Invalid value for \"list\" parameter: cannot sum an empty list"),
        );
    }
}
