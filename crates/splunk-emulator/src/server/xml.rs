//! Splunk's XML answers, for the calls splunklib (splunk-sdk-python) makes without
//! `output_mode=json`: `auth/login`, `server/info`, job creation, job status and job control.
//! splunkd answers XML whenever `output_mode` is absent; the handlers build the JSON form and the
//! pipeline turns it into the XML form here, so both come from one source.
//!
//! Shapes, as splunkd writes them and splunklib reads them:
//! - login: `<response><sessionKey>K</sessionKey><messages><msg code=""></msg></messages></response>`;
//! - job creation: `<response><sid>S</sid></response>`;
//! - messages (control, errors): `<response><messages><msg type="T">text</msg></messages></response>`;
//! - listings and single objects: an Atom `<feed>` whose entries hold `<content type="text/xml">`
//!   with an `<s:dict>` of `<s:key name="…">` (booleans `1`/`0`, lists as `<s:list><s:item>`);
//! - a job's status: the Atom `<entry>` alone, at the top level (splunkd's quirk for that endpoint).

use std::fmt::Write as _;

use axum::body::Body;
use axum::http::{HeaderValue, Response, header};
use serde_json::{Map, Value};

use super::Params;

/// How an answer is rendered in XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `<response>` for login, sid and message answers; `<feed>` for envelopes.
    Response,
    /// A job's status: its `<entry>` at the top level.
    JobEntry,
}

/// The XML shape for `method path` when the request asked for no `output_mode` (splunkd's
/// default is XML), for the calls splunklib makes on its search path; `None` keeps JSON.
pub(crate) fn shape_for(method: &str, path: &str, params: &Params) -> Option<Shape> {
    if !matches!(params.get("output_mode"), None | Some("xml")) {
        return None;
    }
    let tail = path
        .strip_prefix("/services/search/v2/jobs")
        .or_else(|| path.strip_prefix("/services/search/jobs"));
    match (method, path, tail) {
        ("POST", "/services/auth/login", _) | ("GET", "/services/server/info", _) => {
            Some(Shape::Response)
        }
        // A oneshot search answers results, which stay JSON here.
        ("POST", _, Some("")) if params.get("exec_mode") != Some("oneshot") => {
            Some(Shape::Response)
        }
        (_, _, Some(rest)) => {
            let rest = rest.strip_prefix('/')?;
            match rest.split_once('/') {
                None if method == "GET" && rest != "export" => Some(Shape::JobEntry),
                Some((_, "control")) if method == "POST" => Some(Shape::Response),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Rewrites a JSON answer (`body`, as the handler built it) into splunkd's XML, keeping the
/// status and other headers. Answers of another shape are returned unchanged.
pub(crate) fn rewrite(shape: Shape, response: Response<Body>, body: &[u8]) -> Response<Body> {
    let (mut parts, _) = response.into_parts();
    let xml = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => render(shape, &map),
        _ => None,
    };
    let Some(xml) = xml else {
        return Response::from_parts(parts, Body::from(body.to_vec()));
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=UTF-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(xml))
}

const PROLOG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const ATOM_NS: &str = "xmlns=\"http://www.w3.org/2005/Atom\" xmlns:s=\"http://dev.splunk.com/ns/rest\" xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\"";

fn render(shape: Shape, body: &Map<String, Value>) -> Option<String> {
    let mut out = String::from(PROLOG);
    if body.contains_key("entry") {
        let entries = body.get("entry")?.as_array()?;
        match shape {
            Shape::JobEntry => {
                let entry = entries.first()?.as_object()?;
                write_entry(&mut out, entry, 0, true);
            }
            Shape::Response => write_feed(&mut out, body, entries),
        }
        return Some(out);
    }
    out.push_str("<response>\n");
    if let Some(key) = body.get("sessionKey") {
        // The JSON form's `message`/`code` are the one empty `<msg>` splunkd sends with a key.
        let _ = writeln!(out, "  <sessionKey>{}</sessionKey>", text(key));
        out.push_str("  <messages>\n    <msg code=\"\"></msg>\n  </messages>\n");
    } else if let Some(sid) = body.get("sid") {
        let _ = writeln!(out, "  <sid>{}</sid>", text(sid));
    } else if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        out.push_str("  <messages>\n");
        for message in messages {
            let attr = |name: &str| message.get(name).map(text);
            out.push_str("    <msg");
            for name in ["type", "code"] {
                if let Some(value) = attr(name) {
                    let _ = write!(out, " {name}=\"{}\"", escape(&value));
                }
            }
            let _ = writeln!(out, ">{}</msg>", escape(&attr("text").unwrap_or_default()));
        }
        out.push_str("  </messages>\n");
    } else {
        return None;
    }
    out.push_str("</response>\n");
    Some(out)
}

fn write_feed(out: &mut String, body: &Map<String, Value>, entries: &[Value]) {
    let origin = body.get("origin").map(text).unwrap_or_default();
    let title = origin.rsplit('/').next().unwrap_or_default().to_owned();
    let _ = writeln!(out, "<feed {ATOM_NS}>");
    let _ = writeln!(out, "  <title>{}</title>", escape(&title));
    let _ = writeln!(out, "  <id>{}</id>", escape(&origin));
    if let Some(updated) = body.get("updated") {
        let _ = writeln!(out, "  <updated>{}</updated>", escape(&text(updated)));
    }
    if let Some(generator) = body.get("generator") {
        let _ = writeln!(
            out,
            "  <generator build=\"{}\" version=\"{}\"/>",
            escape(&generator.get("build").map(text).unwrap_or_default()),
            escape(&generator.get("version").map(text).unwrap_or_default())
        );
    }
    out.push_str("  <author>\n    <name>Splunk</name>\n  </author>\n");
    write_links(out, body.get("links"), 1);
    let paging = body.get("paging");
    let page = |name: &str| paging.and_then(|p| p.get(name)).map(text);
    let _ = writeln!(
        out,
        "  <opensearch:totalResults>{}</opensearch:totalResults>",
        page("total").unwrap_or_else(|| entries.len().to_string())
    );
    let _ = writeln!(
        out,
        "  <opensearch:itemsPerPage>{}</opensearch:itemsPerPage>",
        page("perPage").unwrap_or_else(|| "30".to_owned())
    );
    let _ = writeln!(
        out,
        "  <opensearch:startIndex>{}</opensearch:startIndex>",
        page("offset").unwrap_or_else(|| "0".to_owned())
    );
    out.push_str("  <s:messages/>\n");
    for entry in entries.iter().filter_map(Value::as_object) {
        write_entry(out, entry, 1, false);
    }
    out.push_str("</feed>\n");
}

fn write_links(out: &mut String, links: Option<&Value>, depth: usize) {
    let pad = "  ".repeat(depth);
    if let Some(links) = links.and_then(Value::as_object) {
        for (rel, href) in links {
            let _ = writeln!(
                out,
                "{pad}<link href=\"{}\" rel=\"{}\"/>",
                escape(&text(href)),
                escape(rel)
            );
        }
    }
}

fn write_entry(out: &mut String, entry: &Map<String, Value>, depth: usize, top_level: bool) {
    let pad = "  ".repeat(depth);
    if top_level {
        let _ = writeln!(out, "<entry {ATOM_NS}>");
    } else {
        let _ = writeln!(out, "{pad}<entry>");
    }
    let field = |name: &str| entry.get(name).map(text).unwrap_or_default();
    let _ = writeln!(out, "{pad}  <title>{}</title>", escape(&field("name")));
    let _ = writeln!(out, "{pad}  <id>{}</id>", escape(&field("id")));
    let _ = writeln!(
        out,
        "{pad}  <updated>{}</updated>",
        escape(&field("updated"))
    );
    write_links(out, entry.get("links"), depth + 1);
    let _ = writeln!(
        out,
        "{pad}  <author>\n{pad}    <name>{}</name>\n{pad}  </author>",
        escape(&field("author"))
    );
    let _ = writeln!(out, "{pad}  <content type=\"text/xml\">");
    let mut content = entry
        .get("content")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    // The JSON form carries the ACL beside the content; the XML form inside it.
    if content.get("eai:acl").is_none_or(Value::is_null)
        && let Some(acl) = entry.get("acl")
    {
        content.insert("eai:acl".to_owned(), acl.clone());
    }
    if let Some(messages) = content.get_mut("messages") {
        *messages = messages_by_type(messages);
    }
    write_value(out, &Value::Object(content), depth + 2);
    let _ = writeln!(out, "{pad}  </content>");
    let _ = writeln!(out, "{pad}</entry>");
}

/// A job's `messages`, a list of `{type, text}` in JSON, are a dict of type → texts in XML.
fn messages_by_type(messages: &Value) -> Value {
    let Some(list) = messages.as_array() else {
        return messages.clone();
    };
    let mut by_type = Map::new();
    for message in list {
        let kind = message.get("type").map(text).unwrap_or_default();
        let entry = by_type
            .entry(kind)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(texts) = entry {
            texts.push(Value::String(
                message.get("text").map(text).unwrap_or_default(),
            ));
        }
    }
    Value::Object(by_type)
}

/// Writes `value` as the `s:` structure: dicts, lists, and text leaves.
fn write_value(out: &mut String, value: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    match value {
        Value::Object(map) if map.is_empty() => {
            let _ = writeln!(out, "{pad}<s:dict/>");
        }
        Value::Object(map) => {
            let _ = writeln!(out, "{pad}<s:dict>");
            for (key, item) in map {
                write_keyed(out, "s:key", Some(key), item, depth + 1);
            }
            let _ = writeln!(out, "{pad}</s:dict>");
        }
        Value::Array(items) if items.is_empty() => {
            let _ = writeln!(out, "{pad}<s:list/>");
        }
        Value::Array(items) => {
            let _ = writeln!(out, "{pad}<s:list>");
            for item in items {
                write_keyed(out, "s:item", None, item, depth + 1);
            }
            let _ = writeln!(out, "{pad}</s:list>");
        }
        leaf => {
            let _ = writeln!(out, "{pad}{}", escape(&text(leaf)));
        }
    }
}

fn write_keyed(out: &mut String, tag: &str, name: Option<&str>, value: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    let attr = name
        .map(|n| format!(" name=\"{}\"", escape(n)))
        .unwrap_or_default();
    match value {
        Value::Object(_) | Value::Array(_) => {
            let _ = writeln!(out, "{pad}<{tag}{attr}>");
            write_value(out, value, depth + 1);
            let _ = writeln!(out, "{pad}</{tag}>");
        }
        Value::Null => {
            let _ = writeln!(out, "{pad}<{tag}{attr}/>");
        }
        leaf => {
            let _ = writeln!(out, "{pad}<{tag}{attr}>{}</{tag}>", escape(&text(leaf)));
        }
    }
}

/// A JSON leaf as splunkd writes it in XML: booleans `1`/`0`, null empty.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
        Value::Null => String::new(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn params(query: &str) -> Params {
        super::super::parse_params(Some(query), None, Bytes::new())
    }

    #[test]
    fn xml_only_without_output_mode_and_only_on_splunklibs_search_calls() {
        let none = params("");
        let json = params("output_mode=json");
        assert_eq!(
            shape_for("POST", "/services/auth/login", &none),
            Some(Shape::Response)
        );
        assert_eq!(shape_for("POST", "/services/auth/login", &json), None);
        assert_eq!(
            shape_for("POST", "/services/auth/login", &params("output_mode=xml")),
            Some(Shape::Response)
        );
        assert_eq!(
            shape_for("GET", "/services/server/info", &none),
            Some(Shape::Response)
        );
        for base in ["/services/search/jobs", "/services/search/v2/jobs"] {
            assert_eq!(shape_for("POST", base, &none), Some(Shape::Response));
            assert_eq!(shape_for("POST", base, &params("exec_mode=oneshot")), None);
            assert_eq!(
                shape_for("GET", &format!("{base}/123.4"), &none),
                Some(Shape::JobEntry)
            );
            assert_eq!(
                shape_for("POST", &format!("{base}/123.4/control"), &none),
                Some(Shape::Response)
            );
            assert_eq!(
                shape_for("GET", &format!("{base}/123.4/results"), &none),
                None
            );
            assert_eq!(shape_for("POST", &format!("{base}/export"), &none), None);
            assert_eq!(shape_for("GET", base, &none), None);
        }
        assert_eq!(shape_for("GET", "/services/data/indexes", &none), None);
    }

    #[test]
    fn leaves_and_escaping() {
        assert_eq!(text(&Value::Bool(true)), "1");
        assert_eq!(text(&Value::Bool(false)), "0");
        assert_eq!(text(&serde_json::json!(1.5)), "1.5");
        assert_eq!(text(&Value::Null), "");
        assert_eq!(escape("a<b & \"c\"'"), "a&lt;b &amp; &quot;c&quot;&apos;");
    }
}
