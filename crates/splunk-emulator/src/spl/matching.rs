//! Matching rows against the search language: wildcards, terms on token boundaries, field comparisons.

use std::cmp::Ordering;

use super::Row;
use super::ast::{CompareOp, SearchExpr};
use super::row::{self, as_number};

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
pub(crate) fn glob_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let pattern = pattern.as_bytes();
    let text = text.as_bytes();
    let same = |a: u8, b: u8| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: (pattern position after it, text position it covers to).
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            p += 1;
            backtrack = Some((p, t));
        } else if p < pattern.len() && same(pattern[p], text[t]) {
            p += 1;
            t += 1;
        } else if let Some((after_star, covered)) = backtrack {
            p = after_star;
            t = covered + 1;
            backtrack = Some((after_star, covered + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Bytes that continue a token; anything else (spaces, punctuation) is a breaker.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte >= 0x80
}

fn starts_with_ignore_case(text: &[u8], prefix: &[u8]) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Whether a search term (or phrase) occurs in `text` on token boundaries, ignoring case.
///
/// `404` matches `" 404 "` but not `14040`; `fail*` matches `failed`; `*ail` matches `mail`.
pub(crate) fn term_matches(text: &str, term: &str) -> bool {
    let pieces: Vec<&[u8]> = term
        .as_bytes()
        .split(|&b| b == b'*')
        .filter(|piece| !piece.is_empty())
        .collect();
    if pieces.is_empty() {
        return true;
    }
    let anchored_start = !term.starts_with('*');
    let anchored_end = !term.ends_with('*');
    let text = text.as_bytes();
    (0..text.len()).any(|start| {
        starts_with_ignore_case(&text[start..], pieces[0])
            && (!anchored_start || start == 0 || !is_token_byte(text[start - 1]))
            && rest_matches(text, start + pieces[0].len(), &pieces[1..], anchored_end)
    })
}

fn rest_matches(text: &[u8], from: usize, pieces: &[&[u8]], anchored_end: bool) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return !anchored_end
            || from == text.len()
            || !is_token_byte(text[from])
            || !is_token_byte(text[from - 1]);
    };
    (from..text.len()).any(|start| {
        starts_with_ignore_case(&text[start..], first)
            && rest_matches(text, start + first.len(), rest, anchored_end)
    })
}

/// Equality as `field=value` means it: wildcards, numeric when both are numbers, else case-insensitive.
pub(crate) fn value_equals(actual: &str, wanted: &str) -> bool {
    if wanted.contains('*') {
        return glob_match(wanted, actual, true);
    }
    match (as_number(actual), as_number(wanted)) {
        (Some(a), Some(b)) => a == b,
        _ => actual.eq_ignore_ascii_case(wanted),
    }
}

/// Orders two values numerically when both are numbers, otherwise as strings.
pub(crate) fn compare_values(actual: &str, wanted: &str) -> Ordering {
    match (as_number(actual), as_number(wanted)) {
        (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        _ => actual.cmp(wanted),
    }
}

/// Whether `row` satisfies a (subsearch-free) search expression.
pub(crate) fn matches(expression: &SearchExpr, row: &Row) -> bool {
    match expression {
        SearchExpr::And(parts) => parts.iter().all(|part| matches(part, row)),
        SearchExpr::Or(parts) => parts.iter().any(|part| matches(part, row)),
        SearchExpr::Not(inner) => !matches(inner, row),
        SearchExpr::Term(term) | SearchExpr::Phrase(term) => match row::get_text(row, "_raw") {
            Some(raw) => term_matches(raw, term),
            // Results without `_raw` (after stats, say) match a term in any field.
            None => row.iter().any(|(_, value)| {
                row::values(value)
                    .iter()
                    .any(|text| term_matches(text, term))
            }),
        },
        SearchExpr::Compare { field, op, value } => {
            let Some(actual) = row::get(row, field) else {
                return false;
            };
            let mut candidates = row::values(actual).iter();
            match op {
                CompareOp::Equal => candidates.any(|candidate| value_equals(candidate, value)),
                CompareOp::NotEqual => !candidates.any(|candidate| value_equals(candidate, value)),
                CompareOp::Less => {
                    candidates.any(|candidate| compare_values(candidate, value).is_lt())
                }
                CompareOp::LessOrEqual => {
                    candidates.any(|candidate| compare_values(candidate, value).is_le())
                }
                CompareOp::Greater => {
                    candidates.any(|candidate| compare_values(candidate, value).is_gt())
                }
                CompareOp::GreaterOrEqual => {
                    candidates.any(|candidate| compare_values(candidate, value).is_ge())
                }
            }
        }
        // Subsearches are replaced by their results before any row is matched.
        SearchExpr::Subsearch(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spl::Value;

    #[test]
    fn globs() {
        let cases = [
            ("web-*", "web-01", true, true),
            ("*", "", true, true),
            ("a*c", "abbbc", true, true),
            ("a*c", "abbbd", true, false),
            ("WEB", "web", true, true),
            ("WEB", "web", false, false),
            ("*_ip", "src_ip", false, true),
            ("a*b*c", "aXbYbZc", false, true),
            ("abc", "ab", false, false),
        ];
        for (pattern, text, ignore_case, expected) in cases {
            assert_eq!(
                glob_match(pattern, text, ignore_case),
                expected,
                "{pattern} {text}"
            );
        }
    }

    #[test]
    fn terms_respect_token_boundaries() {
        let raw =
            r#"10.0.0.1 - alice [20/Nov/2026] "GET /cart.do HTTP/1.1" 404 14040 "Failed password""#;
        let cases = [
            ("404", true),
            ("4040", false),
            ("ALICE", true),
            ("ali", false),
            ("ali*", true),
            ("*lice", true),
            ("cart.do", true),
            ("10.0.0.*", true),
            ("failed password", true),
            ("fail* pass*", true),
            ("Nov", true),
            ("bob", false),
        ];
        for (term, expected) in cases {
            assert_eq!(term_matches(raw, term), expected, "{term}");
        }
    }

    #[test]
    fn compares_fields() {
        let row: Row = vec![
            ("_raw".into(), Value::Single("x".into())),
            ("status".into(), Value::Single("404".into())),
            ("host".into(), Value::Single("web-01".into())),
            ("tags".into(), Value::Multi(vec!["a".into(), "b".into()])),
        ];
        let check = |field: &str, op, value: &str| {
            matches(
                &SearchExpr::Compare {
                    field: field.into(),
                    op,
                    value: value.into(),
                },
                &row,
            )
        };
        assert!(check("status", CompareOp::Equal, "404.0"));
        assert!(check("host", CompareOp::Equal, "WEB-*"));
        assert!(check("status", CompareOp::Greater, "99"));
        assert!(!check("status", CompareOp::Less, "99"));
        assert!(check("tags", CompareOp::Equal, "b"));
        assert!(check("host", CompareOp::NotEqual, "web-02"));
        assert!(!check("missing", CompareOp::NotEqual, "x"));
        assert!(!matches(&SearchExpr::Or(Vec::new()), &row));
        assert!(matches(&SearchExpr::everything(), &row));
    }
}
