//! Numbers for humans, shared by the terminal summaries, report.md and the charts: `$4.5bn`,
//! `12.3k t`, `17.3%`, `10,000`.
//!
//! Two money styles: [`money`] (three significant digits, for report.md and the charts) and
//! [`money_terse`] (one decimal, for the terminal tables, where columns line up best with one
//! number format).

/// The first few of `list`, comma-separated, and how many there are in all when it goes on:
/// for messages that name what they found.
pub fn preview(list: &[String]) -> String {
    let mut s = list.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
    if list.len() > 8 {
        s.push_str(&format!(", ... ({} in all)", list.len()));
    }
    s
}

/// Three significant digits with a k/m/bn/tn suffix: 4.5bn, 12.3k, 120m, 850.
pub fn compact(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    const STEPS: [(f64, &str); 4] = [(1e12, "tn"), (1e9, "bn"), (1e6, "m"), (1e3, "k")];
    let a = x.abs();
    let mut pick = (1.0, "");
    for (i, &(scale, suffix)) in STEPS.iter().enumerate() {
        if a >= scale {
            pick = (scale, suffix);
            // 999.95k rounds to 1000k: move up one step instead.
            if i > 0 && round3(a / scale) >= 1000.0 {
                pick = STEPS[i - 1];
            }
            break;
        }
    }
    if pick.1.is_empty() && round3(a) >= 1000.0 {
        pick = (1e3, "k");
    }
    format!("{}{}", sig3(x / pick.0), pick.1)
}

fn digits3(a: f64) -> usize {
    if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else {
        2
    }
}

fn round3(a: f64) -> f64 {
    let d = digits3(a) as i32;
    (a * 10f64.powi(d)).round() / 10f64.powi(d)
}

/// Three significant digits, trailing zeros dropped: 4.5, 12.3, 850, 0.0024.
fn sig3(v: f64) -> String {
    let a = v.abs();
    let d = if a > 0.0 && a < 1.0 {
        (2 - a.log10().floor() as i32).clamp(2, 8) as usize
    } else {
        digits3(a)
    };
    trim_zeros(format!("{v:.d$}"))
}

fn trim_zeros(s: String) -> String {
    if !s.contains('.') {
        return s;
    }
    let t = s.trim_end_matches('0').trim_end_matches('.');
    if t == "-0" {
        "0".to_owned()
    } else {
        t.to_owned()
    }
}

/// Money: `$4.5bn` for USD, `4.5bn EUR` otherwise (the style of `supplyshock run`).
pub fn money(x: f64, currency: &str) -> String {
    with_currency(x < 0.0 && compact(x) != "0", compact(x.abs()), currency)
}

/// Money with its error, the one form of every `±` of money: the mean as [`money`] gives it
/// (three significant digits), the error to two, so that an error far below the mean's last
/// digit does not read as more precise than the mean: `$89.8m ± $0.23`, `$4.5bn ± $120m`.
pub fn money_pm(mean: f64, err: f64, currency: &str) -> String {
    format!("{} ± {}", money(mean, currency), money_err(err, currency))
}

/// An error (a standard error, an interval's half-width) as money, to two significant digits.
pub fn money_err(err: f64, currency: &str) -> String {
    money(sig2(err), currency)
}

/// `x` rounded to two significant digits.
fn sig2(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let p = 10f64.powi(1 - x.abs().log10().floor() as i32);
    (x * p).round() / p
}

/// Money in the terminal tables: one decimal with a k/m/bn suffix, `$4.5bn`, `12.3k EUR`,
/// `-$2.5m`. Anything that rounds to zero is `$0`, without a sign.
pub fn money_terse(x: f64, currency: &str) -> String {
    const STEPS: [(f64, &str); 4] = [(1e9, "bn"), (1e6, "m"), (1e3, "k"), (1.0, "")];
    if !x.is_finite() {
        return with_currency(false, format!("{x}"), currency);
    }
    let a = x.abs();
    let mut k = STEPS.iter().position(|&(s, _)| a >= s).unwrap_or(3);
    // 999.96k rounds to 1000.0k: move up one step instead.
    if k > 0 && (a / STEPS[k].0 * 10.0).round() >= 10_000.0 {
        k -= 1;
    }
    let (scale, suffix) = STEPS[k];
    let body = fixed(a / scale, 1);
    if is_zero(&body) {
        return with_currency(false, "0".to_owned(), currency);
    }
    with_currency(x < 0.0, format!("{body}{suffix}"), currency)
}

/// `x` with `decimals` decimals, never `-0.0`: what rounds to zero is printed without a sign.
pub fn fixed(x: f64, decimals: usize) -> String {
    unsigned_zero(format!("{x:.decimals$}"))
}

/// `s` without its minus sign when the number it shows is zero (`-0.00` -> `0.00`).
pub fn unsigned_zero(s: String) -> String {
    match s.strip_prefix('-') {
        Some(rest) if is_zero(rest) => rest.to_owned(),
        _ => s,
    }
}

/// A formatted number whose digits are all zeros (`0`, `0.00`, `-0.0`).
fn is_zero(s: &str) -> bool {
    s.chars().any(|c| c == '0') && !s.chars().any(|c| c.is_ascii_digit() && c != '0')
}

fn with_currency(negative: bool, body: String, currency: &str) -> String {
    let sign = if negative { "-" } else { "" };
    if currency == "USD" {
        format!("{sign}${body}")
    } else {
        format!("{sign}{body} {currency}")
    }
}

/// Money on an axis from `lo` to `hi`: one suffix for the axis (that of its largest value) and
/// the decimals that tell values a tenth of the span apart, so a zoomed axis reads
/// `$1.052bn, $1.054bn` where [`money`] would repeat `$1.05bn`.
pub fn money_axis(lo: f64, hi: f64, currency: &str) -> impl Fn(f64) -> String + '_ {
    const STEPS: [(f64, &str); 4] = [(1e12, "tn"), (1e9, "bn"), (1e6, "m"), (1e3, "k")];
    let top = lo.abs().max(hi.abs());
    let (scale, suffix) = STEPS
        .iter()
        .copied()
        .find(|&(s, _)| top >= s)
        .unwrap_or((1.0, ""));
    let step = (hi - lo).abs() / 10.0 / scale;
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        0
    };
    move |x| {
        let body = format!("{:.decimals$}{suffix}", (x / scale).abs());
        if !body.chars().any(|c| c.is_ascii_digit() && c != '0') {
            return with_currency(false, "0".to_owned(), currency);
        }
        with_currency(x < 0.0, body, currency)
    }
}

/// A quantity with its unit: `12.3k t`.
pub fn quantity(x: f64, unit: &str) -> String {
    if unit.is_empty() {
        compact(x)
    } else {
        format!("{} {unit}", compact(x))
    }
}

/// A probability or share as a percentage: 17.3%, 0.42%, 0.004%.
pub fn percent(p: f64) -> String {
    let v = p * 100.0;
    if v == 0.0 {
        return "0%".to_owned();
    }
    let a = v.abs();
    let d = if a >= 1.0 {
        1
    } else {
        // Two significant digits below 1%.
        (1 - a.log10().floor() as i32).clamp(2, 6) as usize
    };
    format!("{}%", trim_zeros(format!("{v:.d$}")))
}

/// A share with its standard error, to the precision the error supports: `99.12% ± 0.04%`.
pub fn percent_pm(mean: f64, se: f64) -> String {
    let (m, s) = (mean * 100.0, se * 100.0);
    let d = if s > 0.0 && s.is_finite() {
        // Two significant digits of the error.
        (1 - s.log10().floor() as i32).clamp(1, 4) as usize
    } else {
        1
    };
    format!("{}% ± {}%", fixed(m, d), fixed(s, d))
}

/// An integer with thousands separators: 10,000.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Days, rounded: `42 d`.
pub fn days(d: f64) -> String {
    format!("{} d", fixed(d, 0))
}

/// A display name for an id: short ids are codes (`eu` -> `EU`), others get a capital and spaces
/// (`rest_of_world` -> `Rest of world`).
pub fn display_id(id: &str) -> String {
    if id.chars().count() <= 3 {
        return id.to_uppercase();
    }
    let spaced = id.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What report.md and the charts call an element: the `name` the scenario gives it, or, when it
/// gives none (the name is the id), [`display_id`] of the id.
pub fn display_name(id: &str, name: &str) -> String {
    let name = name.trim();
    if name.is_empty() || name == id {
        display_id(id)
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_with_its_error_gives_the_error_two_digits() {
        assert_eq!(money_pm(89.8e6, 0.227, "USD"), "$89.8m ± $0.23");
        assert_eq!(money_pm(4.5e9, 123_456_789.0, "USD"), "$4.5bn ± $120m");
        assert_eq!(money_pm(-2.0e6, 0.0, "EUR"), "-2m EUR ± 0 EUR");
        assert_eq!(money_err(1996.0, "USD"), "$2k");
    }

    #[test]
    fn numbers_are_human() {
        assert_eq!(money(4.5e9, "USD"), "$4.5bn");
        assert_eq!(money(-4.5e9, "USD"), "-$4.5bn");
        assert_eq!(money(12_300.0, "EUR"), "12.3k EUR");
        assert_eq!(money(0.0, "USD"), "$0");
        assert_eq!(money(999_960.0, "USD"), "$1m");
        assert_eq!(money(120e6, "USD"), "$120m");
        assert_eq!(money(850.0, "USD"), "$850");
        assert_eq!(money_terse(4.5e9, "USD"), "$4.5bn");
        assert_eq!(money_terse(12_300.0, "EUR"), "12.3k EUR");
        assert_eq!(money_terse(-2_500_000.0, "USD"), "-$2.5m");
        let axis = money_axis(1.048e9, 1.062e9, "USD");
        assert_eq!(axis(1.052e9), "$1.052bn");
        assert_eq!(axis(1.054e9), "$1.054bn");
        let axis = money_axis(0.0, 5e9, "EUR");
        assert_eq!(axis(2.5e9), "2.5bn EUR");
        assert_eq!(axis(-0.0), "0 EUR");
        assert_eq!(quantity(12_345.0, "t"), "12.3k t");
        assert_eq!(quantity(0.00241, "GWh"), "0.00241 GWh");
        assert_eq!(quantity(0.58, "t"), "0.58 t");
        assert_eq!(compact(0.0), "0");
        assert_eq!(percent(0.1734), "17.3%");
        assert_eq!(percent(0.0042), "0.42%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent_pm(0.99123, 0.00041), "99.123% ± 0.041%");
        assert_eq!(percent_pm(0.5, 0.0), "50.0% ± 0.0%");
        assert_eq!(count(10_000), "10,000");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(display_id("eu"), "EU");
        assert_eq!(display_id("japan"), "Japan");
        assert_eq!(display_id("rest_of_world"), "Rest of world");
        assert_eq!(
            display_name("us_def", "US defence radar programmes"),
            "US defence radar programmes"
        );
        assert_eq!(display_name("us_def", "us_def"), "Us def");
        assert_eq!(display_name("eu", ""), "EU");
    }

    #[test]
    fn zero_has_no_decimals_and_no_sign() {
        for z in [0.0, -0.0] {
            assert_eq!(money(z, "USD"), "$0");
            assert_eq!(money(z, "EUR"), "0 EUR");
            assert_eq!(money_terse(z, "USD"), "$0");
            assert_eq!(money_terse(z, "EUR"), "0 EUR");
            assert_eq!(money_axis(0.0, 1e6, "USD")(z), "$0");
            assert_eq!(compact(z), "0");
            assert_eq!(quantity(z, "t"), "0 t");
            assert_eq!(percent(z), "0%");
            assert_eq!(percent_pm(z, 0.0), "0.0% ± 0.0%");
            assert_eq!(days(z), "0 d");
            assert_eq!(fixed(z, 2), "0.00");
        }
        // What rounds to zero is zero, whichever side it came from.
        assert_eq!(money_terse(-0.01, "USD"), "$0");
        assert_eq!(money_terse(0.04, "USD"), "$0");
        assert_eq!(money(-1e-12, "USD"), "$0");
        assert_eq!(percent_pm(-1e-7, 1e-5), "0.0000% ± 0.0010%");
        assert_eq!(days(-0.3), "0 d");
        assert_eq!(fixed(-0.004, 2), "0.00");
        assert_eq!(fixed(-0.005001, 2), "-0.01");
        assert_eq!(unsigned_zero("-inf".to_owned()), "-inf");
    }

    #[test]
    fn terse_money_moves_up_a_step_instead_of_printing_1000() {
        assert_eq!(money_terse(999_960.0, "USD"), "$1.0m");
        assert_eq!(money_terse(999.96, "USD"), "$1.0k");
        assert_eq!(money_terse(999.94, "USD"), "$999.9");
        assert_eq!(money_terse(-999_960_000.0, "USD"), "-$1.0bn");
        assert_eq!(money_terse(2.5e12, "USD"), "$2500.0bn");
        assert_eq!(money_terse(0.06, "USD"), "$0.1");
    }
}
