//! Spec descriptions (CommonMark) → rustdoc that builds without warnings.
//!
//! The spec's prose has untagged code fences (rustdoc would run them as Rust
//! doctests), `<angle>` placeholders (invalid HTML to rustdoc), `[brackets]`
//! that look like intra-doc links, bare URLs and site-relative links.

use crate::ir::Doc;
use proc_macro2::TokenStream;
use quote::quote;

/// Where site-relative links in descriptions point.
pub struct DocContext {
    pub site: String,
}

impl DocContext {
    pub fn for_release(release: Option<&str>) -> Self {
        let version = release.unwrap_or("latest");
        DocContext {
            site: format!("https://spec.matrix.org/{version}"),
        }
    }
}

/// `#[doc = "..."]` attributes, one per line (prettyplease prints them as `///`).
pub fn doc_attrs(text: &str) -> TokenStream {
    let text = text.trim_end();
    if text.trim().is_empty() {
        return TokenStream::new();
    }
    let lines = text
        .lines()
        .map(|l| if l.is_empty() { String::new() } else { format!(" {l}") });
    quote! { #( #[doc = #lines] )* }
}

/// `#![doc = "..."]` attributes for a module or crate.
pub fn inner_doc_attrs(text: &str) -> TokenStream {
    let lines = text
        .trim_end()
        .lines()
        .map(|l| if l.is_empty() { String::new() } else { format!(" {l}") });
    quote! { #( #![doc = #lines] )* }
}

/// The full documentation of a type, field or parameter.
pub fn render(doc: &Doc, ctx: &DocContext) -> String {
    let mut out = String::new();
    if !doc.description.trim().is_empty() {
        out.push_str(&sanitize(doc.description.trim(), ctx));
    } else if let Some(title) = &doc.title {
        out.push_str(&sanitize(title, ctx));
    }
    let mut notes = Vec::new();
    if doc.deprecated {
        notes.push("**Deprecated.**".to_owned());
    }
    if let Some(v) = &doc.added_in {
        notes.push(format!("Added in Matrix v{}.", v.trim_start_matches('v')));
    }
    for (v, text) in &doc.changed_in {
        let text = sanitize(text.trim(), ctx).replace('\n', " ");
        notes.push(format!("Changed in Matrix v{}: {}", v.trim_start_matches('v'), text));
    }
    for n in &doc.notes {
        notes.push(format!("Spec constraint, {}", escape_inline(n)));
    }
    if !notes.is_empty() {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        for n in notes {
            out.push_str("- ");
            out.push_str(&n);
            out.push('\n');
        }
    }
    out
}

/// Escapes the parts of a note that sit outside backtick spans.
fn escape_inline(text: &str) -> String {
    sanitize_line(text, &DocContext { site: String::new() })
}

/// Makes a Markdown text safe for rustdoc.
pub fn sanitize(md: &str, ctx: &DocContext) -> String {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    let mut indented_block = false;
    let mut previous_blank = true;
    for line in md.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if indented_block {
            if line.starts_with("    ") || trimmed.is_empty() {
                out.push(line.get(4..).unwrap_or("").to_owned());
                continue;
            }
            while out.last().is_some_and(|l: &String| l.is_empty()) {
                out.pop();
            }
            out.push("```".to_owned());
            out.push(String::new());
            fence = None;
            indented_block = false;
        }
        if let Some(marker) = &fence {
            if trimmed.starts_with(marker.as_str()) && trimmed.trim_end() == marker {
                fence = None;
            }
            out.push(line.to_owned());
            previous_blank = false;
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            let marker: String = trimmed.chars().take_while(|c| *c == '`' || *c == '~').collect();
            let info = trimmed[marker.len()..].trim();
            // Only named, non-Rust languages stay; everything else is text so
            // it is never compiled as a doctest.
            let lang = if info.is_empty() || info == "rust" {
                "text"
            } else {
                info
            };
            out.push(format!("{indent}{marker}{lang}"));
            fence = Some(marker);
            previous_blank = false;
            continue;
        }
        // An indented code block (4+ spaces after a blank line) would be a
        // Rust doctest: fence it as text instead.
        if previous_blank && line.starts_with("    ") && !trimmed.is_empty() && !looks_like_list_item(trimmed) {
            out.push("```text".to_owned());
            out.push(trimmed.to_owned());
            fence = Some("```".to_owned());
            indented_block = true;
            previous_blank = false;
            continue;
        }
        previous_blank = trimmed.is_empty();
        out.push(format!("{indent}{}", sanitize_line(trimmed, ctx)));
    }
    if fence.is_some() {
        out.push("```".to_owned());
    }
    out.join("\n")
}

fn looks_like_list_item(text: &str) -> bool {
    text.starts_with("* ") || text.starts_with("- ") || text.starts_with(|c: char| c.is_ascii_digit())
}

/// Escapes one line outside code spans: brackets that are not links, angle
/// brackets that are not autolinks, bare URLs, site-relative link targets.
fn sanitize_line(line: &str, ctx: &DocContext) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            // Copy a code span verbatim (a run of N backticks closes it).
            let run = chars[i..].iter().take_while(|&&c| c == '`').count();
            let close = find_run(&chars, i + run, run);
            let end = close.map(|j| j + run).unwrap_or(chars.len());
            if close.is_none() {
                // An unmatched backtick: escape it.
                for _ in 0..run {
                    out.push_str("\\`");
                }
                i += run;
                continue;
            }
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        match c {
            '\\' if i + 1 < chars.len() => {
                out.push(c);
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            '[' => {
                if let Some((text_end, url_end)) = inline_link(&chars, i) {
                    let text: String = chars[i + 1..text_end].iter().collect();
                    let url: String = chars[text_end + 2..url_end].iter().collect();
                    let url = url.trim();
                    let url = if url.starts_with('/') {
                        format!("{}{}", ctx.site, url)
                    } else if url.starts_with('#') || !url.contains(':') {
                        format!("{}/{}", ctx.site, url.trim_start_matches("./"))
                    } else {
                        url.to_owned()
                    };
                    out.push('[');
                    out.push_str(&sanitize_line(&text, ctx));
                    out.push_str("](");
                    out.push_str(&url.replace(' ', "%20"));
                    out.push(')');
                    i = url_end + 1;
                    continue;
                }
                out.push_str("\\[");
            }
            ']' => out.push_str("\\]"),
            '<' => {
                let rest: String = chars[i..].iter().collect();
                if let Some(end) = rest.find('>') {
                    let inner = &rest[1..end];
                    if (inner.starts_with("http://") || inner.starts_with("https://")) && !inner.contains(' ') {
                        out.push_str(&rest[..=end]);
                        i += rest[..=end].chars().count();
                        continue;
                    }
                }
                out.push_str("&lt;");
            }
            '>' => out.push_str("&gt;"),
            'h' if starts_with_url(&chars[i..]) => {
                let url: String = chars[i..]
                    .iter()
                    .take_while(|c| !c.is_whitespace() && **c != ')' && **c != '`')
                    .collect();
                let url = url.trim_end_matches(['.', ',', ';', ':']);
                out.push('<');
                out.push_str(url);
                out.push('>');
                i += url.chars().count();
                continue;
            }
            '*' | '_' => out.push(c),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

fn starts_with_url(chars: &[char]) -> bool {
    let s: String = chars.iter().take(8).collect();
    s.starts_with("http://") || s.starts_with("https://")
}

fn find_run(chars: &[char], from: usize, run: usize) -> Option<usize> {
    let mut j = from;
    while j < chars.len() {
        if chars[j] == '`' {
            let len = chars[j..].iter().take_while(|&&c| c == '`').count();
            if len == run {
                return Some(j);
            }
            j += len;
        } else {
            j += 1;
        }
    }
    None
}

/// `[text](url)` starting at `start`: the index of `]` and of `)`.
fn inline_link(chars: &[char], start: usize) -> Option<(usize, usize)> {
    let mut depth = 0;
    let mut j = start;
    while j < chars.len() {
        match chars[j] {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            '`' => {
                let run = chars[j..].iter().take_while(|&&c| c == '`').count();
                j = find_run(chars, j + run, run)? + run;
                continue;
            }
            _ => {}
        }
        j += 1;
    }
    if j >= chars.len() || chars.get(j + 1) != Some(&'(') {
        return None;
    }
    let text_end = j;
    let mut k = j + 2;
    let mut parens = 0;
    while k < chars.len() {
        match chars[k] {
            '(' => parens += 1,
            ')' if parens == 0 => return Some((text_end, k)),
            ')' => parens -= 1,
            _ => {}
        }
        k += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> DocContext {
        DocContext::for_release(Some("v1.19"))
    }

    #[test]
    fn fences_become_text() {
        assert_eq!(sanitize("a\n```\n{}\n```", &ctx()), "a\n```text\n{}\n```");
        assert_eq!(sanitize("```json\n{}\n```", &ctx()), "```json\n{}\n```");
    }

    #[test]
    fn indented_code_is_fenced_as_text() {
        assert_eq!(
            sanitize("a:\n\n    GET /x\n    {}\n\nb", &ctx()),
            "a:\n\n```text\nGET /x\n{}\n```\n\nb"
        );
    }

    #[test]
    fn escapes_outside_code() {
        assert_eq!(
            sanitize("use <bytes> and `<b>` [x]", &ctx()),
            "use &lt;bytes&gt; and `<b>` \\[x\\]"
        );
        assert_eq!(
            sanitize("see [login](/client-server-api/#login)", &ctx()),
            "see [login](https://spec.matrix.org/v1.19/client-server-api/#login)"
        );
        assert_eq!(sanitize("at https://x.org/a.", &ctx()), "at <https://x.org/a>.");
    }
}
