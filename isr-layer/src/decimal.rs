//! Decimal header values (`Age`, `Content-Length`) without allocating.

use std::borrow::Cow;

use http::HeaderValue;

/// Numbers below this are served from [`DIGITS`] without allocating.
const SMALL: usize = 10_000;

/// The bytes of [`DIGITS`]: ten numbers of one digit, ninety of two, and so on.
const DIGITS_LEN: usize = 10 + 90 * 2 + 900 * 3 + 9_000 * 4;

/// The decimal text of every number below [`SMALL`], back to back: 0–9 one byte each, then
/// 10–99 two bytes each, and so on.
static DIGITS: [u8; DIGITS_LEN] = digits();

const fn digits() -> [u8; DIGITS_LEN] {
    let mut out = [0; DIGITS_LEN];
    let mut n = 0;
    let mut at = 0;
    while n < SMALL {
        let width = decimal_width(n);
        let mut rest = n;
        let mut i = width;
        while i > 0 {
            i -= 1;
            out[at + i] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        at += width;
        n += 1;
    }
    out
}

const fn decimal_width(n: usize) -> usize {
    match n {
        0..10 => 1,
        10..100 => 2,
        100..1_000 => 3,
        _ => 4,
    }
}

/// A header value holding `n` in decimal (`Age`, `Content-Length`).
///
/// `HeaderValue::from(u64)` allocates; this runs on every answer (`Age`), so numbers below
/// 10,000 (ages under 2.7 hours, most page sizes) are slices of a static table instead, which
/// also makes them free to clone.
pub(crate) fn integer_value(n: u64) -> HeaderValue {
    match small_decimal(n) {
        Some(text) => HeaderValue::from_static(text),
        None => HeaderValue::from(n),
    }
}

/// `n` in decimal, borrowed from [`DIGITS`] below 10,000 (see [`integer_value`]).
pub(crate) fn integer_text(n: u64) -> Cow<'static, str> {
    match small_decimal(n) {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(n.to_string()),
    }
}

/// The text of `n` in [`DIGITS`], if `n` is below [`SMALL`].
fn small_decimal(n: u64) -> Option<&'static str> {
    let small = usize::try_from(n).ok().filter(|&n| n < SMALL)?;
    let width = decimal_width(small);
    // Where the numbers of this width start, and the first number of this width.
    let (start, first) = match width {
        1 => (0, 0),
        2 => (10, 10),
        3 => (10 + 90 * 2, 100),
        _ => (10 + 90 * 2 + 900 * 3, 1_000),
    };
    let at = start + (small - first) * width;
    std::str::from_utf8(&DIGITS[at..at + width]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_values_read_as_their_number() {
        for n in [
            0,
            1,
            9,
            10,
            42,
            99,
            100,
            999,
            1_000,
            2_075,
            9_999,
            10_000,
            86_400,
            u64::MAX,
        ] {
            assert_eq!(integer_value(n), HeaderValue::from(n), "{n}");
            assert_eq!(integer_text(n), n.to_string(), "{n}");
        }
        for n in 0..SMALL as u64 {
            assert_eq!(integer_value(n).to_str().unwrap(), n.to_string());
        }
    }
}
