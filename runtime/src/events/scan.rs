//! A fast reading of an event's head from JSON text that serde_json has
//! already checked (the text a generated enum captured): top-level keys are
//! found by skipping values byte by byte, without serde's visitor calls.
//!
//! It reads well-formed JSON only, and gives up (`None`) on anything it does
//! not expect, escaped keys among them; the caller then reads the head
//! through serde, which is slower but general. It never panics, whatever
//! the text.

use super::EventHead;
use std::borrow::Cow;

/// The head of the JSON object `text`, or `None` where serde must decide.
pub(super) fn head<'a>(text: &'a str, discriminator: Option<&str>) -> Option<EventHead<'a>> {
    let mut s = Scanner {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut head = EventHead::default();
    s.object(|s, key| {
        match key {
            "type" => head.event_type = Some(Cow::Borrowed(s.plain_string()?)),
            "state_key" => {
                head.has_state_key = true;
                s.skip_value()?;
            }
            "unsigned" => head.redacted = s.has_redacted_because()?,
            _ if Some(key) == discriminator => head.discriminator = Some(Cow::Borrowed(s.plain_string()?)),
            _ => s.skip_value()?,
        }
        Some(())
    })?;
    s.whitespace();
    (s.at == s.bytes.len()).then_some(head)
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.whitespace();
        (self.peek() == Some(byte)).then(|| self.at += 1)
    }

    /// Calls `field` with each key of the object at the cursor, the cursor
    /// then at the key's value (which `field` must consume).
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        self.whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(());
        }
        loop {
            self.whitespace();
            let key = self.plain_string()?;
            self.expect(b':')?;
            self.whitespace();
            field(self, key)?;
            self.whitespace();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string without escapes, borrowed (an escaped one is left to serde).
    fn plain_string(&mut self) -> Option<&'a str> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.at + 1;
        let len = self.bytes[start..].iter().position(|&b| b == b'"' || b == b'\\')?;
        if self.bytes[start + len] == b'\\' {
            return None;
        }
        self.at = start + len + 1;
        self.text.get(start..start + len)
    }

    /// Moves past the string at the cursor (escapes included).
    fn skip_string(&mut self) -> Option<()> {
        let mut i = self.at + 1;
        loop {
            let step = self.bytes.get(i..)?.iter().position(|&b| b == b'"' || b == b'\\')?;
            i += step;
            if self.bytes[i] == b'\\' {
                i += 2;
            } else {
                self.at = i + 1;
                return Some(());
            }
        }
    }

    /// Moves past the value at the cursor, counting brackets.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                // A number, `true`, `false` or `null`: up to what ends it.
                let len = self.bytes[self.at..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                    .unwrap_or(self.bytes.len() - self.at);
                (len > 0).then(|| self.at += len)
            }
        }
    }

    /// Whether the `unsigned` value at the cursor has a non-null
    /// `redacted_because` (a value that is not an object has none).
    fn has_redacted_because(&mut self) -> Option<bool> {
        if self.peek() != Some(b'{') {
            self.skip_value()?;
            return Some(false);
        }
        let mut redacted = false;
        self.object(|s, key| {
            if key == "redacted_because" {
                redacted |= !s.bytes[s.at..].starts_with(b"null");
            }
            s.skip_value()
        })?;
        Some(redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::head;

    fn serde_head(text: &str, discriminator: Option<&'static str>) -> String {
        format!("{:?}", super::super::serde_head(text, discriminator).ok())
    }

    #[test]
    fn agrees_with_serde_on_what_it_reads() {
        for text in [
            r#"{"content":{"msgtype":"m.text","body":"hi \"you\" {[","type":"no"},"type":"m.room.message","state_key":"","x":[1,{"type":"no"}]}"#,
            r#" { "type" : "m.x" , "unsigned" : { "age" : 1 , "redacted_because" : { "type" : "m.room.redaction" } } } "#,
            r#"{"unsigned":{"redacted_because":null},"type":"a"}"#,
            r#"{"unsigned":[1,2],"type":"a","n":-1.5e3,"t":true,"f":false,"z":null}"#,
            r#"{"msgtype":"m.notice","body":"\\"}"#,
            r#"{}"#,
            r#"{"type":"first","type":"second"}"#,
        ] {
            let fast = head(text, Some("msgtype")).map(|h| format!("{:?}", Some(h)));
            assert_eq!(
                fast.as_deref(),
                Some(serde_head(text, Some("msgtype")).as_str()),
                "{text}"
            );
        }
    }

    #[test]
    fn leaves_to_serde_what_it_does_not_read() {
        for text in [
            r#"{"typ\u0065":"m.x"}"#,
            r#"{"type":"m.te\u0078t"}"#,
            r#"{"type":1}"#,
            r#"[1]"#,
            r#"{"type":"a"} x"#,
            r#"{"type":"a""#,
            r#"{"a":[1,"#,
            r#"{"a":"\"#,
            "",
        ] {
            assert!(head(text, None).is_none(), "{text}");
        }
    }
}
