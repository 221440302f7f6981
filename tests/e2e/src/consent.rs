//! splunk-mcp's consent page as a user agent sees it: the form to post and its hidden fields.
//! Read with a few string searches, enough for the page the server renders (no HTML parser in
//! the test world for one form).

use reqwest::Url;

/// The consent page's form: where it posts, its hidden fields (consent id, CSRF token) and the
/// name of the buttons that carry the decision.
#[derive(Debug, Clone)]
pub struct ConsentForm {
    /// The form's absolute action URL.
    pub action: Url,
    /// Its hidden inputs, in order.
    pub fields: Vec<(String, String)>,
    /// The name of the submit control whose value is `approve` (and `deny`).
    pub decision_name: String,
}

impl ConsentForm {
    /// The form of the page at `page_url` that has a submit control of value `approve`; `None`
    /// when there is no such form (the page is not a consent page).
    pub fn parse(page_url: &Url, html: &str) -> Option<Self> {
        forms(html).into_iter().find_map(|form| {
            let decision_name = ["button", "input"]
                .into_iter()
                .flat_map(|kind| tags(form, kind))
                .filter(|tag| attribute(tag, "value").as_deref() == Some("approve"))
                .find_map(|tag| attribute(tag, "name"))?;
            let start = tags(form, "form").into_iter().next()?;
            let action = match attribute(start, "action") {
                Some(action) => page_url.join(&action).ok()?,
                None => page_url.clone(),
            };
            let fields = tags(form, "input")
                .into_iter()
                .filter(|tag| {
                    attribute(tag, "type").is_some_and(|t| t.eq_ignore_ascii_case("hidden"))
                })
                .filter_map(|tag| Some((attribute(tag, "name")?, attribute(tag, "value")?)))
                .collect();
            Some(Self {
                action,
                fields,
                decision_name,
            })
        })
    }

    /// The value of the hidden field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The form as posted with `decision` (`approve` or `deny`): the hidden fields, then the
    /// decision.
    pub fn with_decision(&self, decision: &str) -> Vec<(String, String)> {
        let mut form = self.fields.clone();
        form.push((self.decision_name.clone(), decision.to_owned()));
        form
    }
}

/// Decodes the entities an HTML escaper writes.
pub fn html_unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Each `<form ...>...</form>` of an HTML page.
fn forms(html: &str) -> Vec<&str> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = lower[from..].find("<form").map(|i| i + from) {
        let end = lower[start..]
            .find("</form")
            .map_or(html.len(), |i| start + i);
        found.push(&html[start..end]);
        from = end;
    }
    found
}

/// The start tags `<name ...>` of an HTML page, as written.
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = lower[from..].find(&open).map(|i| i + from) {
        let end = lower[start..]
            .find('>')
            .map_or(html.len(), |i| start + i + 1);
        let after = lower.as_bytes().get(start + open.len()).copied();
        if after.is_some_and(|b| b.is_ascii_whitespace() || b == b'>' || b == b'/') {
            found.push(&html[start..end]);
        }
        from = end;
    }
    found
}

/// The value of attribute `name` of a start tag (double, single or not quoted), unescaped.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find(name).map(|i| i + from) {
        from = at + name.len();
        let before = lower.as_bytes()[at.saturating_sub(1)];
        let rest = lower[from..].trim_start();
        if !before.is_ascii_whitespace() || !rest.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let value = tag[value_start..].trim_start();
        let quote = value.chars().next()?;
        let raw = if quote == '"' || quote == '\'' {
            value[1..].split(quote).next()?
        } else {
            value
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()?
        };
        return Some(html_unescape(raw));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSENT: &str = "<html><body><h1>Allow &quot;x&quot;?</h1>\
        <form method=\"post\" action=\"/consent\">\
        <input type=\"hidden\" name=\"consent_id\" value=\"c-1\">\
        <input type=\"hidden\" name=\"csrf\" value=\"a&amp;b\">\
        <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button> \
        <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
        </form></body></html>";

    #[test]
    fn the_consent_form_is_submitted_with_its_hidden_fields_and_approve() {
        let page = Url::parse("http://127.0.0.1:4000/authorize?client_id=x").unwrap();
        let form = ConsentForm::parse(&page, CONSENT).unwrap();
        assert_eq!(form.action.as_str(), "http://127.0.0.1:4000/consent");
        assert_eq!(form.field("csrf"), Some("a&b"));
        let fields = form.with_decision("approve");
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("consent_id", "c-1"),
                ("csrf", "a&b"),
                ("decision", "approve")
            ]
        );
        let no_approve = CONSENT.replace("value=\"approve\"", "value=\"maybe\"");
        assert!(ConsentForm::parse(&page, &no_approve).is_none());
        assert!(ConsentForm::parse(&page, "<p>error</p>").is_none());
    }
}
