//! Datetime strings, read the way Qdrant's local mode reads them (and so the server): RFC 3339
//! and a few relatives (space for `T`, optional seconds and fraction, offsets `Z`, `±HH`,
//! `±HH:MM`, `±HHMM`, a space before the offset, a trailing ` UTC`), or a bare date. Naive times
//! are UTC. A fraction finer than microseconds is cut to microseconds.
//!
//! The reading is that of Python's `strptime` over local mode's list of formats, leniencies
//! included: one- or two-digit months, days, hours, minutes and seconds, a lowercase `t`, runs of
//! whitespace where a format has a space.
//!
//! The matching is our own: `time`'s format descriptions are strict (fixed field widths, exact
//! separators, offsets of whole seconds), and cannot say "one or two digits", "a run of
//! whitespace", a case-insensitive `T`, an offset with a fraction of a second, or try the
//! alternatives in the regex engine's order. The calendar (valid dates, days since the epoch) is
//! the `time` crate's.

/// The formats tried in order; `%z` is `Z` or `±HH[:]MM[[:]SS[.ffffff]]`, a space matches a run
/// of whitespace.
const FORMATS: [&str; 15] = [
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f %z",
    "%Y-%m-%d %H:%M:%S.%f %z",
    "%Y-%m-%dT%H:%M:%S %z",
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
];

const MICROS_PER_SEC: i64 = 1_000_000;

/// Parses a datetime string into microseconds since the Unix epoch (UTC); `None` when it is not
/// one.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let chars = normalize(s);
    if let Some(t) = parse_formats(&chars) {
        return Some(t);
    }
    // an offset of hours only (`+01`) is read as `+01:00`
    let n = chars.len();
    if n >= 3
        && matches!(chars[n - 3], '+' | '-')
        && chars[n - 2].is_ascii_digit()
        && chars[n - 1].is_ascii_digit()
    {
        let mut longer = chars;
        longer.extend([':', '0', '0']);
        return parse_formats(&longer);
    }
    None
}

/// Python's `str.isspace` (and regex `\s`): Unicode whitespace plus the separators U+1C..U+1F.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn normalize(s: &str) -> Vec<char> {
    let mut c: Vec<char> = s.trim_start_matches(is_space).chars().collect();
    if c.ends_with(&[' ', 'U', 'T', 'C']) {
        c.truncate(c.len() - 4);
        c.extend("+00:00".chars());
    } else if c.last() == Some(&'z') {
        *c.last_mut().expect("not empty") = 'Z';
    }
    // at most six fraction digits, after the first dot
    if let Some(dot) = c.iter().position(|&x| x == '.') {
        let digits = c[dot + 1..]
            .iter()
            .take_while(|x| x.is_ascii_digit())
            .count();
        if digits > 6 {
            c.drain(dot + 7..dot + 1 + digits);
        }
    }
    c
}

#[derive(Clone, Copy)]
enum Tok {
    Lit(char),
    Space,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Fraction,
    Offset,
}

fn tokens(format: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut it = format.chars();
    while let Some(c) = it.next() {
        out.push(match c {
            '%' => match it.next() {
                Some('Y') => Tok::Year,
                Some('m') => Tok::Month,
                Some('d') => Tok::Day,
                Some('H') => Tok::Hour,
                Some('M') => Tok::Minute,
                Some('S') => Tok::Second,
                Some('f') => Tok::Fraction,
                Some('z') => Tok::Offset,
                _ => unreachable!("unknown directive in {format}"),
            },
            ' ' => Tok::Space,
            c => Tok::Lit(c),
        });
    }
    out
}

/// One character class of a directive's alternatives.
#[derive(Clone, Copy)]
enum Class {
    Is(char),
    In(char, char),
}

impl Class {
    fn test(self, c: char) -> bool {
        match self {
            Class::Is(x) => c == x,
            Class::In(a, b) => (a..=b).contains(&c),
        }
    }
}

const D: Class = Class::In('0', '9');

/// A directive's alternatives, in the order the regex tries them.
fn alternatives(tok: Tok) -> &'static [&'static [Class]] {
    match tok {
        Tok::Year => &[&[D, D, D, D]],
        Tok::Month => &[
            &[Class::Is('1'), Class::In('0', '2')],
            &[Class::Is('0'), Class::In('1', '9')],
            &[Class::In('1', '9')],
        ],
        Tok::Day => &[
            &[Class::Is('3'), Class::In('0', '1')],
            &[Class::In('1', '2'), D],
            &[Class::Is('0'), Class::In('1', '9')],
            &[Class::In('1', '9')],
            &[Class::Is(' '), Class::In('1', '9')],
        ],
        Tok::Hour => &[
            &[Class::Is('2'), Class::In('0', '3')],
            &[Class::In('0', '1'), D],
            &[D],
        ],
        Tok::Minute => &[&[Class::In('0', '5'), D], &[D]],
        Tok::Second => &[
            &[Class::Is('6'), Class::In('0', '1')],
            &[Class::In('0', '5'), D],
            &[D],
        ],
        _ => &[],
    }
}

fn seq_at(s: &[char], pos: usize, seq: &[Class]) -> Option<usize> {
    let end = pos + seq.len();
    (end <= s.len() && seq.iter().zip(&s[pos..end]).all(|(c, &x)| c.test(x))).then_some(end)
}

fn digits_at(s: &[char], pos: usize) -> usize {
    s[pos.min(s.len())..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count()
}

/// The ends a token may match at `pos`, in the order the regex engine tries them.
fn candidates(tok: Tok, s: &[char], pos: usize) -> Vec<usize> {
    match tok {
        Tok::Lit(c) => match s.get(pos) {
            Some(&x) if x == c || (c.is_ascii_alphabetic() && x.eq_ignore_ascii_case(&c)) => {
                vec![pos + 1]
            }
            _ => vec![],
        },
        Tok::Space => {
            let n = s[pos.min(s.len())..]
                .iter()
                .take_while(|&&c| is_space(c))
                .count();
            (1..=n).rev().map(|k| pos + k).collect()
        }
        Tok::Fraction => (1..=digits_at(s, pos).min(6))
            .rev()
            .map(|k| pos + k)
            .collect(),
        Tok::Offset => offset_candidates(s, pos),
        _ => alternatives(tok)
            .iter()
            .filter_map(|alt| seq_at(s, pos, alt))
            .collect(),
    }
}

/// `[+-]\d\d:?[0-5]\d(:?[0-5]\d(\.\d{1,6})?)?|Z`, greedy, in the regex engine's order.
fn offset_candidates(s: &[char], pos: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let two = |p: usize, first: Class| seq_at(s, p, &[first, D]);
    if matches!(s.get(pos), Some('+' | '-')) {
        if let Some(p) = two(pos + 1, D) {
            for colon in [true, false] {
                let p = if colon {
                    if s.get(p) != Some(&':') {
                        continue;
                    }
                    p + 1
                } else {
                    p
                };
                let Some(p) = two(p, Class::In('0', '5')) else {
                    continue;
                };
                for colon2 in [true, false] {
                    let q = if colon2 {
                        if s.get(p) != Some(&':') {
                            continue;
                        }
                        p + 1
                    } else {
                        p
                    };
                    let Some(q) = two(q, Class::In('0', '5')) else {
                        continue;
                    };
                    if s.get(q) == Some(&'.') {
                        let n = digits_at(s, q + 1).min(6);
                        out.extend((1..=n).rev().map(|k| q + 1 + k));
                    }
                    out.push(q);
                }
                out.push(p);
            }
        }
    }
    if s.get(pos) == Some(&'Z') {
        out.push(pos + 1);
    }
    out
}

/// The first match of `toks` at `pos` in the regex engine's order (not anchored at the end):
/// its end, with each directive's matched span recorded in `caps`.
fn match_at(toks: &[Tok], s: &[char], pos: usize, caps: &mut Vec<(usize, usize)>) -> Option<usize> {
    let Some((&tok, rest)) = toks.split_first() else {
        return Some(pos);
    };
    for end in candidates(tok, s, pos) {
        caps.push((pos, end));
        if let Some(e) = match_at(rest, s, end, caps) {
            return Some(e);
        }
        caps.pop();
    }
    None
}

fn parse_formats(s: &[char]) -> Option<i64> {
    FORMATS.iter().find_map(|f| parse_format(s, &tokens(f)))
}

fn num(s: &[char]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(char::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0i64, |n, c| {
        n.checked_mul(10)?.checked_add(c.to_digit(10)? as i64)
    })
}

fn parse_format(s: &[char], toks: &[Tok]) -> Option<i64> {
    let mut caps = Vec::new();
    // the regex's first match must consume everything ("unconverted data remains" otherwise)
    if match_at(toks, s, 0, &mut caps)? != s.len() {
        return None;
    }
    let (mut year, mut month, mut day) = (0, 1, 1);
    let (mut hour, mut minute, mut second, mut micros) = (0, 0, 0, 0);
    let mut offset = 0i64;
    for (tok, &(a, b)) in toks.iter().zip(&caps) {
        let text = &s[a..b];
        match tok {
            Tok::Year => year = num(text)?,
            Tok::Month => month = num(text)?,
            Tok::Day => day = num(text.strip_prefix(&[' ']).unwrap_or(text))?,
            Tok::Hour => hour = num(text)?,
            Tok::Minute => minute = num(text)?,
            Tok::Second => second = num(text)?,
            Tok::Fraction => micros = num(text)? * 10i64.pow(6 - text.len() as u32),
            Tok::Offset => offset = parse_offset(text)?,
            Tok::Lit(_) | Tok::Space => {}
        }
    }
    // `time` checks the calendar (day of month, leap years) and the clock (second 60 and 61,
    // which the matcher lets through, are refused); it allows year 0, Python does not
    if !(1..=9999).contains(&year) {
        return None;
    }
    let u8_of = |n: i64| u8::try_from(n).ok();
    let month = time::Month::try_from(u8_of(month)?).ok()?;
    let local = time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8_of(day)?)
        .ok()?
        .with_hms(u8_of(hour)?, u8_of(minute)?, u8_of(second)?)
        .ok()?
        .assume_utc();
    Some(local.unix_timestamp() * MICROS_PER_SEC + micros - offset)
}

/// A `%z` match as Python reads it, in microseconds east of UTC; offsets must stay within a
/// day, and colons must be used consistently.
fn parse_offset(z: &[char]) -> Option<i64> {
    if z == ['Z'] {
        return Some(0);
    }
    let mut z = z.to_vec();
    if z[3] == ':' {
        z.remove(3);
        if z.len() > 5 {
            if z[5] != ':' {
                return None;
            }
            z.remove(5);
        }
    }
    let hours = num(&z[1..3])?;
    let minutes = num(&z[3..5])?;
    let seconds = if z.len() > 5 {
        num(&z[5..7.min(z.len())])?
    } else {
        0
    };
    let fraction = if z.len() > 8 {
        let f = &z[8..];
        num(f)? * 10i64.pow(6u32.saturating_sub(f.len() as u32))
    } else {
        0
    };
    let total = (hours * 3600 + minutes * 60 + seconds) * MICROS_PER_SEC + fraction;
    if total >= 86_400 * MICROS_PER_SEC {
        return None;
    }
    Some(if z[0] == '-' { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::parse_datetime as p;

    const DAY: i64 = 86_400 * 1_000_000;
    const HOUR: i64 = 3_600 * 1_000_000;

    #[test]
    fn rfc3339_and_its_relatives() {
        assert_eq!(p("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(p("1970-01-02"), Some(DAY));
        assert_eq!(p("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(p("1970-01-01 01:00:00+0100"), Some(0));
        assert_eq!(p("1970-01-01T00:00:00-01"), Some(HOUR));
        assert_eq!(p("1970-01-01 00:00:00.5 UTC"), Some(500_000));
        assert_eq!(p("1970-01-01T00:00:00.123456789z"), Some(123_456));
        assert_eq!(p("  1970-01-01t00:00"), Some(0));
        assert_eq!(
            p("1970-1-2 3:4:5"),
            Some(DAY + (3 * 3600 + 4 * 60 + 5) * 1_000_000)
        );
        assert_eq!(p("2000-02-29"), Some(951_782_400 * 1_000_000));
        assert_eq!(p("1969-12-31T23:59:59.999999Z"), Some(-1));
        assert_eq!(p("1970-01-01T00:00:00 +01:00"), Some(-HOUR));
        assert_eq!(
            p("1970-01-01T00:00:00+01:00:30.5"),
            Some(-HOUR - 30_500_000)
        );
    }

    #[test]
    fn the_calendar_at_its_edges() {
        assert_eq!(p("0001-01-01"), Some(-62_135_596_800 * 1_000_000));
        assert_eq!(
            p("9999-12-31T23:59:59.999999"),
            Some(253_402_300_799 * 1_000_000 + 999_999)
        );
        assert_eq!(
            p("2000-02-29T12:00"),
            Some((951_782_400 + 12 * 3600) * 1_000_000)
        );
        assert_eq!(p("1900-02-29"), None);
        assert_eq!(p("2024-04-31"), None);
        assert_eq!(p("2024-12-31T23:59:61"), None);
    }

    #[test]
    fn what_is_not_a_datetime() {
        for bad in [
            "",
            "x",
            "2021",
            "2021-01",
            "2021-13-01",
            "2021-02-29",
            "2021-01-01T24:00",
            "2021-01-01T10",
            "2021-01-01T00:00:60",
            "2021-01-01T00:00:00+24:00",
            "2021-01-01T00:00:00+01:0000",
            "0000-01-01",
            "2021-01-01 ",
            "2021-01-01T00:00:00ZZ",
            "2021-01-01T00:00:00.",
            "20210101",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }
}
