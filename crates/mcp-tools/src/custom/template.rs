//! An SPL template with `$name$` placeholders, as in Splunk dashboards: `$$` is a dollar sign.
//! Where a placeholder may stand (not inside quotes, comments or macros) is checked on the
//! rendered template with the SPL guard's tokenizer, which reads SPL as the guard does.

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    /// SPL written by the administrator, kept as is.
    Text(String),
    /// A placeholder: the parameter's name.
    Placeholder(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `spl`; the error says what is wrong and where, in words for the administrator.
    pub(super) fn parse(spl: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = spl.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if c != '$' {
                text.push(c);
                continue;
            }
            if chars.next_if(|&(_, next)| next == '$').is_some() {
                text.push('$');
                continue;
            }
            let rest = &spl[at + 1..];
            let name_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..name_len];
            if name.is_empty() || !rest[name_len..].starts_with('$') {
                return Err(format!(
                    "the `$` at character {} starts no placeholder: a placeholder is `$name$` \
                     (letters, digits, `_`), and `$$` is a dollar sign",
                    spl[..at].chars().count() + 1
                ));
            }
            for _ in 0..=name.chars().count() {
                chars.next();
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Placeholder(name.to_owned()));
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Self { pieces })
    }

    /// The placeholders' names, in order of first use.
    pub(super) fn placeholders(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for piece in &self.pieces {
            if let Piece::Placeholder(name) = piece
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
    }

    /// How many times the placeholder `name` is used.
    pub(super) fn uses(&self, name: &str) -> usize {
        self.pieces
            .iter()
            .filter(|piece| matches!(piece, Piece::Placeholder(p) if p == name))
            .count()
    }

    /// The SPL with each placeholder replaced by `value(name)`, in one pass: a value is never
    /// read again, so a `$x$` inside it stays text.
    pub(super) fn render(&self, value: impl Fn(&str) -> String) -> String {
        let mut spl = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => spl.push_str(text),
                Piece::Placeholder(name) => spl.push_str(&value(name)),
            }
        }
        spl
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_dollar_signs() {
        let template =
            Template::parse("search index=web status=$status$ user=$user$ | rex \"x$$\" $status$")
                .unwrap();
        assert_eq!(template.placeholders(), ["status", "user"]);
        let spl = template.render(|name| format!("<{name}>"));
        assert_eq!(
            spl,
            "search index=web status=<status> user=<user> | rex \"x$\" <status>"
        );
        // A value that looks like a placeholder is not read again.
        assert_eq!(
            Template::parse("a=$a$ b=$b$")
                .unwrap()
                .render(|name| if name == "a" {
                    "$b$".into()
                } else {
                    "B".into()
                }),
            "a=$b$ b=B"
        );
    }

    #[test]
    fn bad_templates_say_where() {
        let cases = [
            (
                "search x=$ y",
                "the `$` at character 10 starts no placeholder",
            ),
            (
                "search x=$a b$",
                "the `$` at character 10 starts no placeholder",
            ),
            (
                "search x=$a",
                "the `$` at character 10 starts no placeholder",
            ),
        ];
        for (spl, want) in cases {
            let error = Template::parse(spl).unwrap_err();
            assert!(error.starts_with(want), "{spl}: {error}");
        }
    }
}
