//! Config diagnostics: what is wrong, where (file, line, column), and a hint — rendered the way
//! compilers do, with the offending line underlined.

use std::fmt;
use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The source line and the underline's start and width (in characters), for rendering.
    source_line: String,
    underline: (usize, usize),
}

impl Diagnostic {
    pub fn new(
        file: &str,
        src: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Self {
        let span = span.unwrap_or(0..0);
        // A span computed inside a string (a template's error offset) may fall inside a
        // multi-byte character: widen it to whole characters.
        let start = src.floor_char_boundary(span.start.min(src.len()));
        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
        let line = src[..start].matches('\n').count() + 1;
        let column = src[line_start..start].chars().count() + 1;
        let end = src.ceil_char_boundary(span.end.clamp(start, line_end));
        let width = src[start..end].chars().count().max(1);
        Diagnostic {
            file: file.to_owned(),
            line,
            column,
            message: message.into(),
            hint,
            source_line: src[line_start..line_end].trim_end_matches('\r').to_owned(),
            underline: (column - 1, width),
        }
    }
}

impl Diagnostic {
    /// An error about the file as a whole (it cannot be read, say): no position to show.
    pub fn whole_file(file: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_owned(),
            line: 0,
            column: 0,
            message: message.into(),
            hint: None,
            source_line: String::new(),
            underline: (0, 0),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(
                f,
                "error: {}
 --> {}",
                self.message, self.file
            );
        }
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        writeln!(f, "error: {}", self.message)?;
        writeln!(f, "{pad}--> {}:{}:{}", self.file, self.line, self.column)?;
        writeln!(f, "{pad} |")?;
        writeln!(f, "{number} | {}", self.source_line)?;
        write!(f, "{pad} | {}{}", " ".repeat(self.underline.0), "^".repeat(self.underline.1))?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{pad} = hint: {hint}")?;
        }
        Ok(())
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_inside_a_character_is_widened_to_it_not_a_panic() {
        // The config fuzz target found a template error whose one-byte span ended inside `܍`.
        let src = "t = \"a܍b\"\n";
        for span in [5..6, 6..7, 6..8, 7..7, 5..200] {
            let d = Diagnostic::new("x.toml", src, Some(span.clone()), "template error", None);
            assert_eq!(d.line, 1, "{span:?}");
            assert!(d.to_string().contains("t = \"a܍b\""), "{span:?}");
        }
    }

    #[test]
    fn locates_and_renders() {
        let src = "a = 1\nbad_key = 2\n";
        let d =
            Diagnostic::new("x.toml", src, Some(6..13), "unknown key `bad_key`", Some("did you mean `bad`?".into()));
        assert_eq!((d.line, d.column), (2, 1));
        let text = d.to_string();
        assert!(text.contains("--> x.toml:2:1"), "{text}");
        assert!(text.contains("2 | bad_key = 2\n  | ^^^^^^^"), "{text}");
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("timout_ms", &["timeout_ms", "uri"]), Some("timeout_ms"));
        assert_eq!(did_you_mean("zzz", &["timeout_ms", "uri"]), None);
    }
}
