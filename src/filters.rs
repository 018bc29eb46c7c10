//! Locale-aware template filters for transactional email: money, numbers, dates, plurals.
//!
//! Input: minijinja values built from record JSON. Decimals arrive as strings (`"1234.5"`,
//! `"-3"`, `"0.10"`) or as JSON numbers; dates as `YYYY-MM-DD` strings; datetimes as RFC 3339
//! strings (`"2024-06-15T13:15:07+01:00"`). Output: display strings for a given locale.
//!
//! | filter | example |
//! | --- | --- |
//! | `money(amount, currency, locale)` | `{{ "1234.56"\|money("EUR", "es-ES") }}` → `1.234,56 €` |
//! | `cents_money(minor_units, currency, locale)` | `{{ 123456\|cents_money("USD", "en-US") }}` → `$1,234.56` |
//! | `number(value, locale, decimals=none)` | `{{ 1234.5\|number("de-DE", 2) }}` → `1.234,50` |
//! | `date(value, locale, style="short"[, tz=zone])` | `{{ "2024-06-15"\|date("es-ES", style="long") }}` → `15 de junio de 2024` |
//! | `datetime(value, locale, style="short"[, tz=zone][, zone=true])` | `{{ ts\|datetime("en-US") }}` → `06/15/2024, 1:15 PM` |
//! | `plural(n, singular, plural, locale=none)` | `{{ n\|plural("item", "items") }}` |
//! | `ical_utc(value)` | `{{ ts\|ical_utc }}` → `20240615T121507Z` |
//! | `ical_text(value)` | `{{ "a; b, c"\|ical_text }}` → `a\; b\, c` |
//! | `ical_fold(text)` | `{% filter ical_fold %}...{% endfilter %}` → lines of at most 75 octets |
//!
//! Time zones: `tz` (keyword only) is an IANA name (`"Europe/Madrid"`); an RFC 3339 value is
//! converted to that zone with the tz database bundled in `chrono-tz` (IANA 2025b), never the
//! system's. Without `tz` the date and time are shown as written in the value. A value that
//! names no instant (a bare date, or a datetime without an offset) is refused with `tz` rather
//! than guessed. `zone=true` appends the zone: `14:15 CEST (UTC+02:00)`.
//!
//! Determinism: nothing here reads the clock, the system locale or the environment. The same
//! value, arguments and locale always give the same bytes, on every machine.
//!
//! Exactness: amounts are never routed through `f64` when they arrive as strings. A decimal string
//! is kept as its digits and rounded half away from zero on those digits, so `"2.675"` becomes
//! `2.68` (binary floating point would give `2.67`). A JSON float is first written in its
//! shortest round-trip form (Rust's `Display` for `f64`, which never uses exponent notation) and
//! that text is rounded the same way, so `2.675` as a float also gives `2.68`: the digits the
//! author wrote, not the binary approximation.
//!
//! Locales: `es-ES`, `es-MX`, `es-AR`, `en-US`, `en-GB`, `fr-FR`, `de-DE`, `pt-BR`. Tags may use
//! `_` instead of `-` and may carry a POSIX codeset (`es_ES.UTF-8`). A tag whose region is not
//! listed falls back to its language's first locale (`es` → `es-ES`, `es-CO` → `es-ES`, `en` →
//! `en-US`, `fr` → `fr-FR`, `de` → `de-DE`, `pt` → `pt-BR`; `es-419` → `es-MX`). A tag
//! whose language is not listed is an error that lists the supported locales: formatting it as
//! English would silently show `1,234.56` to a reader who reads `1.234,56`. An empty locale is
//! an error too: it almost always means a missing record field.
//!
//! Currencies: any three-letter ISO 4217 code (case-insensitive). A currency shows its bare local
//! symbol in its home locale (`$` for USD in en-US, MXN in es-MX, ARS in es-AR) and an
//! unambiguous one elsewhere (`US$`, `MX$`, `€`, `£`, `¥`, `R$`), or its ISO code when it has
//! none (`ARS`, `CLP`, `COP`, and any code not in the table, which also gets two minor digits).
//! JPY and CLP have no minor digits, so `1234.5` JPY shows as `¥1,235`.
//!
//! The data follows CLDR with two deliberate simplifications, chosen for readers of a shop's
//! email rather than for CLDR fidelity: numbers are grouped from four integer digits in every
//! locale (CLDR's `minimumGroupingDigits = 2` for Spanish would print `1234,56 €` but
//! `12.345,67 €`; we print `1.234,56 €`), and short dates always use a four-digit year with
//! zero-padded day and month (`15/06/2024`, not CLDR's `15/6/24`).
//!
//! Why hand-written rather than ICU4X: `icu` 2.x does number and date formatting well, but its
//! compiled data crates (e.g. `icu_datetime_data`, about 2 MB compressed on its own) add
//! megabytes and build time, and currency formatting still lives in the unstable
//! `icu_experimental` crate. A shop needs a handful of locales; the tables below cover them in a
//! few hundred lines that can be read and reviewed.
//!
//! Errors are `InvalidOperation` with a message that starts with the filter name and quotes the
//! offending value; no filter panics on any input.

use std::borrow::Cow;

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, Timelike,
};
use chrono_tz::{OffsetName, Tz};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

/// No-break space: between amount and currency symbol, so a symbol never wraps onto its own
/// line in a narrow mail client.
const NBSP: char = '\u{a0}';
/// Narrow no-break space: the French group separator (CLDR `fr`).
const NNBSP: char = '\u{202f}';

/// Most decimals `number` accepts; far beyond any display need, and it bounds the output size.
const MAX_DECIMALS: i64 = 20;

/// Adds `money`, `cents_money`, `number`, `date`, `datetime`, `plural`, `ical_utc`,
/// `ical_text`, `ical_fold` and `mul` to `env`.
///
/// See the module documentation for arguments, supported locales and fallbacks.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("money", money);
    env.add_filter("cents_money", cents_money);
    env.add_filter("number", number);
    env.add_filter("date", date);
    env.add_filter("datetime", datetime);
    env.add_filter("plural", plural);
    env.add_filter("ical_utc", ical_utc);
    env.add_filter("ical_text", ical_text);
    env.add_filter("ical_fold", ical_fold);
    env.add_filter("mul", mul);
}

/// `value|ical_utc`: an RFC 3339 datetime as an iCalendar UTC DATE-TIME,
/// `YYYYMMDDTHHMMSSZ` (RFC 5545 §3.3.5, form #2), for `text/calendar` parts.
fn ical_utc(value: &Value) -> Result<String, Error> {
    let s = value.as_str().ok_or_else(|| {
        invalid(format!(
            "ical_utc: expected a datetime string, got {}",
            describe(value)
        ))
    })?;
    let dt = chrono::DateTime::parse_from_rfc3339(s.trim()).map_err(|_| {
        invalid(format!(
            "ical_utc: `{}` is not an RFC 3339 datetime",
            s.chars().take(40).collect::<String>()
        ))
    })?;
    Ok(dt
        .with_timezone(&chrono::Utc)
        .format("%Y%m%dT%H%M%SZ")
        .to_string())
}

/// Longest iCalendar content line, in octets, not counting the CRLF (RFC 5545 §3.1).
const ICAL_LINE_OCTETS: usize = 75;

/// `value|ical_text`: a value escaped for an iCalendar TEXT property value (RFC 5545
/// §3.3.11): `\` → `\\`, `;` → `\;`, `,` → `\,`, and each line break (LF, CRLF or a lone
/// CR) → `\n`. TEXT excludes the other control characters (§3.1: `CONTROL` is every C0 control
/// but HTAB, and DEL), so a value holding one is refused, naming it: dropping it would change
/// the value unseen. Numbers are written as minijinja prints them.
fn ical_text(value: &Value) -> Result<String, Error> {
    let text = match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().to_string(),
        ValueKind::Number => value.to_string(),
        _ => {
            return Err(invalid(format!(
                "ical_text: expected text, got {}",
                describe(value)
            )));
        }
    };
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut chars = text.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                // CRLF is one line break, not two.
                chars.next_if(|&(_, next)| next == '\n');
                out.push_str("\\n");
            }
            '\t' => out.push(c),
            c if c.is_ascii_control() => {
                return Err(invalid(format!(
                    "ical_text: {} has the control character U+{:04X} at character {}, which \
                     iCalendar TEXT cannot hold (RFC 5545 §3.1)",
                    describe(value),
                    u32::from(c),
                    i + 1
                )));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `text|ical_fold`, or `{% filter ical_fold %}...{% endfilter %}` around a whole calendar:
/// folds each content line to at most 75 octets (RFC 5545 §3.1). A long line is cut before
/// the octet limit, never inside a UTF-8 character, and each continuation line starts with one
/// space, which counts toward its 75 octets; unfolding (removing every CRLF followed by one
/// space) gives the line back. Input lines end with LF or CRLF, output lines with CRLF, as
/// §3.1 requires. Lines already at most 75 octets are unchanged, so folding folded text changes
/// nothing. A lone CR is refused: it is no line break in iCalendar, and keeping or dropping it
/// would both yield a different calendar than the author wrote. A safe (markup) string stays
/// safe: folding adds only CRLF and spaces.
fn ical_fold(value: &Value) -> Result<Value, Error> {
    let text = value
        .as_str()
        .ok_or_else(|| invalid(format!("ical_fold: expected text, got {}", describe(value))))?;
    let mut out = String::with_capacity(text.len() + text.len() / 24);
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((number, line)) = lines.next() {
        // A CR is part of the line break only right before its LF.
        let line = match lines.peek() {
            Some(_) => line.strip_suffix('\r').unwrap_or(line),
            None => line,
        };
        if line.contains('\r') {
            return Err(invalid(format!(
                "ical_fold: line {} has a CR that is not followed by LF; iCalendar lines end \
                 with CRLF (RFC 5545 §3.1)",
                number + 1
            )));
        }
        fold_line(line, &mut out);
        if lines.peek().is_some() {
            out.push_str("\r\n");
        }
    }
    Ok(if value.is_safe() {
        Value::from_safe_string(out)
    } else {
        Value::from(out)
    })
}

/// One content line, without its line break, as physical lines of at most
/// [`ICAL_LINE_OCTETS`] octets joined by CRLF + space.
fn fold_line(line: &str, out: &mut String) {
    let mut rest = line;
    // The first physical line has all 75 octets; a continuation spends one on its space.
    let mut room = ICAL_LINE_OCTETS;
    loop {
        if rest.len() <= room {
            out.push_str(rest);
            return;
        }
        // Back off to a character boundary; a UTF-8 character is at most 4 octets, so at
        // least 70 octets remain.
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        out.push_str(head);
        out.push_str("\r\n ");
        rest = tail;
        room = ICAL_LINE_OCTETS - 1;
    }
}

/// `price|mul(qty)`: an exact decimal times a whole number (a line total), as a decimal string
/// that `money` formats. Decimal text in, decimal text out: no binary floating point.
fn mul(amount: &Value, factor: &Value) -> Result<String, Error> {
    let a = amount
        .as_str()
        .map(str::to_string)
        .or_else(|| i64::try_from(amount.clone()).ok().map(|i| i.to_string()))
        .ok_or_else(|| invalid(format!("mul: expected a decimal, got {}", describe(amount))))?;
    let (neg_a, a) = match a.trim().strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, a.trim().trim_start_matches('+').to_string()),
    };
    let (int, frac) = a.split_once('.').unwrap_or((&a, ""));
    if int.is_empty() || !is_digits(int) || !(frac.is_empty() || is_digits(frac)) {
        return Err(invalid(format!("mul: `{a}` is not a decimal")));
    }
    let f = i64::try_from(factor.clone())
        .ok()
        .or_else(|| factor.as_str().and_then(|s| s.trim().parse::<i64>().ok()))
        .ok_or_else(|| {
            invalid(format!(
                "mul: expected a whole number factor, got {}",
                describe(factor)
            ))
        })?;
    // Scale to an integer, multiply in 128 bits, scale back.
    let digits = int
        .bytes()
        .chain(frac.bytes())
        .try_fold(0i128, |n, d| {
            n.checked_mul(10)?.checked_add(i128::from(d - b'0'))
        })
        .ok_or_else(|| invalid(format!("mul: `{a}` is too large")))?;
    let product = digits
        .checked_mul(i128::from(f.unsigned_abs()))
        .ok_or_else(|| invalid("mul: result too large".to_string()))?;
    let negative = (neg_a != (f < 0)) && product != 0;
    let mut text = product.to_string();
    if text.len() <= frac.len() {
        text.insert_str(0, &"0".repeat(frac.len() + 1 - text.len()));
    }
    let (i, fr) = text.split_at(text.len() - frac.len());
    let mut out = String::with_capacity(text.len() + 2);
    if negative {
        out.push('-');
    }
    out.push_str(i);
    if !fr.is_empty() {
        out.push('.');
        out.push_str(fr);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

/// `amount|money(currency, locale)`: a decimal amount rounded to the currency's minor digits.
fn money(amount: &Value, currency: &str, locale: &str) -> Result<String, Error> {
    let loc = resolve_locale(locale, "money")?;
    let cur = resolve_currency(currency, "money")?;
    let dec = Decimal::from_value(amount, "money")?.round(cur.digits);
    Ok(format_money(&dec, &cur, loc))
}

/// `minor_units|cents_money(currency, locale)`: the same from an integer count of minor units
/// (cents for EUR/USD, yen for JPY).
fn cents_money(units: &Value, currency: &str, locale: &str) -> Result<String, Error> {
    let loc = resolve_locale(locale, "cents_money")?;
    let cur = resolve_currency(currency, "cents_money")?;
    let (negative, digits) = parse_integer_value(units, "cents_money")?;
    let dec = Decimal::from_minor_units(negative, &digits, cur.digits);
    Ok(format_money(&dec, &cur, loc))
}

/// `value|number(locale, decimals=none)`: grouped number. Without `decimals`, the fraction is
/// shown as given (`"0.10"` keeps two digits, an integer gets none).
fn number(
    value: &Value,
    locale: &str,
    decimals: Option<i64>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let decimals = one_of("number", "decimals", decimals, kwargs.get("decimals")?)?;
    kwargs.assert_all_used()?;
    let loc = resolve_locale(locale, "number")?;
    let mut dec = Decimal::from_value(value, "number")?;
    if let Some(n) = decimals {
        if !(0..=MAX_DECIMALS).contains(&n) {
            return Err(invalid(format!(
                "number: decimals must be between 0 and {MAX_DECIMALS}, got {n}"
            )));
        }
        // The range check above makes this conversion lossless.
        dec = dec.round(usize::try_from(n).unwrap_or_default());
    }
    Ok(format_signed(&dec, loc))
}

/// `value|date(locale, style="short"[, tz=zone])`: a date; for a datetime, its date as written,
/// or in zone `tz` (an IANA name) when given.
fn date(value: &Value, locale: &str, style: Option<&str>, kwargs: Kwargs) -> Result<String, Error> {
    let style = one_of("date", "style", style, kwargs.get("style")?)?;
    let tz = tz_argument(&kwargs, "date")?;
    kwargs.assert_all_used()?;
    let loc = resolve_locale(locale, "date")?;
    let style = Style::parse(style, "date")?;
    let when = parse_when(value, "date")?;
    let local = to_local(value, when, tz, "date")?;
    Ok(format_date(local.day, style, loc))
}

/// `value|datetime(locale, style="short"[, tz=zone][, zone=true])`: date and wall-clock time, as
/// written in the value or converted to zone `tz`; `zone=true` appends the zone
/// (`CEST (UTC+02:00)`), so a reader in another zone is not misled.
fn datetime(
    value: &Value,
    locale: &str,
    style: Option<&str>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let style = one_of("datetime", "style", style, kwargs.get("style")?)?;
    let tz = tz_argument(&kwargs, "datetime")?;
    let show_zone: Option<bool> = kwargs.get("zone")?;
    kwargs.assert_all_used()?;
    let loc = resolve_locale(locale, "datetime")?;
    let style = Style::parse(style, "datetime")?;
    let when = parse_when(value, "datetime")?;
    // A bare date has no time to show; printing 00:00 would state something false. Checked
    // before `tz`, whose own message for a bare date would only lead to this one.
    let date_only = || {
        invalid(format!(
            "datetime: {} is a date without a time; use the `date` filter",
            describe(value)
        ))
    };
    if let When::Date(_) = when {
        return Err(date_only());
    }
    let local = to_local(value, when, tz, "datetime")?;
    let time = local.time.ok_or_else(date_only)?;
    let joiner = match style {
        Style::Short => loc.short_joiner,
        Style::Medium | Style::Long => loc.long_joiner,
    };
    let mut out = format!(
        "{}{joiner}{}",
        format_date(local.day, style, loc),
        format_time(time, loc)
    );
    if show_zone == Some(true) {
        let zone = local.zone.ok_or_else(|| {
            invalid(format!(
                "datetime: {} has no UTC offset and no `tz` was given, so there is no zone to \
                 show; write it as RFC 3339 with `Z` or an offset",
                describe(value)
            ))
        })?;
        out.push(' ');
        out.push_str(&zone);
    }
    Ok(out)
}

/// `n|plural(singular, plural, locale=none)`: picks the form for an integer count.
///
/// CLDR "one" category on the absolute value: `1` everywhere, and also `0` in French and
/// Brazilian Portuguese. Without a locale, English rules apply (only `1` is singular).
/// The chosen argument is returned as is, so a safe (markup) string stays safe.
fn plural(
    n: &Value,
    singular: &Value,
    plural: &Value,
    locale: Option<&str>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let locale = one_of("plural", "locale", locale, kwargs.get("locale")?)?;
    kwargs.assert_all_used()?;
    let zero_is_singular = match locale {
        Some(tag) => resolve_locale(tag, "plural")?.zero_is_singular,
        None => false,
    };
    let (_, digits) = parse_integer_value(n, "plural")?;
    let is_one = digits == "1" || (zero_is_singular && digits == "0");
    Ok(if is_one {
        singular.clone()
    } else {
        plural.clone()
    })
}

// ---------------------------------------------------------------------------------------------
// Arguments and errors
// ---------------------------------------------------------------------------------------------

fn invalid(msg: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg)
}

/// A value for an error message: strings quoted, long ones cut so a stray document does not
/// flood the diagnostic.
fn describe(value: &Value) -> String {
    const MAX: usize = 40;
    match value.as_str() {
        Some(s) if s.chars().count() > MAX => {
            let cut: String = s.chars().take(MAX).collect();
            format!("{cut:?}…")
        }
        Some(s) => format!("{s:?}"),
        None => match value.kind() {
            ValueKind::Undefined | ValueKind::None => value.kind().to_string(),
            // minijinja prints booleans Python-style (`True`); keep messages lower-case.
            ValueKind::Bool => format!("{} (bool)", value.is_true()),
            kind => format!("{value} ({kind})"),
        },
    }
}

/// An optional argument may be given by position or by keyword, not both.
fn one_of<T>(
    filter: &str,
    name: &str,
    positional: Option<T>,
    keyword: Option<T>,
) -> Result<Option<T>, Error> {
    match (positional, keyword) {
        (Some(_), Some(_)) => Err(Error::new(
            ErrorKind::TooManyArguments,
            format!("{filter}: `{name}` given both by position and by keyword"),
        )),
        (p, k) => Ok(p.or(k)),
    }
}

/// An integer as (negative, magnitude digits without leading zeros), from an integer value, an
/// integral float, or an integer string. Digits, not a machine integer, so any size works.
fn parse_integer_value(value: &Value, filter: &str) -> Result<(bool, String), Error> {
    let bad = || {
        invalid(format!(
            "{filter}: expected an integer, got {}",
            describe(value)
        ))
    };
    let text = match value.kind() {
        ValueKind::Number if value.is_integer() => i128::try_from(value.clone())
            .map_err(|_| bad())?
            .to_string(),
        ValueKind::Number => {
            let f = f64::try_from(value.clone()).map_err(|_| bad())?;
            if !f.is_finite() || f.fract() != 0.0 {
                return Err(bad());
            }
            format!("{f}")
        }
        ValueKind::String => value.as_str().unwrap_or_default().trim().to_string(),
        _ => return Err(bad()),
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    if digits.is_empty() || !is_digits(digits) {
        return Err(bad());
    }
    Ok((negative, strip_leading_zeros(digits)))
}

fn is_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn strip_leading_zeros(digits: &str) -> String {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Exact decimals
// ---------------------------------------------------------------------------------------------

/// A decimal kept as its digits, so rounding is exact and size is unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    /// ASCII digits without leading zeros (a lone `0` for zero).
    int: String,
    /// ASCII fraction digits; trailing zeros are significant for display (`"0.10"`).
    frac: String,
}

impl Decimal {
    /// Parses `[+-]digits[.digits]`, surrounding whitespace allowed. No exponents, no group
    /// separators: `1,234.56` is ambiguous across locales, so it is refused, not guessed.
    fn parse(text: &str) -> Option<Decimal> {
        let text = text.trim();
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int, frac) = match rest.split_once('.') {
            Some((int, frac)) if !frac.is_empty() => (int, frac),
            Some(_) => return None,
            None => (rest, ""),
        };
        if int.is_empty() || !is_digits(int) || !is_digits(frac) {
            return None;
        }
        Some(Decimal {
            negative,
            int: strip_leading_zeros(int),
            frac: frac.to_string(),
        })
    }

    fn from_value(value: &Value, filter: &str) -> Result<Decimal, Error> {
        let bad = |why: &str| {
            invalid(format!(
                "{filter}: invalid amount {}: {why}",
                describe(value)
            ))
        };
        match value.kind() {
            ValueKind::String => Decimal::parse(value.as_str().unwrap_or_default())
                .ok_or_else(|| bad("expected a decimal such as \"1234.56\"")),
            ValueKind::Number if value.is_integer() => {
                let n = i128::try_from(value.clone()).map_err(|_| bad("out of range"))?;
                Decimal::parse(&n.to_string()).ok_or_else(|| bad("out of range"))
            }
            ValueKind::Number => {
                let f = f64::try_from(value.clone()).map_err(|_| bad("not a number"))?;
                if !f.is_finite() {
                    return Err(bad("not a finite number"));
                }
                // Shortest round-trip text: the digits the author wrote, never an exponent.
                Decimal::parse(&format!("{f}")).ok_or_else(|| bad("not a finite number"))
            }
            _ => Err(bad("expected a decimal string or a number")),
        }
    }

    /// `digits` is an integer count of minor units (magnitude, no sign); `scale` the currency's
    /// minor digits.
    fn from_minor_units(negative: bool, digits: &str, scale: usize) -> Decimal {
        let digits = strip_leading_zeros(digits);
        // Pad so there is at least one integer digit: 5 cents → "005" → 0.05.
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        Decimal {
            negative,
            int: strip_leading_zeros(int),
            frac: frac.to_string(),
        }
    }

    /// Exactly `digits` fraction digits, rounding half away from zero: only the first dropped
    /// digit decides, because the magnitude of the rest is below one unit of that digit.
    fn round(&self, digits: usize) -> Decimal {
        if self.frac.len() <= digits {
            let mut frac = String::with_capacity(digits);
            frac.push_str(&self.frac);
            frac.extend(std::iter::repeat_n('0', digits - self.frac.len()));
            return Decimal {
                negative: self.negative,
                int: self.int.clone(),
                frac,
            };
        }
        let round_up = self.frac.as_bytes().get(digits).is_some_and(|&b| b >= b'5');
        let mut all: Vec<u8> = self.int.bytes().collect();
        all.extend(self.frac.bytes().take(digits));
        if round_up {
            increment(&mut all);
        }
        let split = all.len() - digits;
        let int: String = all[..split].iter().map(|&b| char::from(b)).collect();
        let frac: String = all[split..].iter().map(|&b| char::from(b)).collect();
        Decimal {
            negative: self.negative,
            int: strip_leading_zeros(&int),
            frac,
        }
    }

    fn is_zero(&self) -> bool {
        self.int == "0" && self.frac.bytes().all(|b| b == b'0')
    }

    /// Whether to print a minus sign: never for zero, so `-0.001` in EUR shows as `0,00 €`.
    fn shows_minus(&self) -> bool {
        self.negative && !self.is_zero()
    }
}

/// Adds one to a big-endian ASCII digit string, growing it on overflow (`999` → `1000`).
fn increment(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, b'1');
}

// ---------------------------------------------------------------------------------------------
// Locales
// ---------------------------------------------------------------------------------------------

/// Where the currency symbol goes (CLDR currency pattern of the locale).
#[derive(Debug, Clone, Copy)]
enum CurrencyPattern {
    /// `$1,234.56` (en, es-MX)
    Prefix,
    /// `R$ 1.234,56` (pt-BR, es-AR), no-break space
    PrefixSpaced,
    /// `1.234,56 €` (es-ES, fr, de), no-break space
    SuffixSpaced,
}

/// Numeric date order for the short style.
#[derive(Debug, Clone, Copy)]
enum ShortDate {
    /// `15/06/2024`
    DaySlash,
    /// `06/15/2024`
    MonthSlash,
    /// `15.06.2024`
    DayDot,
}

/// Word order of the medium and long styles.
#[derive(Debug, Clone, Copy)]
enum TextDate {
    /// `June 15, 2024`
    MonthFirst,
    /// `15 June 2024`
    DayFirst,
    /// `15. Juni 2024`
    DayDotFirst,
    /// `15 de junio de 2024`
    DayDeMonth,
}

/// Formatting conventions of one locale (CLDR, see the module docs for the simplifications).
#[derive(Debug)]
struct Locale {
    language: &'static str,
    region: &'static str,
    decimal: char,
    group: char,
    currency_pattern: CurrencyPattern,
    /// The currency that gets its bare local symbol (`$` for MXN in es-MX).
    home_currency: &'static str,
    short_date: ShortDate,
    medium_date: TextDate,
    long_date: TextDate,
    months: &'static [&'static str; 12],
    months_abbr: &'static [&'static str; 12],
    twelve_hour: bool,
    /// Between date and time in the short style / the medium and long styles.
    short_joiner: &'static str,
    long_joiner: &'static str,
    /// CLDR plural "one" includes 0 (fr, pt).
    zero_is_singular: bool,
}

const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const EN_US_ABBR: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
// CLDR en-GB abbreviates September as "Sept".
const EN_GB_ABBR: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec",
];
const ES_MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];
const ES_ABBR: [&str; 12] = [
    "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic",
];
const FR_MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const FR_ABBR: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
];
const DE_MONTHS: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];
const DE_ABBR: [&str; 12] = [
    "Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez.",
];
const PT_MONTHS: [&str; 12] = [
    "janeiro",
    "fevereiro",
    "março",
    "abril",
    "maio",
    "junho",
    "julho",
    "agosto",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
];
const PT_ABBR: [&str; 12] = [
    "jan.", "fev.", "mar.", "abr.", "mai.", "jun.", "jul.", "ago.", "set.", "out.", "nov.", "dez.",
];

/// Order matters: the first locale of a language is that language's fallback.
static LOCALES: [Locale; 8] = [
    Locale {
        language: "en",
        region: "US",
        decimal: '.',
        group: ',',
        currency_pattern: CurrencyPattern::Prefix,
        home_currency: "USD",
        short_date: ShortDate::MonthSlash,
        medium_date: TextDate::MonthFirst,
        long_date: TextDate::MonthFirst,
        months: &EN_MONTHS,
        months_abbr: &EN_US_ABBR,
        twelve_hour: true,
        short_joiner: ", ",
        long_joiner: ", ",
        zero_is_singular: false,
    },
    Locale {
        language: "en",
        region: "GB",
        decimal: '.',
        group: ',',
        currency_pattern: CurrencyPattern::Prefix,
        home_currency: "GBP",
        short_date: ShortDate::DaySlash,
        medium_date: TextDate::DayFirst,
        long_date: TextDate::DayFirst,
        months: &EN_MONTHS,
        months_abbr: &EN_GB_ABBR,
        twelve_hour: false,
        short_joiner: ", ",
        long_joiner: ", ",
        zero_is_singular: false,
    },
    Locale {
        language: "es",
        region: "ES",
        decimal: ',',
        group: '.',
        currency_pattern: CurrencyPattern::SuffixSpaced,
        home_currency: "EUR",
        short_date: ShortDate::DaySlash,
        medium_date: TextDate::DayFirst,
        long_date: TextDate::DayDeMonth,
        months: &ES_MONTHS,
        months_abbr: &ES_ABBR,
        twelve_hour: false,
        short_joiner: " ",
        long_joiner: ", ",
        zero_is_singular: false,
    },
    Locale {
        language: "es",
        region: "MX",
        decimal: '.',
        group: ',',
        currency_pattern: CurrencyPattern::Prefix,
        home_currency: "MXN",
        short_date: ShortDate::DaySlash,
        medium_date: TextDate::DayFirst,
        long_date: TextDate::DayDeMonth,
        months: &ES_MONTHS,
        months_abbr: &ES_ABBR,
        twelve_hour: false,
        short_joiner: " ",
        long_joiner: ", ",
        zero_is_singular: false,
    },
    Locale {
        language: "es",
        region: "AR",
        decimal: ',',
        group: '.',
        currency_pattern: CurrencyPattern::PrefixSpaced,
        home_currency: "ARS",
        short_date: ShortDate::DaySlash,
        medium_date: TextDate::DayFirst,
        long_date: TextDate::DayDeMonth,
        months: &ES_MONTHS,
        months_abbr: &ES_ABBR,
        twelve_hour: false,
        short_joiner: " ",
        long_joiner: ", ",
        zero_is_singular: false,
    },
    Locale {
        language: "fr",
        region: "FR",
        decimal: ',',
        group: NNBSP,
        currency_pattern: CurrencyPattern::SuffixSpaced,
        home_currency: "EUR",
        short_date: ShortDate::DaySlash,
        medium_date: TextDate::DayFirst,
        long_date: TextDate::DayFirst,
        months: &FR_MONTHS,
        months_abbr: &FR_ABBR,
        twelve_hour: false,
        short_joiner: " ",
        long_joiner: ", ",
        zero_is_singular: true,
    },
    Locale {
        language: "de",
        region: "DE",
        decimal: ',',
        group: '.',
        currency_pattern: CurrencyPattern::SuffixSpaced,
        home_currency: "EUR",
        short_date: ShortDate::DayDot,
        medium_date: TextDate::DayDotFirst,
        long_date: TextDate::DayDotFirst,
        months: &DE_MONTHS,
        months_abbr: &DE_ABBR,
        twelve_hour: false,
        short_joiner: ", ",
        long_joiner: ", ",
        zero_is_singular: false,
    },
    Locale {
        language: "pt",
        region: "BR",
        decimal: ',',
        group: '.',
        currency_pattern: CurrencyPattern::PrefixSpaced,
        home_currency: "BRL",
        short_date: ShortDate::DaySlash,
        medium_date: TextDate::DayDeMonth,
        long_date: TextDate::DayDeMonth,
        months: &PT_MONTHS,
        months_abbr: &PT_ABBR,
        twelve_hour: false,
        short_joiner: " ",
        long_joiner: ", ",
        zero_is_singular: true,
    },
];

/// The supported locales as a list for error messages: `es-ES, es-MX, ...`.
fn supported_locales() -> String {
    LOCALES
        .iter()
        .map(|l| format!("{}-{}", l.language, l.region))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Finds the conventions for a BCP 47 or POSIX tag; see the module docs for the fallbacks.
///
/// A language without a table is refused rather than formatted as English: `1.234,56` and
/// `1,234.56` mean different amounts, so a guessed convention can mislead the reader. The error
/// has no filter name, so `check_locale` and the literal scanner share it.
fn lookup_locale(tag: &str) -> Result<&'static Locale, String> {
    // A tag already in a table's own form (`es-ES`, `en_US`), as record data usually has it:
    // found without the general parse below, which allocates (called per amount and date).
    if let Some(loc) = LOCALES.iter().find(|l| is_exact_tag(tag, l)) {
        return Ok(loc);
    }
    let trimmed = tag.trim();
    if trimmed.is_empty() {
        return Err("empty locale".to_string());
    }
    // POSIX `es_ES.UTF-8` / `de_DE@euro`: the codeset and modifier say nothing about format.
    let base = trimmed.split(['.', '@']).next().unwrap_or(trimmed);
    let mut parts = base.split(['-', '_']);
    let language = parts.next().unwrap_or_default().to_ascii_lowercase();
    // Skip a script subtag (`zh-Hant-TW`); a region is two letters or three digits.
    let region = parts
        .find(|p| {
            (p.len() == 2 && p.bytes().all(|b| b.is_ascii_alphabetic()))
                || (p.len() == 3 && is_digits(p))
        })
        .map(str::to_ascii_uppercase);
    let find = |language: &str, region: Option<&str>| {
        LOCALES
            .iter()
            .find(|l| l.language == language && region.is_none_or(|r| l.region == r))
    };
    if let Some(region) = &region {
        if let Some(loc) = find(&language, Some(region)) {
            return Ok(loc);
        }
        // Latin American Spanish writes numbers and money like Mexico, not Spain.
        if language == "es"
            && region == "419"
            && let Some(loc) = find("es", Some("MX"))
        {
            return Ok(loc);
        }
    }
    find(&language, None).ok_or_else(|| {
        format!(
            "unsupported locale {tag:?}: supported are {} (or a tag of one of their languages, \
             e.g. \"es\" or \"es-CO\" for es-ES)",
            supported_locales()
        )
    })
}

/// `language-REGION` or `language_REGION` of `loc`, in any case.
fn is_exact_tag(tag: &str, loc: &Locale) -> bool {
    let (language, region) = (loc.language.len(), loc.region.len());
    tag.len() == language + 1 + region
        && tag.is_char_boundary(language)
        && tag[..language].eq_ignore_ascii_case(loc.language)
        && matches!(tag.as_bytes()[language], b'-' | b'_')
        && tag[language + 1..].eq_ignore_ascii_case(loc.region)
}

fn resolve_locale(tag: &str, filter: &str) -> Result<&'static Locale, Error> {
    lookup_locale(tag).map_err(|msg| invalid(format!("{filter}: {msg}")))
}

/// Whether `locale` is one the filters format (directly or by its language's fallback).
///
/// # Errors
/// Why not, listing the supported locales, as the filters themselves would say it.
pub fn check_locale(locale: &str) -> Result<(), String> {
    lookup_locale(locale).map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// Currencies
// ---------------------------------------------------------------------------------------------

/// A currency's display data.
#[derive(Debug, Clone)]
struct Currency {
    code: Cow<'static, str>,
    /// ISO 4217 minor unit digits.
    digits: usize,
    /// Symbol in the currency's home locale (`$` for MXN in es-MX).
    local: Cow<'static, str>,
    /// Symbol everywhere else, unambiguous (`MX$`), or the ISO code.
    international: Cow<'static, str>,
}

/// (code, minor digits, local symbol, international symbol). Symbols follow CLDR `en`, which is
/// also what the other supported locales use for these currencies outside their home.
const CURRENCIES: &[(&str, usize, &str, &str)] = &[
    ("EUR", 2, "€", "€"),
    ("USD", 2, "$", "US$"),
    ("MXN", 2, "$", "MX$"),
    ("ARS", 2, "$", "ARS"),
    ("GBP", 2, "£", "£"),
    ("JPY", 0, "¥", "¥"),
    ("CLP", 0, "$", "CLP"),
    ("COP", 2, "$", "COP"),
    ("BRL", 2, "R$", "R$"),
    ("CAD", 2, "$", "CA$"),
    ("AUD", 2, "$", "A$"),
    ("KRW", 0, "₩", "₩"),
    ("VND", 0, "₫", "₫"),
    // Currencies whose minor digits differ from 2 must be listed even without a symbol, or
    // amounts would be rounded wrongly.
    ("ISK", 0, "ISK", "ISK"),
    ("PYG", 0, "PYG", "PYG"),
    ("UGX", 0, "UGX", "UGX"),
    ("XAF", 0, "FCFA", "FCFA"),
    ("XOF", 0, "F\u{202f}CFA", "F\u{202f}CFA"),
    ("BHD", 3, "BHD", "BHD"),
    ("JOD", 3, "JOD", "JOD"),
    ("KWD", 3, "KWD", "KWD"),
    ("OMR", 3, "OMR", "OMR"),
    ("TND", 3, "TND", "TND"),
];

/// Known currencies get their table entry; any other three-letter code is shown as itself
/// with two minor digits (the ISO 4217 default).
fn resolve_currency(code: &str, filter: &str) -> Result<Currency, Error> {
    lookup_currency(code).map_err(|msg| invalid(format!("{filter}: {msg}")))
}

fn lookup_currency(code: &str) -> Result<Currency, String> {
    let trimmed = code.trim();
    if trimmed.len() != 3 || !trimmed.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!(
            "invalid currency code {code:?}: expected three letters such as \"EUR\""
        ));
    }
    if let Some(&(c, digits, local, international)) = CURRENCIES
        .iter()
        .find(|(c, ..)| c.eq_ignore_ascii_case(trimmed))
    {
        return Ok(Currency {
            code: Cow::Borrowed(c),
            digits,
            local: Cow::Borrowed(local),
            international: Cow::Borrowed(international),
        });
    }
    let upper = trimmed.to_ascii_uppercase();
    Ok(Currency {
        code: Cow::Owned(upper.clone()),
        digits: 2,
        local: Cow::Owned(upper.clone()),
        international: Cow::Owned(upper),
    })
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

/// Appends integer digits with the group separator every three digits, from four digits on.
///
/// CLDR sets `minimumGroupingDigits = 2` for Spanish (and some other locales), which leaves
/// four-digit numbers ungrouped (`1234,56 €`, but `12.345,67 €`). The product asked for one rule
/// everywhere, `1.234,56 €`, which readers of every supported locale accept; so no per-locale
/// minimum here.
fn push_grouped(out: &mut String, int: &str, sep: char) {
    if int.len() < 4 {
        out.push_str(int);
        return;
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
}

/// The magnitude in the locale's separators, appended to `out`.
fn push_unsigned(out: &mut String, dec: &Decimal, loc: &Locale) {
    push_grouped(out, &dec.int, loc.group);
    if !dec.frac.is_empty() {
        out.push(loc.decimal);
        out.push_str(&dec.frac);
    }
}

/// The magnitude in the locale's separators.
fn format_unsigned(dec: &Decimal, loc: &Locale) -> String {
    let mut out = String::with_capacity(dec.int.len() * 2 + dec.frac.len() + 1);
    push_unsigned(&mut out, dec, loc);
    out
}

fn format_signed(dec: &Decimal, loc: &Locale) -> String {
    let sign = if dec.shows_minus() { "-" } else { "" };
    format!("{sign}{}", format_unsigned(dec, loc))
}

/// `dec` is already rounded to the currency's digits. The minus sign leads in every supported
/// locale (`-$1,234.56`, `-1.234,56 €`), as in CLDR.
fn format_money(dec: &Decimal, cur: &Currency, loc: &Locale) -> String {
    let symbol = if cur.code == loc.home_currency {
        &cur.local
    } else {
        &cur.international
    };
    let mut out = String::with_capacity(dec.int.len() * 2 + dec.frac.len() + 16);
    if dec.shows_minus() {
        out.push('-');
    }
    let amount = |out: &mut String| push_unsigned(out, dec, loc);
    match loc.currency_pattern {
        CurrencyPattern::Prefix => {
            out.push_str(symbol);
            amount(&mut out);
        }
        CurrencyPattern::PrefixSpaced => {
            out.push_str(symbol);
            out.push(NBSP);
            amount(&mut out);
        }
        CurrencyPattern::SuffixSpaced => {
            amount(&mut out);
            out.push(NBSP);
            out.push_str(symbol);
        }
    }
    out
}

/// Date styles: short is numeric, medium has an abbreviated month name, long the full name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Short,
    Medium,
    Long,
}

impl Style {
    fn parse(style: Option<&str>, filter: &str) -> Result<Style, Error> {
        Style::lookup(style.unwrap_or("short")).map_err(|msg| invalid(format!("{filter}: {msg}")))
    }

    fn lookup(style: &str) -> Result<Style, String> {
        match style {
            "short" => Ok(Style::Short),
            "medium" => Ok(Style::Medium),
            "long" => Ok(Style::Long),
            other => Err(format!(
                "unknown style {other:?}: expected \"short\", \"medium\" or \"long\""
            )),
        }
    }
}

/// A `date`/`datetime` value as written in the record.
#[derive(Debug, Clone, Copy)]
enum When {
    /// `YYYY-MM-DD`: a calendar day, not an instant.
    Date(NaiveDate),
    /// `YYYY-MM-DDTHH:MM:SS` without an offset: a wall-clock time in no stated zone.
    Floating(NaiveDateTime),
    /// RFC 3339 (`...+01:00`, `...Z`): an instant, and the offset it was written in.
    Instant(DateTime<FixedOffset>),
}

/// Parses a date (`YYYY-MM-DD`) or a datetime (RFC 3339, or the same without an offset).
fn parse_when(value: &Value, filter: &str) -> Result<When, Error> {
    let bad = || {
        invalid(format!(
            "{filter}: invalid date {}: expected \"YYYY-MM-DD\" or an RFC 3339 datetime such as \
             \"2024-06-15T13:15:07+01:00\"",
            describe(value)
        ))
    };
    let text = value.as_str().ok_or_else(bad)?.trim();
    // chrono's `%Y-%m-%d` also accepts `2024-6-5` and signed years; insist on the ISO shape.
    let is_date_shape = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if is_date_shape {
        return NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(When::Date)
            .map_err(|_| bad());
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Ok(When::Instant(dt));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .map(When::Floating)
        .map_err(|_| bad())
}

/// What a `date`/`datetime` shows: the local date, the local time (none for a bare date) and
/// the label of the zone that local time is in (none when unknown).
struct Shown {
    day: NaiveDate,
    time: Option<NaiveTime>,
    zone: Option<String>,
}

/// The local date and time to show for `when`.
///
/// Without `tz`, the date and time are the ones written in the value: the record already says
/// when it happened for this customer. With `tz`, an instant is converted to that zone with the
/// bundled tz database (never the system's). Values that name no instant are refused with a
/// `tz` rather than guessed: a bare date has no time to convert, and a datetime without an
/// offset could be UTC or any local time, so converting it could show the wrong hour.
fn to_local(value: &Value, when: When, tz: Option<Tz>, filter: &str) -> Result<Shown, Error> {
    match (when, tz) {
        (When::Date(day), None) => Ok(Shown {
            day,
            time: None,
            zone: None,
        }),
        (When::Floating(dt), None) => Ok(Shown {
            day: dt.date(),
            time: Some(dt.time()),
            zone: None,
        }),
        (When::Instant(dt), None) => Ok(Shown {
            day: dt.date_naive(),
            time: Some(dt.time()),
            zone: Some(zone_label(None, dt.offset().local_minus_utc())),
        }),
        (When::Instant(dt), Some(tz)) => {
            let local = dt.with_timezone(&tz);
            let offset = local.offset();
            Ok(Shown {
                day: local.date_naive(),
                time: Some(local.time()),
                zone: Some(zone_label(
                    offset.abbreviation(),
                    offset.fix().local_minus_utc(),
                )),
            })
        }
        (When::Date(_), Some(tz)) => Err(invalid(format!(
            "{filter}: {} is a date without a time, so there is nothing to convert to {}; \
             leave out `tz`",
            describe(value),
            tz.name()
        ))),
        (When::Floating(_), Some(tz)) => Err(invalid(format!(
            "{filter}: {} has no UTC offset, so the instant it names is unknown and it cannot be \
             converted to {}; write it as RFC 3339 with `Z` or an offset \
             (\"2024-06-15T13:15:07Z\"), or leave out `tz` to show it as written",
            describe(value),
            tz.name()
        ))),
    }
}

/// How a reader tells which zone a time is in: the tz database abbreviation when it is a word
/// (`CEST`), always with the UTC offset, which is unambiguous where abbreviations are not (`CST`
/// is used in America, China and Cuba). Zones whose abbreviation is only a number (`-03` for
/// Buenos Aires) show the offset alone. Offsets with seconds (local mean time before 1900) keep
/// them rather than being rounded.
fn zone_label(abbreviation: Option<&str>, offset_seconds: i32) -> String {
    let sign = if offset_seconds < 0 { '-' } else { '+' };
    let abs = offset_seconds.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    let offset = if s == 0 {
        format!("UTC{sign}{h:02}:{m:02}")
    } else {
        format!("UTC{sign}{h:02}:{m:02}:{s:02}")
    };
    match abbreviation {
        Some(a) if a != "UTC" && !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphabetic()) => {
            format!("{a} ({offset})")
        }
        _ if offset_seconds == 0 => "UTC".to_string(),
        _ => offset,
    }
}

/// An IANA zone name to a zone of the bundled tz database (`chrono-tz`, IANA release
/// `chrono_tz::IANA_TZDB_VERSION`). Names are case-sensitive, as in the database; a near miss
/// gets a suggestion.
fn lookup_time_zone(name: &str) -> Result<Tz, String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err("empty time zone".to_string());
    }
    trimmed.parse::<Tz>().map_err(|_| {
        let hint = suggest_time_zone(trimmed)
            .map(|s| format!(" (did you mean {s:?}?)"))
            .unwrap_or_default();
        format!(
            "unknown time zone {name:?}{hint}: expected an IANA name such as \"Europe/Madrid\" \
             or \"America/Mexico_City\""
        )
    })
}

/// The zone a misspelled name most likely meant: the same name in other case, a zone whose
/// city part matches (`Madrid`), or the closest name by Jaro-Winkler similarity.
fn suggest_time_zone(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase().replace(' ', "_");
    let names = || chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
    names()
        .find(|n| n.eq_ignore_ascii_case(&lower))
        .or_else(|| {
            names().find(|n| {
                n.rsplit('/')
                    .next()
                    .is_some_and(|city| city.eq_ignore_ascii_case(&lower))
            })
        })
        .or_else(|| {
            names()
                .map(|n| (strsim::jaro_winkler(&lower, &n.to_ascii_lowercase()), n))
                .filter(|(score, _)| *score > 0.9)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, n)| n)
        })
}

/// Whether `tz` is a zone name the `tz` argument accepts.
///
/// # Errors
/// Why not, with a suggestion for a near miss, as the filters themselves would say it.
pub fn check_time_zone(tz: &str) -> Result<(), String> {
    lookup_time_zone(tz).map(|_| ())
}

/// The `tz` keyword argument. Given as `none` it is an error, not "no conversion": a record
/// whose zone field is empty must not silently get times in another zone.
fn tz_argument(kwargs: &Kwargs, filter: &str) -> Result<Option<Tz>, Error> {
    if !kwargs.has("tz") {
        return Ok(None);
    }
    let value: Value = kwargs.get("tz")?;
    let name = value.as_str().ok_or_else(|| {
        invalid(format!(
            "{filter}: `tz` must be an IANA zone name such as \"Europe/Madrid\", got {}",
            describe(&value)
        ))
    })?;
    lookup_time_zone(name)
        .map(Some)
        .map_err(|msg| invalid(format!("{filter}: {msg}")))
}

fn format_date(day: NaiveDate, style: Style, loc: &Locale) -> String {
    let (y, m, d) = (day.year(), day.month(), day.day());
    let month_name = |names: &[&'static str; 12]| {
        names
            .get(day.month0() as usize)
            .copied()
            .unwrap_or_default()
    };
    let (pattern, month) = match style {
        Style::Short => {
            return match loc.short_date {
                ShortDate::DaySlash => format!("{d:02}/{m:02}/{y:04}"),
                ShortDate::MonthSlash => format!("{m:02}/{d:02}/{y:04}"),
                ShortDate::DayDot => format!("{d:02}.{m:02}.{y:04}"),
            };
        }
        Style::Medium => (loc.medium_date, month_name(loc.months_abbr)),
        Style::Long => (loc.long_date, month_name(loc.months)),
    };
    match pattern {
        TextDate::MonthFirst => format!("{month} {d}, {y}"),
        TextDate::DayFirst => format!("{d} {month} {y}"),
        TextDate::DayDotFirst => format!("{d}. {month} {y}"),
        TextDate::DayDeMonth => format!("{d} de {month} de {y}"),
    }
}

/// `13:15`, or `1:15 PM` in en-US. CLDR 42+ puts U+202F before the day period; a plain space
/// is used instead, as the product examples show, and because some mail clients render U+202F
/// as a box.
fn format_time(time: NaiveTime, loc: &Locale) -> String {
    let (h, min) = (time.hour(), time.minute());
    if loc.twelve_hour {
        let (h12, period) = match h {
            0 => (12, "AM"),
            1..=11 => (h, "AM"),
            12 => (12, "PM"),
            _ => (h - 12, "PM"),
        };
        format!("{h12}:{min:02} {period}")
    } else {
        format!("{h:02}:{min:02}")
    }
}

// ---------------------------------------------------------------------------------------------
// Literal arguments, checked before any record is rendered
// ---------------------------------------------------------------------------------------------

/// The arguments of each locale-aware filter that can be checked when written as a literal:
/// (filter, positional index or keyword, what it is).
const CHECKED_ARGUMENTS: &[(&str, ArgSlot, ArgKind)] = &[
    ("money", ArgSlot::Position(0), ArgKind::Currency),
    ("money", ArgSlot::Position(1), ArgKind::Locale),
    ("cents_money", ArgSlot::Position(0), ArgKind::Currency),
    ("cents_money", ArgSlot::Position(1), ArgKind::Locale),
    ("number", ArgSlot::Position(0), ArgKind::Locale),
    ("date", ArgSlot::Position(0), ArgKind::Locale),
    ("date", ArgSlot::Position(1), ArgKind::Style),
    ("date", ArgSlot::Keyword("style"), ArgKind::Style),
    ("date", ArgSlot::Keyword("tz"), ArgKind::TimeZone),
    ("datetime", ArgSlot::Position(0), ArgKind::Locale),
    ("datetime", ArgSlot::Position(1), ArgKind::Style),
    ("datetime", ArgSlot::Keyword("style"), ArgKind::Style),
    ("datetime", ArgSlot::Keyword("tz"), ArgKind::TimeZone),
    ("plural", ArgSlot::Position(2), ArgKind::Locale),
    ("plural", ArgSlot::Keyword("locale"), ArgKind::Locale),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArgSlot {
    Position(usize),
    Keyword(&'static str),
}

#[derive(Debug, Clone, Copy)]
enum ArgKind {
    Locale,
    Currency,
    Style,
    TimeZone,
}

impl ArgKind {
    fn check(self, literal: &str) -> Result<(), String> {
        match self {
            ArgKind::Locale => check_locale(literal),
            ArgKind::Currency => lookup_currency(literal).map(|_| ()),
            ArgKind::Style => Style::lookup(literal).map(|_| ()),
            ArgKind::TimeZone => check_time_zone(literal),
        }
    }
}

/// Finds string literals passed to `money`, `cents_money`, `number`, `date`, `datetime` and
/// `plural` that those filters would refuse at render time (an unsupported locale, an unknown
/// time zone, currency code or style), so `mailspec check` can report them at their line before
/// any record is rendered. Returns each literal's byte range in `template_source`, quotes
/// included, and the message the filter would give.
///
/// The scan is deliberately shallow, not a second template parser: it looks inside `{{ }}` and
/// `{% %}` (skipping `{# #}` comments and `{% raw %}` blocks) for `|name(...)` and
/// `{% filter name(...) %}`, and checks an argument only when the whole argument is one string
/// literal in `"` or `'` without backslash escapes. Anything computed (`locale`,
/// `"es" ~ "-ES"`) is left to the render-time check, so the scan has no false positives from
/// expressions it does not evaluate. Default delimiters only.
pub fn literal_argument_problems(template_source: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut problems = Vec::new();
    let bytes = template_source.as_bytes();
    let mut i = 0;
    while let Some(open) = find_from(template_source, i, "{") {
        match bytes.get(open + 1) {
            Some(b'{') | Some(b'%') => {
                // `{{-` / `{%+`: the whitespace-control sign is not code.
                let tag_start = match bytes.get(open + 2) {
                    Some(b'-' | b'+') => open + 3,
                    _ => open + 2,
                };
                if bytes.get(open + 1) == Some(&b'%') && is_raw_tag(template_source, tag_start) {
                    // Everything up to `{% endraw %}` is text, not template code.
                    i = find_from(template_source, tag_start, "endraw")
                        .and_then(|e| find_from(template_source, e, "%}"))
                        .map_or(bytes.len(), |e| e + 2);
                    continue;
                }
                let (tokens, end) = lex_tag(template_source, tag_start);
                check_tokens(&tokens, &mut problems);
                i = end;
            }
            Some(b'#') => {
                i = find_from(template_source, open + 2, "#}").map_or(bytes.len(), |e| e + 2);
            }
            _ => i = open + 1,
        }
    }
    problems
}

fn find_from(haystack: &str, from: usize, needle: &str) -> Option<usize> {
    haystack
        .get(from..)
        .and_then(|rest| rest.find(needle))
        .map(|at| from + at)
}

/// Whether the `{%` tag whose code starts at `at` is `{% raw %}`.
fn is_raw_tag(src: &str, at: usize) -> bool {
    let rest = src.get(at..).unwrap_or_default().trim_start();
    rest.strip_prefix("raw").is_some_and(|after| {
        let after = after.trim_start();
        let after = after.strip_prefix(['-', '+']).unwrap_or(after);
        after.starts_with("%}")
    })
}

/// A token of template code: enough structure to find filter calls and their arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Ident(&'a str),
    /// A string literal: its range in the source (quotes included), and its text when it has
    /// no backslash escape (escapes are left to the template parser).
    Str(std::ops::Range<usize>, Option<&'a str>),
    Punct(u8),
    /// Numbers and operators such as `==`: only there to keep argument boundaries right.
    Other,
}

/// Tokens of the tag whose code starts at `start`, up to its closing `}}` or `%}` (outside
/// strings and brackets), and the offset just past that delimiter.
fn lex_tag(src: &str, start: usize) -> (Vec<Token<'_>>, usize) {
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut i = start;
    let mut braces = 0usize;
    while let Some(&b) = bytes.get(i) {
        let next = bytes.get(i + 1).copied();
        match b {
            b'}' | b'%' if next == Some(b'}') && braces == 0 => return (tokens, i + 2),
            b'"' | b'\'' => {
                let mut j = i + 1;
                let mut escaped = false;
                loop {
                    match bytes.get(j) {
                        // An unterminated string: the template parser reports it.
                        None => return (tokens, bytes.len()),
                        Some(b'\\') => {
                            escaped = true;
                            j += 2;
                        }
                        Some(&c) if c == b => break,
                        Some(_) => j += 1,
                    }
                }
                let text = if escaped { None } else { src.get(i + 1..j) };
                tokens.push(Token::Str(i..j + 1, text));
                i = j + 1;
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let end = bytes
                    .get(i..)
                    .and_then(|rest| {
                        rest.iter()
                            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    })
                    .map_or(bytes.len(), |n| i + n);
                tokens.push(Token::Ident(src.get(i..end).unwrap_or_default()));
                i = end;
            }
            b'=' | b'!' | b'<' | b'>' if next == Some(b'=') => {
                tokens.push(Token::Other);
                i += 2;
            }
            b'{' => {
                braces += 1;
                tokens.push(Token::Punct(b));
                i += 1;
            }
            b'}' => {
                braces = braces.saturating_sub(1);
                tokens.push(Token::Punct(b));
                i += 1;
            }
            b'|' | b'(' | b')' | b'[' | b']' | b',' | b'=' => {
                tokens.push(Token::Punct(b));
                i += 1;
            }
            b if b.is_ascii_whitespace() => i += 1,
            _ => {
                tokens.push(Token::Other);
                i += 1;
            }
        }
    }
    (tokens, bytes.len())
}

/// Checks the literal arguments of every call of a checked filter among `tokens`.
fn check_tokens(tokens: &[Token<'_>], problems: &mut Vec<(std::ops::Range<usize>, String)>) {
    for (at, token) in tokens.iter().enumerate() {
        // `x|name(` anywhere, or `{% filter name(` at the start of a block tag.
        let introduces_filter = match token {
            Token::Punct(b'|') => true,
            Token::Ident("filter") => at == 0,
            _ => false,
        };
        if !introduces_filter {
            continue;
        }
        let (Some(Token::Ident(name)), Some(Token::Punct(b'('))) =
            (tokens.get(at + 1), tokens.get(at + 2))
        else {
            continue;
        };
        if !CHECKED_ARGUMENTS.iter().any(|(f, ..)| f == name) {
            continue;
        }
        for (slot, arg) in split_arguments(tokens.get(at + 3..).unwrap_or_default()) {
            let literal = match arg {
                [Token::Str(range, Some(text))] => Some((range, *text)),
                _ => None,
            };
            let Some((range, text)) = literal else {
                continue;
            };
            for (_, _, kind) in CHECKED_ARGUMENTS
                .iter()
                .filter(|(f, s, _)| f == name && *s == slot)
            {
                if let Err(msg) = kind.check(text) {
                    problems.push((range.clone(), format!("{name}: {msg}")));
                }
            }
        }
    }
}

/// The arguments of a call whose `(` was just consumed: each with its slot (the keyword, or
/// the position among the positional arguments) and its tokens, up to the matching `)`.
fn split_arguments<'t, 'a>(tokens: &'t [Token<'a>]) -> Vec<(ArgSlot, &'t [Token<'a>])> {
    let mut args = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut position = 0;
    let mut push = |arg: &'t [Token<'a>], args: &mut Vec<(ArgSlot, &'t [Token<'a>])>| {
        match arg {
            [] => {}
            [Token::Ident(key), Token::Punct(b'='), value @ ..] => {
                // Keywords no filter checks are skipped; the table holds the `'static` name.
                if let Some(&(_, slot, _)) = CHECKED_ARGUMENTS
                    .iter()
                    .find(|(_, s, _)| matches!(s, ArgSlot::Keyword(k) if k == key))
                {
                    args.push((slot, value));
                }
            }
            _ => {
                args.push((ArgSlot::Position(position), arg));
                position += 1;
            }
        }
    };
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Punct(b'(' | b'[' | b'{') => depth += 1,
            Token::Punct(b')' | b']' | b'}') if depth > 0 => depth -= 1,
            Token::Punct(b')') => {
                push(tokens.get(start..i).unwrap_or_default(), &mut args);
                return args;
            }
            Token::Punct(b',') if depth == 0 => {
                push(tokens.get(start..i).unwrap_or_default(), &mut args);
                start = i + 1;
            }
            _ => {}
        }
    }
    // No closing `)` in this tag: a syntax error the template parser reports.
    args
}

#[cfg(test)]
mod tests {
    #[test]
    fn mul_and_ical_utc() {
        let mut env = minijinja::Environment::new();
        super::register(&mut env);
        let r = |t: &str| {
            env.render_str(t, minijinja::context! {})
                .unwrap_or_else(|e| format!("ERR {e}"))
        };
        assert_eq!(r("{{ '19.99'|mul(3) }}"), "59.97");
        assert_eq!(r("{{ '0.05'|mul(-2) }}"), "-0.10");
        assert_eq!(r("{{ '7'|mul(6) }}"), "42");
        assert_eq!(r("{{ '0.00'|mul(-3) }}"), "0.00");
        assert!(r("{{ 'x'|mul(2) }}").starts_with("ERR"));
        assert_eq!(
            r("{{ '2024-07-04T18:00:00+02:00'|ical_utc }}"),
            "20240704T160000Z"
        );
        assert!(r("{{ 'tomorrow'|ical_utc }}").starts_with("ERR"));
    }

    use super::*;
    use minijinja::context;

    fn env() -> Environment<'static> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        register(&mut env);
        env
    }

    fn render(template: &str, x: Value) -> Result<String, Error> {
        env().render_str(template, context! { x => x })
    }

    fn ok(template: &str, x: Value) -> String {
        match render(template, x.clone()) {
            Ok(s) => s,
            Err(e) => panic!("{template} with {x:?} failed: {e:#}"),
        }
    }

    fn err(template: &str, x: Value) -> String {
        match render(template, x.clone()) {
            Ok(s) => panic!("{template} with {x:?} should fail, gave {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn money_examples() {
        let cases: &[(&str, &str, &str, &str)] = &[
            ("1234.56", "EUR", "es-ES", "1.234,56\u{a0}€"),
            ("1234.56", "EUR", "de-DE", "1.234,56\u{a0}€"),
            ("1234.56", "EUR", "fr-FR", "1\u{202f}234,56\u{a0}€"),
            ("1234.56", "USD", "en-US", "$1,234.56"),
            ("1234.56", "GBP", "en-GB", "£1,234.56"),
            ("1234.56", "EUR", "en-US", "€1,234.56"),
            ("1234.56", "MXN", "es-MX", "$1,234.56"),
            ("1234.56", "ARS", "es-AR", "$\u{a0}1.234,56"),
            ("1234.56", "USD", "es-ES", "1.234,56\u{a0}US$"),
            ("1234.56", "BRL", "pt-BR", "R$\u{a0}1.234,56"),
            ("1234.56", "MXN", "en-US", "MX$1,234.56"),
            ("1234.56", "USD", "es-MX", "US$1,234.56"),
            ("1234.56", "ARS", "en-US", "ARS1,234.56"),
            ("-1234.56", "USD", "en-US", "-$1,234.56"),
            ("-1234.56", "EUR", "es-ES", "-1.234,56\u{a0}€"),
            ("-1234.56", "BRL", "pt-BR", "-R$\u{a0}1.234,56"),
            ("1234.5", "JPY", "en-US", "¥1,235"),
            ("1234.4", "JPY", "en-US", "¥1,234"),
            ("-1234.5", "JPY", "en-US", "-¥1,235"),
            ("1234.5", "CLP", "es-ES", "1.235\u{a0}CLP"),
            ("1234.5", "COP", "es-ES", "1.234,50\u{a0}COP"),
            ("1234.56", "XYZ", "en-US", "XYZ1,234.56"),
            ("1234.56", "eur", "es-ES", "1.234,56\u{a0}€"),
            ("1.5", "KWD", "en-US", "KWD1.500"),
            // rounding: half away from zero, on the decimal digits
            ("0.005", "EUR", "en-US", "€0.01"),
            ("0.004", "EUR", "en-US", "€0.00"),
            ("-0.005", "EUR", "en-US", "-€0.01"),
            ("2.675", "EUR", "en-US", "€2.68"),
            ("2.665", "EUR", "en-US", "€2.67"),
            ("9.995", "USD", "en-US", "$10.00"),
            ("999.999", "USD", "en-US", "$1,000.00"),
            ("0.10", "USD", "en-US", "$0.10"),
            ("-3", "EUR", "es-ES", "-3,00\u{a0}€"),
            ("+7", "EUR", "es-ES", "7,00\u{a0}€"),
            (" 12.5 ", "EUR", "es-ES", "12,50\u{a0}€"),
            // zero, and a negative that rounds to zero, have no sign
            ("0", "EUR", "es-ES", "0,00\u{a0}€"),
            ("-0.001", "EUR", "es-ES", "0,00\u{a0}€"),
            ("000123.4", "USD", "en-US", "$123.40"),
            ("999", "EUR", "es-ES", "999,00\u{a0}€"),
            // huge values stay exact
            (
                "123456789012.34",
                "EUR",
                "es-ES",
                "123.456.789.012,34\u{a0}€",
            ),
            ("123456789012.345", "USD", "en-US", "$123,456,789,012.35"),
            (
                "98765432109876543210987654321.999",
                "USD",
                "en-US",
                "$98,765,432,109,876,543,210,987,654,322.00",
            ),
        ];
        for &(amount, currency, locale, want) in cases {
            let tpl = format!("{{{{ x|money('{currency}', '{locale}') }}}}");
            assert_eq!(
                ok(&tpl, Value::from(amount)),
                want,
                "{amount} {currency} {locale}"
            );
        }
    }

    #[test]
    fn money_from_json_numbers() {
        let cases: &[(Value, &str)] = &[
            (Value::from(1234), "$1,234.00"),
            (Value::from(-3), "-$3.00"),
            (Value::from(0), "$0.00"),
            (Value::from(1234.56), "$1,234.56"),
            // f64 2.675 is 2.67499999…; its shortest text "2.675" is what was written
            (Value::from(2.675), "$2.68"),
            (Value::from(0.005), "$0.01"),
            (Value::from(0.1 + 0.2), "$0.30"),
            (Value::from(123_456_789_012_i64), "$123,456,789,012.00"),
            (Value::from(1e15), "$1,000,000,000,000,000.00"),
        ];
        for (x, want) in cases {
            assert_eq!(
                ok("{{ x|money('USD', 'en-US') }}", x.clone()),
                *want,
                "{x:?}"
            );
        }
    }

    #[test]
    fn cents_money_examples() {
        let cases: &[(Value, &str, &str, &str)] = &[
            (Value::from(123456), "EUR", "es-ES", "1.234,56\u{a0}€"),
            (Value::from(123456), "USD", "en-US", "$1,234.56"),
            (Value::from(-123456), "USD", "en-US", "-$1,234.56"),
            (Value::from(5), "EUR", "fr-FR", "0,05\u{a0}€"),
            (Value::from(0), "EUR", "de-DE", "0,00\u{a0}€"),
            (Value::from(1235), "JPY", "en-US", "¥1,235"),
            (Value::from(1500), "KWD", "en-US", "KWD1.500"),
            (Value::from("123456"), "BRL", "pt-BR", "R$\u{a0}1.234,56"),
            (Value::from("-0"), "USD", "en-US", "$0.00"),
            (Value::from(123456.0), "USD", "en-US", "$1,234.56"),
            (
                Value::from(12_345_678_901_234_i64),
                "EUR",
                "es-ES",
                "123.456.789.012,34\u{a0}€",
            ),
        ];
        for (x, currency, locale, want) in cases {
            let tpl = format!("{{{{ x|cents_money('{currency}', '{locale}') }}}}");
            assert_eq!(ok(&tpl, x.clone()), *want, "{x:?} {currency} {locale}");
        }
    }

    #[test]
    fn locale_tags_and_fallbacks() {
        let cases: &[(&str, &str)] = &[
            ("es_ES", "1.234,56\u{a0}€"),
            ("es", "1.234,56\u{a0}€"),
            ("es-CO", "1.234,56\u{a0}€"),
            ("es-419", "€1,234.56"),
            ("ES-es", "1.234,56\u{a0}€"),
            ("de_DE.UTF-8", "1.234,56\u{a0}€"),
            ("en", "€1,234.56"),
            ("fr", "1\u{202f}234,56\u{a0}€"),
            ("pt", "€\u{a0}1.234,56"),
            ("es-MX.UTF-8", "€1,234.56"),
            ("en-Latn-GB", "€1,234.56"),
        ];
        for &(locale, want) in cases {
            let tpl = format!("{{{{ x|money('EUR', '{locale}') }}}}");
            assert_eq!(ok(&tpl, Value::from("1234.56")), want, "{locale}");
        }
    }

    #[test]
    fn unsupported_locales_are_refused_by_every_filter() {
        let supported = "supported are en-US, en-GB, es-ES, es-MX, es-AR, fr-FR, de-DE, pt-BR";
        for locale in [
            "ja-JP",
            "klingon",
            "xx-YY",
            "en!",
            "zh-Hant-TW",
            "C",
            "POSIX",
        ] {
            let cases: &[(&str, Value)] = &[
                ("{{ x|money('EUR', l) }}", Value::from("1.5")),
                ("{{ x|cents_money('EUR', l) }}", Value::from(150)),
                ("{{ x|number(l) }}", Value::from(3)),
                ("{{ x|date(l) }}", Value::from("2024-06-15")),
                ("{{ x|datetime(l) }}", Value::from("2024-06-15T13:15:07Z")),
                ("{{ x|plural('a', 'b', l) }}", Value::from(2)),
                ("{{ x|plural('a', 'b', locale=l) }}", Value::from(1)),
            ];
            for (tpl, x) in cases {
                let rendered = env().render_str(tpl, context! { x => x.clone(), l => locale });
                let Err(e) = rendered else {
                    panic!("{tpl} with {locale} should fail, gave {rendered:?}");
                };
                let msg = e.to_string();
                let want = format!("unsupported locale {locale:?}: {supported}");
                assert!(msg.contains(&want), "{tpl} {locale}: {msg}");
                let filter = tpl.split(['|', '(']).nth(1).unwrap_or_default();
                assert!(msg.contains(&format!("{filter}: ")), "{tpl}: {msg}");
            }
            assert_eq!(
                check_locale(locale),
                Err(format!(
                    "unsupported locale {locale:?}: {supported} (or a tag of one of their \
                     languages, e.g. \"es\" or \"es-CO\" for es-ES)"
                ))
            );
        }
        for locale in [
            "es-ES",
            "es",
            "es-CO",
            "es_419",
            "de_DE@euro",
            "pt-BR",
            "EN-gb",
        ] {
            assert_eq!(check_locale(locale), Ok(()), "{locale}");
        }
        assert_eq!(check_locale("  "), Err("empty locale".to_string()));
    }

    #[test]
    fn number_examples() {
        let cases: &[(&str, Value, &str)] = &[
            (
                "{{ x|number('en-US') }}",
                Value::from("1234567.891"),
                "1,234,567.891",
            ),
            ("{{ x|number('es-ES') }}", Value::from("1234.5"), "1.234,5"),
            ("{{ x|number('es-ES') }}", Value::from("0.10"), "0,10"),
            (
                "{{ x|number('fr-FR') }}",
                Value::from(1234567),
                "1\u{202f}234\u{202f}567",
            ),
            (
                "{{ x|number('de-DE', 2) }}",
                Value::from(1234.5),
                "1.234,50",
            ),
            (
                "{{ x|number('de-DE', decimals=0) }}",
                Value::from("1234.5"),
                "1.235",
            ),
            ("{{ x|number('en-US', 2) }}", Value::from("-0.004"), "0.00"),
            ("{{ x|number('en-US', 1) }}", Value::from("-2.25"), "-2.3"),
            ("{{ x|number('en-GB') }}", Value::from(-1234), "-1,234"),
            ("{{ x|number('pt-BR') }}", Value::from(999), "999"),
            ("{{ x|number('es-MX') }}", Value::from(1234.25), "1,234.25"),
            (
                "{{ x|number('es-AR') }}",
                Value::from("123456789012"),
                "123.456.789.012",
            ),
        ];
        for (tpl, x, want) in cases {
            assert_eq!(ok(tpl, x.clone()), *want, "{tpl} {x:?}");
        }
    }

    #[test]
    fn date_examples() {
        let d = "2024-06-15";
        let cases: &[(&str, &str, &str)] = &[
            ("es-ES", "short", "15/06/2024"),
            ("es-MX", "short", "15/06/2024"),
            ("es-AR", "short", "15/06/2024"),
            ("en-US", "short", "06/15/2024"),
            ("en-GB", "short", "15/06/2024"),
            ("de-DE", "short", "15.06.2024"),
            ("fr-FR", "short", "15/06/2024"),
            ("pt-BR", "short", "15/06/2024"),
            ("es-ES", "long", "15 de junio de 2024"),
            ("es-MX", "long", "15 de junio de 2024"),
            ("en-US", "long", "June 15, 2024"),
            ("en-GB", "long", "15 June 2024"),
            ("de-DE", "long", "15. Juni 2024"),
            ("fr-FR", "long", "15 juin 2024"),
            ("pt-BR", "long", "15 de junho de 2024"),
            ("en-US", "medium", "Jun 15, 2024"),
            ("es-ES", "medium", "15 jun 2024"),
            ("en-GB", "medium", "15 Jun 2024"),
            ("de-DE", "medium", "15. Juni 2024"),
            ("fr-FR", "medium", "15 juin 2024"),
            ("pt-BR", "medium", "15 de jun. de 2024"),
        ];
        for &(locale, style, want) in cases {
            let positional = format!("{{{{ x|date('{locale}', '{style}') }}}}");
            let keyword = format!("{{{{ x|date('{locale}', style='{style}') }}}}");
            assert_eq!(ok(&positional, Value::from(d)), want, "{locale} {style}");
            assert_eq!(ok(&keyword, Value::from(d)), want, "{locale} {style}");
        }
        // default style is short; a datetime shows its own local date (no conversion)
        let more: &[(&str, &str, &str)] = &[
            ("{{ x|date('en-US') }}", "2024-06-15", "06/15/2024"),
            (
                "{{ x|date('es-ES') }}",
                "2024-06-15T23:30:00-05:00",
                "15/06/2024",
            ),
            (
                "{{ x|date('es-ES') }}",
                "2024-06-15T00:30:00+14:00",
                "15/06/2024",
            ),
            (
                "{{ x|date('en-US', 'long') }}",
                "2024-01-05",
                "January 5, 2024",
            ),
            (
                "{{ x|date('fr-FR', 'medium') }}",
                "2024-02-29",
                "29 févr. 2024",
            ),
            (
                "{{ x|date('en-GB', 'medium') }}",
                "2024-09-01",
                "1 Sept 2024",
            ),
        ];
        for &(tpl, x, want) in more {
            assert_eq!(ok(tpl, Value::from(x)), want, "{tpl} {x}");
        }
    }

    #[test]
    fn datetime_examples() {
        let ts = "2024-06-15T13:15:07+01:00";
        let cases: &[(&str, &str, &str)] = &[
            ("{{ x|datetime('es-ES') }}", ts, "15/06/2024 13:15"),
            ("{{ x|datetime('es-ES', 'short') }}", ts, "15/06/2024 13:15"),
            (
                "{{ x|datetime('es-ES', style='long') }}",
                ts,
                "15 de junio de 2024, 13:15",
            ),
            ("{{ x|datetime('en-US') }}", ts, "06/15/2024, 1:15 PM"),
            (
                "{{ x|datetime('en-US', 'long') }}",
                ts,
                "June 15, 2024, 1:15 PM",
            ),
            ("{{ x|datetime('en-GB') }}", ts, "15/06/2024, 13:15"),
            (
                "{{ x|datetime('de-DE', 'long') }}",
                ts,
                "15. Juni 2024, 13:15",
            ),
            ("{{ x|datetime('fr-FR') }}", ts, "15/06/2024 13:15"),
            (
                "{{ x|datetime('pt-BR', 'long') }}",
                ts,
                "15 de junho de 2024, 13:15",
            ),
            (
                "{{ x|datetime('en-US') }}",
                "2024-06-15T00:05:00Z",
                "06/15/2024, 12:05 AM",
            ),
            (
                "{{ x|datetime('en-US') }}",
                "2024-06-15T12:00:00Z",
                "06/15/2024, 12:00 PM",
            ),
            (
                "{{ x|datetime('en-US') }}",
                "2024-06-15T09:07:00.123Z",
                "06/15/2024, 9:07 AM",
            ),
            (
                "{{ x|datetime('es-ES') }}",
                "2024-06-15T09:07:00",
                "15/06/2024 09:07",
            ),
        ];
        for &(tpl, x, want) in cases {
            assert_eq!(ok(tpl, Value::from(x)), want, "{tpl} {x}");
        }
    }

    #[test]
    fn time_zone_conversion() {
        // 13:15:07+01:00 is 12:15:07 UTC.
        let ts = "2024-06-15T13:15:07+01:00";
        let cases: &[(&str, &str, &str)] = &[
            (
                "{{ x|datetime('es-ES', 'long', tz='Europe/Madrid') }}",
                ts,
                "15 de junio de 2024, 14:15",
            ),
            (
                "{{ x|datetime('es-ES', 'long', tz='Europe/Madrid', zone=true) }}",
                ts,
                "15 de junio de 2024, 14:15 CEST (UTC+02:00)",
            ),
            (
                "{{ x|datetime('es-ES', style='long', zone=true, tz='Europe/Madrid') }}",
                ts,
                "15 de junio de 2024, 14:15 CEST (UTC+02:00)",
            ),
            // Mexico has had no daylight saving time since 2022.
            (
                "{{ x|datetime('es-MX', tz='America/Mexico_City', zone=true) }}",
                ts,
                "15/06/2024 06:15 CST (UTC-06:00)",
            ),
            (
                "{{ x|datetime('en-US', tz='America/New_York', zone=true) }}",
                ts,
                "06/15/2024, 8:15 AM EDT (UTC-04:00)",
            ),
            // The tz database has no letters for Argentina's zone, only `-03`.
            (
                "{{ x|datetime('es-AR', tz='America/Argentina/Buenos_Aires', zone=true) }}",
                ts,
                "15/06/2024 09:15 UTC-03:00",
            ),
            (
                "{{ x|datetime('en-GB', tz='Asia/Kolkata', zone=true) }}",
                ts,
                "15/06/2024, 17:45 IST (UTC+05:30)",
            ),
            (
                "{{ x|datetime('en-GB', tz='UTC', zone=true) }}",
                ts,
                "15/06/2024, 12:15 UTC",
            ),
            (
                "{{ x|datetime('en-GB', tz='Europe/London', zone=true) }}",
                "2024-01-15T12:00:00Z",
                "15/01/2024, 12:00 GMT (UTC+00:00)",
            ),
            // Daylight saving time starts in Spain at 01:00 UTC on 31 March 2024.
            (
                "{{ x|datetime('es-ES', tz='Europe/Madrid', zone=true) }}",
                "2024-03-31T00:59:00Z",
                "31/03/2024 01:59 CET (UTC+01:00)",
            ),
            (
                "{{ x|datetime('es-ES', tz='Europe/Madrid', zone=true) }}",
                "2024-03-31T01:00:00Z",
                "31/03/2024 03:00 CEST (UTC+02:00)",
            ),
            // Local mean time before standard time: the offset keeps its seconds.
            (
                "{{ x|datetime('es-ES', tz='Europe/Madrid', zone=true) }}",
                "1890-06-15T12:00:00Z",
                "15/06/1890 11:45 LMT (UTC-00:14:44)",
            ),
            // Without tz, zone=true shows the offset the value was written with.
            (
                "{{ x|datetime('es-ES', zone=true) }}",
                ts,
                "15/06/2024 13:15 UTC+01:00",
            ),
            (
                "{{ x|datetime('es-ES', zone=true) }}",
                "2024-06-15T13:15:07Z",
                "15/06/2024 13:15 UTC",
            ),
            (
                "{{ x|datetime('es-ES', zone=true) }}",
                "2024-06-15T13:15:07-00:30",
                "15/06/2024 13:15 UTC-00:30",
            ),
            (
                "{{ x|datetime('es-ES', zone=false) }}",
                ts,
                "15/06/2024 13:15",
            ),
            // The date is the one in the zone.
            (
                "{{ x|date('es-ES', tz='Europe/Madrid') }}",
                "2024-06-15T23:30:00-05:00",
                "16/06/2024",
            ),
            (
                "{{ x|date('es-ES', 'long', tz='America/Chicago') }}",
                "2024-06-15T23:30:00-05:00",
                "15 de junio de 2024",
            ),
            (
                "{{ x|date('en-US', style='medium', tz='Pacific/Kiritimati') }}",
                "2024-06-15T10:00:00Z",
                "Jun 16, 2024",
            ),
        ];
        for &(tpl, x, want) in cases {
            assert_eq!(ok(tpl, Value::from(x)), want, "{tpl} {x}");
        }
        // The zone may come from the record.
        let out = env().render_str(
            "{{ x|datetime('en-US', 'long', tz=zone, zone=true) }}",
            context! { x => ts, zone => "America/Los_Angeles" },
        );
        assert_eq!(
            out.ok().as_deref(),
            Some("June 15, 2024, 5:15 AM PDT (UTC-07:00)")
        );
    }

    #[test]
    fn time_zone_errors() {
        let ts = "2024-06-15T13:15:07+01:00";
        let cases: &[(&str, &str, &str)] = &[
            (
                "{{ x|datetime('es-ES', tz='Mars/Base') }}",
                ts,
                "datetime: unknown time zone \"Mars/Base\": expected an IANA name",
            ),
            (
                "{{ x|datetime('es-ES', tz='Europe/Madird') }}",
                ts,
                "unknown time zone \"Europe/Madird\" (did you mean \"Europe/Madrid\"?)",
            ),
            (
                "{{ x|date('es-ES', tz='europe/madrid') }}",
                ts,
                "date: unknown time zone \"europe/madrid\" (did you mean \"Europe/Madrid\"?)",
            ),
            (
                "{{ x|date('es-ES', tz='Mexico City') }}",
                ts,
                "(did you mean \"America/Mexico_City\"?)",
            ),
            (
                "{{ x|datetime('es-ES', tz='') }}",
                ts,
                "datetime: empty time zone",
            ),
            (
                "{{ x|datetime('es-ES', tz=none) }}",
                ts,
                "datetime: `tz` must be an IANA zone name such as \"Europe/Madrid\", got none",
            ),
            (
                "{{ x|datetime('es-ES', tz=1) }}",
                ts,
                "`tz` must be an IANA zone name",
            ),
            // A datetime without an offset names no instant: converting it would be a guess.
            (
                "{{ x|datetime('es-ES', tz='Europe/Madrid') }}",
                "2024-06-15T13:15:07",
                "datetime: \"2024-06-15T13:15:07\" has no UTC offset, so the instant it names is \
                 unknown and it cannot be converted to Europe/Madrid",
            ),
            (
                "{{ x|date('es-ES', tz='Europe/Madrid') }}",
                "2024-06-15T13:15:07",
                "has no UTC offset",
            ),
            (
                "{{ x|date('es-ES', tz='Europe/Madrid') }}",
                "2024-06-15",
                "date: \"2024-06-15\" is a date without a time, so there is nothing to convert \
                 to Europe/Madrid; leave out `tz`",
            ),
            (
                "{{ x|datetime('es-ES', tz='Europe/Madrid') }}",
                "2024-06-15",
                "date without a time; use the `date` filter",
            ),
            (
                "{{ x|datetime('es-ES', zone=true) }}",
                "2024-06-15T13:15:07",
                "has no UTC offset and no `tz` was given, so there is no zone to show",
            ),
            (
                "{{ x|date('es-ES', zone=true) }}",
                ts,
                "unknown keyword argument",
            ),
            (
                "{{ x|datetime('es-ES', zone='yes') }}",
                ts,
                "cannot convert string to bool",
            ),
            (
                "{{ x|datetime('es-ES', 'long', 'Europe/Madrid') }}",
                ts,
                "too many arguments",
            ),
        ];
        for &(tpl, x, want) in cases {
            let msg = err(tpl, Value::from(x));
            assert!(msg.contains(want), "{tpl} {x}: {msg:?} lacks {want:?}");
        }
    }

    #[test]
    fn bundled_tz_database_is_the_documented_one() {
        // The module docs and the README name this release; a chrono-tz update that changes
        // it must update them (and may change converted times, so read the snapshot diffs).
        assert_eq!(chrono_tz::IANA_TZDB_VERSION, "2025b");
    }

    #[test]
    fn check_time_zone_answers() {
        for tz in [
            "Europe/Madrid",
            "America/Mexico_City",
            "UTC",
            "Asia/Kolkata",
        ] {
            assert_eq!(check_time_zone(tz), Ok(()), "{tz}");
        }
        assert_eq!(
            check_time_zone("Madrid"),
            Err(
                "unknown time zone \"Madrid\" (did you mean \"Europe/Madrid\"?): expected an \
                 IANA name such as \"Europe/Madrid\" or \"America/Mexico_City\""
                    .to_string()
            )
        );
        // Nothing close enough: no suggestion rather than a wild one.
        assert_eq!(
            check_time_zone("Mars/Base"),
            Err(
                "unknown time zone \"Mars/Base\": expected an IANA name such as \
                 \"Europe/Madrid\" or \"America/Mexico_City\""
                    .to_string()
            )
        );
        assert_eq!(check_time_zone(" "), Err("empty time zone".to_string()));
    }

    #[test]
    fn ical_text_escapes() {
        let cases: &[(Value, &str)] = &[
            (Value::from("plain text"), "plain text"),
            (
                Value::from("Calle Mayor, 5; 2º\\B"),
                "Calle Mayor\\, 5\\; 2º\\\\B",
            ),
            (Value::from("a\nb\r\nc\rd"), "a\\nb\\nc\\nd"),
            (Value::from("\r\n\r\n"), "\\n\\n"),
            (Value::from("\n\r"), "\\n\\n"),
            // HTAB is allowed in TEXT; colons and quotes need no escape (§3.3.11).
            (Value::from("a\tb: \"c\""), "a\tb: \"c\""),
            (Value::from("already \\n escaped"), "already \\\\n escaped"),
            (Value::from(12.5), "12.5"),
            (Value::from(""), ""),
        ];
        for (x, want) in cases {
            assert_eq!(ok("{{ x|ical_text }}", x.clone()), *want, "{x:?}");
        }
        let errors: &[(Value, &str)] = &[
            (
                Value::from("a\u{0}b"),
                "ical_text: \"a\\0b\" has the control character U+0000 at character 2, which \
                 iCalendar TEXT cannot hold (RFC 5545 §3.1)",
            ),
            (Value::from("x\u{7f}"), "U+007F at character 2"),
            (Value::from("\u{1b}[31m"), "U+001B at character 1"),
            (Value::from("\u{0b}"), "U+000B"),
            (Value::from(()), "ical_text: expected text, got none"),
            (Value::from(true), "expected text, got true (bool)"),
        ];
        for (x, want) in errors {
            let msg = err("{{ x|ical_text }}", x.clone());
            assert!(msg.contains(want), "{x:?}: {msg:?} lacks {want:?}");
        }
    }

    /// RFC 5545 §3.1 unfolding: every CRLF followed by one space or tab is removed.
    fn unfold(text: &str) -> String {
        text.replace("\r\n ", "").replace("\r\n\t", "")
    }

    fn fold(text: &str) -> String {
        ok("{{ x|ical_fold }}", Value::from(text))
    }

    #[test]
    fn ical_fold_examples() {
        let x75 = "x".repeat(75);
        let x76 = "x".repeat(76);
        let x200 = "x".repeat(200);
        let euros = format!("SUMMARY:{}", "€".repeat(30));
        let emoji = format!("D:{}", "🎉".repeat(20));
        let cases: Vec<(String, String)> = vec![
            ("A:b\nC:d\n".into(), "A:b\r\nC:d\r\n".into()),
            ("A:b\r\nC:d".into(), "A:b\r\nC:d".into()),
            ("\n\n".into(), "\r\n\r\n".into()),
            (String::new(), String::new()),
            (x75.clone(), x75.clone()),
            (x76.clone(), format!("{x75}\r\n x")),
            (
                x200.clone(),
                format!("{x75}\r\n {}\r\n {}", "x".repeat(74), "x".repeat(51)),
            ),
            // 8 + 90 octets: the cut backs off from 75 to 74, after the 22nd €.
            (
                euros.clone(),
                format!("SUMMARY:{}\r\n {}", "€".repeat(22), "€".repeat(8)),
            ),
            // 2 + 80 octets: 18 emoji (74 octets) fit, then " " + 2 emoji.
            (
                emoji.clone(),
                format!("D:{}\r\n {}", "🎉".repeat(18), "🎉".repeat(2)),
            ),
        ];
        for (input, want) in &cases {
            let got = fold(input);
            assert_eq!(&got, want, "{input:?}");
            for line in got.split("\r\n") {
                assert!(line.len() <= 75, "{line:?} is {} octets", line.len());
            }
            // Folding folded text changes nothing.
            assert_eq!(fold(&got), got, "{input:?}");
            assert_eq!(
                unfold(&got),
                input.replace("\r\n", "\n").replace('\n', "\r\n")
            );
        }
        let msg = err("{{ x|ical_fold }}", Value::from("A:b\r\nC:d\re\n"));
        assert!(
            msg.contains(
                "ical_fold: line 2 has a CR that is not followed by LF; iCalendar lines end with \
                 CRLF (RFC 5545 §3.1)"
            ),
            "{msg}"
        );
        assert!(err("{{ x|ical_fold }}", Value::from("a\r")).contains("line 1 has a CR"));
        assert!(err("{{ x|ical_fold }}", Value::from(5)).contains("ical_fold: expected text"));
    }

    #[test]
    fn ical_fold_as_a_filter_block() {
        let template = "{% filter ical_fold %}BEGIN:VEVENT\n\
                        DESCRIPTION:{{ d|ical_text }}\n\
                        LOCATION:{{ where|ical_text }}\n\
                        END:VEVENT\n{% endfilter %}";
        let description = "Bring an apron; we provide clay, glazes and tools.\nParking: Calle \
                           Mayor 5, second floor, door on the left.";
        let out = env().render_str(
            template,
            context! { d => description, where => "Tienda Centro, Madrid" },
        );
        let want = "BEGIN:VEVENT\r\n\
                    DESCRIPTION:Bring an apron\\; we provide clay\\, glazes and tools.\\nParking: \r\n \
                    Calle Mayor 5\\, second floor\\, door on the left.\r\n\
                    LOCATION:Tienda Centro\\, Madrid\r\n\
                    END:VEVENT\r\n";
        assert_eq!(out.ok().as_deref(), Some(want));

        // With HTML autoescaping the captured block is markup already: folding must not get it
        // escaped a second time.
        let mut html = env();
        html.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        let out = html.render_str(
            "{% filter ical_fold %}X:{{ v }}{% endfilter %}",
            context! { v => "a&b" },
        );
        assert_eq!(out.ok().as_deref(), Some("X:a&amp;b"));
    }

    proptest::proptest! {
        #[test]
        fn ical_fold_properties(
            lines in proptest::collection::vec("[a-z ;,é€🎉\t]{0,200}", 0..6),
            crlf in proptest::bool::ANY,
        ) {
            let input = lines.join(if crlf { "\r\n" } else { "\n" });
            let folded = fold(&input);
            for line in folded.split("\r\n") {
                proptest::prop_assert!(line.len() <= 75, "{:?}", line);
            }
            proptest::prop_assert!(!folded.replace("\r\n", "").contains(['\r', '\n']));
            proptest::prop_assert_eq!(fold(&folded), folded.clone());
            // Folding only inserts CRLF + space: unfolding both gives the same text.
            let crlf_input = input.replace("\r\n", "\n").replace('\n', "\r\n");
            proptest::prop_assert_eq!(unfold(&folded), unfold(&crlf_input));
        }
    }

    /// The problems as (literal text, message) pairs, checking each range against the source.
    fn problems(src: &str) -> Vec<(&str, String)> {
        literal_argument_problems(src)
            .into_iter()
            .map(|(range, msg)| match src.get(range.clone()) {
                Some(text) => (text, msg),
                None => panic!("{range:?} is not a range of {src:?}"),
            })
            .collect()
    }

    #[test]
    fn literal_arguments_are_checked_at_their_range() {
        let src = "Total: {{ total|money(\"EUR\", \"zz-ZZ\") }}\n\
                   On {{ d|date('xx-YY', 'long') }} at {{ t|datetime(locale, tz=\"Mars/Base\") }}";
        let found = literal_argument_problems(src);
        let Some((first, _)) = found.first() else {
            panic!("no problems in {src:?}");
        };
        assert_eq!(*first, 29..36);
        assert_eq!(src.get(29..36), Some("\"zz-ZZ\""));
        assert_eq!(
            problems(src),
            vec![
                (
                    "\"zz-ZZ\"",
                    "money: unsupported locale \"zz-ZZ\": supported are en-US, en-GB, es-ES, \
                     es-MX, es-AR, fr-FR, de-DE, pt-BR (or a tag of one of their languages, \
                     e.g. \"es\" or \"es-CO\" for es-ES)"
                        .to_string()
                ),
                (
                    "'xx-YY'",
                    "date: unsupported locale \"xx-YY\": supported are en-US, en-GB, es-ES, \
                     es-MX, es-AR, fr-FR, de-DE, pt-BR (or a tag of one of their languages, \
                     e.g. \"es\" or \"es-CO\" for es-ES)"
                        .to_string()
                ),
                (
                    "\"Mars/Base\"",
                    "datetime: unknown time zone \"Mars/Base\": expected an IANA name such as \
                     \"Europe/Madrid\" or \"America/Mexico_City\""
                        .to_string()
                ),
            ]
        );
    }

    #[test]
    fn literal_argument_slots() {
        let cases: &[(&str, &[&str])] = &[
            // Every slot of every checked filter.
            ("{{ x|money('EURO', 'es-ES') }}", &["'EURO'"]),
            ("{{ x|cents_money('USD', 'tlh') }}", &["'tlh'"]),
            ("{{ x|number('xx', 2) }}", &["'xx'"]),
            ("{{ x|date('es-ES', 'full') }}", &["'full'"]),
            ("{{ x|date('es-ES', style='full') }}", &["'full'"]),
            (
                "{{ x|datetime('es-ES', 'long', tz='Europe/Madird') }}",
                &["'Europe/Madird'"],
            ),
            ("{{ x|plural('a', 'b', 'xx') }}", &["'xx'"]),
            ("{{ x|plural('a', 'b', locale='xx') }}", &["'xx'"]),
            // Arguments that are not checked: the forms of plural, decimals, zone.
            ("{{ x|plural('xx', 'yy') }}", &[]),
            ("{{ x|number('es-ES', decimals=2) }}", &[]),
            ("{{ x|datetime('es-ES', zone=true) }}", &[]),
            // Good literals.
            (
                "{{ x|datetime('es', 'long', tz='America/Mexico_City') }}{{ y|money('eur', 'es_ES.UTF-8') }}",
                &[],
            ),
            // Computed arguments are left to render time.
            ("{{ x|date(locale, tz=zone) }}", &[]),
            ("{{ x|date('xx' ~ '-YY') }}", &[]),
            (
                "{{ x|date(locales['xx'], tz=zones.get('Mars/Base')) }}",
                &[],
            ),
            ("{{ x|date(f('xx', 'yy')) }}", &[]),
            // A literal with an escape is not guessed at.
            ("{{ x|date('x\\'x') }}", &[]),
            // Other filters and plain strings.
            ("{{ 'xx-YY'|upper }} {{ x|replace('date', 'xx') }}", &[]),
            ("date('xx') outside tags", &[]),
            // Nested and chained calls, and `{% %}` tags.
            ("{{ x|date(y|default('xx')) }}", &[]),
            ("{{ x|number('xx')|date('yy') }}", &["'xx'", "'yy'"]),
            ("{{ x|date(('a', 'b')|first, 'short') }}", &[]),
            ("{% set s = x|money('EUR', 'xx') %}", &["'xx'"]),
            (
                "{% if x|plural('a', 'b', 'xx') == 'a' %}{% endif %}",
                &["'xx'"],
            ),
            (
                "{%- filter date('xx') -%}2024-06-15{% endfilter %}",
                &["'xx'"],
            ),
            ("{{- x|date('xx') -}}", &["'xx'"]),
            ("{{ {'a': {'b': x|date('xx')}} }}", &["'xx'"]),
            ("{{ '}}' ~ x|date('xx') }}", &["'xx'"]),
            // Comments and raw blocks are text.
            ("{# {{ x|date('xx') }} #}{{ y|date('yy') }}", &["'yy'"]),
            (
                "{% raw %}{{ x|date('xx') }}{% endraw %}{{ y|date('yy') }}",
                &["'yy'"],
            ),
            // Broken templates: the template parser reports them; the scan just stops.
            ("{{ x|date('xx", &[]),
            ("{{ x|date('xx'", &[]),
            ("{{ x|date('xx' }}{{ y|date('yy') }}", &["'yy'"]),
            ("{{ x|date(", &[]),
            ("{{", &[]),
            ("{", &[]),
        ];
        for (src, want) in cases {
            let got: Vec<&str> = problems(src).into_iter().map(|(text, _)| text).collect();
            assert_eq!(&got, want, "{src}");
        }
    }

    #[test]
    fn literal_scan_agrees_with_render() {
        // Whatever the scan reports, rendering refuses with the same message.
        let templates = [
            "{{ x|date('xx-YY') }}",
            "{{ x|datetime('es-ES', tz='Europe/Madird') }}",
            "{{ x|datetime('es-ES', 'tiny') }}",
        ];
        for tpl in templates {
            let found = literal_argument_problems(tpl);
            let [(_, msg)] = found.as_slice() else {
                panic!("{tpl}: {found:?}");
            };
            let rendered = err(tpl, Value::from("2024-06-15T13:15:07Z"));
            assert!(
                rendered.contains(msg.as_str()),
                "{rendered:?} lacks {msg:?}"
            );
        }
    }

    #[test]
    fn readme_examples_of_the_new_filters() {
        // The README's "Template filters" rows for tz, zone and ical_text, verbatim.
        let cases: &[(&str, &str)] = &[
            (
                r#"{{ "2024-06-15T23:30:00-05:00"|date("es-ES", tz="Europe/Madrid") }}"#,
                "16/06/2024",
            ),
            (
                r#"{{ "2024-06-15T13:15:07+01:00"|datetime("es-ES", "long", tz="Europe/Madrid", zone=true) }}"#,
                "15 de junio de 2024, 14:15 CEST (UTC+02:00)",
            ),
            (
                r#"{{ "Calle Mayor, 5; 2º\nTienda"|ical_text }}"#,
                r"Calle Mayor\, 5\; 2º\nTienda",
            ),
        ];
        for (tpl, want) in cases {
            assert_eq!(ok(tpl, Value::from(())), *want, "{tpl}");
        }
    }

    #[test]
    fn plural_examples() {
        let cases: &[(&str, Value, &str)] = &[
            ("{{ x|plural('item', 'items') }}", Value::from(1), "item"),
            ("{{ x|plural('item', 'items') }}", Value::from(0), "items"),
            ("{{ x|plural('item', 'items') }}", Value::from(2), "items"),
            ("{{ x|plural('item', 'items') }}", Value::from(-1), "item"),
            ("{{ x|plural('item', 'items') }}", Value::from("1"), "item"),
            ("{{ x|plural('item', 'items') }}", Value::from("01"), "item"),
            (
                "{{ x|plural('item', 'items') }}",
                Value::from("11"),
                "items",
            ),
            ("{{ x|plural('item', 'items') }}", Value::from(1.0), "item"),
            (
                "{{ x|plural('article', 'articles', 'fr-FR') }}",
                Value::from(0),
                "article",
            ),
            (
                "{{ x|plural('article', 'articles', 'fr-FR') }}",
                Value::from(1),
                "article",
            ),
            (
                "{{ x|plural('article', 'articles', 'fr-FR') }}",
                Value::from(2),
                "articles",
            ),
            (
                "{{ x|plural('item', 'itens', locale='pt-BR') }}",
                Value::from(0),
                "item",
            ),
            (
                "{{ x|plural('artículo', 'artículos', 'es-ES') }}",
                Value::from(0),
                "artículos",
            ),
            (
                "{{ x|plural('Artikel', 'Artikel', 'de-DE') }}",
                Value::from(1),
                "Artikel",
            ),
        ];
        for (tpl, x, want) in cases {
            assert_eq!(ok(tpl, x.clone()), *want, "{tpl} {x:?}");
        }
    }

    #[test]
    fn bad_input_errors() {
        let cases: &[(&str, Value, &str)] = &[
            (
                "{{ x|money('EUR', 'es-ES') }}",
                Value::from("abc"),
                "invalid amount \"abc\"",
            ),
            (
                "{{ x|money('EUR', 'es-ES') }}",
                Value::from("1.2.3"),
                "invalid amount \"1.2.3\"",
            ),
            (
                "{{ x|money('EUR', 'es-ES') }}",
                Value::from("1,234.56"),
                "\"1,234.56\"",
            ),
            (
                "{{ x|money('EUR', 'es-ES') }}",
                Value::from("1e3"),
                "\"1e3\"",
            ),
            ("{{ x|money('EUR', 'es-ES') }}", Value::from("5."), "\"5.\""),
            ("{{ x|money('EUR', 'es-ES') }}", Value::from(".5"), "\".5\""),
            (
                "{{ x|money('EUR', 'es-ES') }}",
                Value::from(""),
                "invalid amount \"\"",
            ),
            (
                "{{ x|money('EUR', 'es-ES') }}",
                Value::from("-"),
                "invalid amount \"-\"",
            ),
            (
                "{{ x|money('EUR', 'es-ES') }}",
                Value::from(true),
                "invalid amount true (bool)",
            ),
            (
                "{{ x|money('EUR', 'es-ES') }}",
                Value::from(()),
                "invalid amount none",
            ),
            (
                "{{ x|money('EUR', 'es-ES') }}",
                Value::from(f64::NAN),
                "not a finite",
            ),
            (
                "{{ x|money('EURO', 'es-ES') }}",
                Value::from("1"),
                "invalid currency code \"EURO\"",
            ),
            ("{{ x|money('EUR', '') }}", Value::from("1"), "empty locale"),
            (
                "{{ x|cents_money('EUR', 'es-ES') }}",
                Value::from(12.5),
                "expected an integer",
            ),
            (
                "{{ x|cents_money('EUR', 'es-ES') }}",
                Value::from("12.50"),
                "\"12.50\"",
            ),
            (
                "{{ x|number('en-US', -1) }}",
                Value::from(1),
                "decimals must be between",
            ),
            (
                "{{ x|number('en-US', 2, decimals=2) }}",
                Value::from(1),
                "both by position",
            ),
            (
                "{{ x|number('en-US', digits=2) }}",
                Value::from(1),
                "unknown keyword argument",
            ),
            (
                "{{ x|date('es-ES', 'full') }}",
                Value::from("2024-06-15"),
                "unknown style \"full\"",
            ),
            (
                "{{ x|datetime('es-ES', 'tiny') }}",
                Value::from("2024-06-15T13:15:07Z"),
                "unknown style \"tiny\"",
            ),
            (
                "{{ x|date('es-ES') }}",
                Value::from("2024-02-30"),
                "invalid date \"2024-02-30\"",
            ),
            (
                "{{ x|date('es-ES') }}",
                Value::from("2024-6-15"),
                "invalid date \"2024-6-15\"",
            ),
            (
                "{{ x|date('es-ES') }}",
                Value::from("15/06/2024"),
                "invalid date \"15/06/2024\"",
            ),
            (
                "{{ x|date('es-ES') }}",
                Value::from(20240615),
                "invalid date 20240615 (number)",
            ),
            (
                "{{ x|datetime('es-ES') }}",
                Value::from("2024-06-15"),
                "date without a time",
            ),
            (
                "{{ x|datetime('es-ES') }}",
                Value::from("2024-06-15T25:00:00Z"),
                "invalid date",
            ),
            (
                "{{ x|plural('a', 'b') }}",
                Value::from("abc"),
                "expected an integer, got \"abc\"",
            ),
            (
                "{{ x|plural('a', 'b') }}",
                Value::from(1.5),
                "expected an integer",
            ),
        ];
        for (tpl, x, want) in cases {
            let msg = err(tpl, x.clone());
            assert!(msg.contains(want), "{tpl} {x:?}: {msg:?} lacks {want:?}");
        }
    }

    #[test]
    fn long_bad_values_are_cut_in_messages() {
        let long = "x".repeat(500);
        let msg = err("{{ x|money('EUR', 'es-ES') }}", Value::from(long));
        assert!(msg.contains('…') && msg.len() < 400, "{msg}");
    }

    #[test]
    fn decimal_rounding_unit() {
        let cases: &[(&str, usize, &str)] = &[
            ("2.675", 2, "2.68"),
            ("2.6749", 2, "2.67"),
            ("0.5", 0, "1"),
            ("-0.5", 0, "-1"),
            ("99.95", 1, "100.0"),
            ("1", 3, "1.000"),
            ("0.0001", 2, "0.00"),
        ];
        for &(input, digits, want) in cases {
            let Some(dec) = Decimal::parse(input) else {
                panic!("{input} should parse");
            };
            let r = dec.round(digits);
            let sign = if r.negative { "-" } else { "" };
            let got = if r.frac.is_empty() {
                format!("{sign}{}", r.int)
            } else {
                format!("{sign}{}.{}", r.int, r.frac)
            };
            assert_eq!(got, want, "{input} to {digits}");
        }
    }

    #[test]
    fn output_is_escaped_like_any_string_in_html() {
        // Symbols contain no HTML specials, so escaping never changes money output.
        let mut env = env();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        let out = env.render_str("{{ x|money('BRL', 'pt-BR') }}", context! { x => "1234.56" });
        assert_eq!(out.ok().as_deref(), Some("R$\u{a0}1.234,56"));
    }
}
