//! Glob-style matching as the spec's appendix defines it (`*` any run of
//! characters, `?` exactly one, case-insensitive), shared by push rules
//! (`event_match`) and server ACLs.

/// Whether a glob (`*` any run, `?` one character) matches the whole
/// value, case-insensitively. Without a regex: push rules run this for
/// every member and rule on every event, mostly on plain patterns such as
/// `m.room.message`.
pub(crate) fn glob_matches(pattern: &str, value: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let value: Vec<char> = value.chars().flat_map(char::to_lowercase).collect();
    if !pattern.iter().any(|c| matches!(c, '*' | '?')) {
        return pattern == value;
    }
    // The classic two-pointer match: on a mismatch, let the last `*` take
    // one more character.
    let (mut p, mut v) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while v < value.len() {
        match pattern.get(p) {
            Some('*') => {
                last_star = Some((p, v));
                p += 1;
            }
            Some(c) if *c == '?' || *c == value[v] => {
                p += 1;
                v += 1;
            }
            _ => match last_star {
                Some((star, taken)) => {
                    p = star + 1;
                    v = taken + 1;
                    last_star = Some((star, taken + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_take_any_run_or_one_character() {
        assert!(glob_matches("m.room.message", "M.Room.Message"));
        assert!(glob_matches("*", "") && glob_matches("a*b*c", "aXbYbc") && glob_matches("?b", "ab"));
        assert!(!glob_matches("a*b", "ac") && !glob_matches("?", "") && !glob_matches("ab", "abc"));
    }
}
