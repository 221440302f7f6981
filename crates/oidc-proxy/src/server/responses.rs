//! Responses shared by the endpoints: OAuth JSON errors, HTML pages with their security
//! headers, and redirects back to a client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use url::Url;

/// An OAuth error response (RFC 6749 §5.2): JSON, never cached.
pub(crate) fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    let body = serde_json::json!({ "error": code, "error_description": description });
    let mut response = (status, axum::Json(body)).into_response();
    no_store(&mut response);
    response
}

/// Marks a response as never to be stored (tokens, codes, pages with CSRF tokens).
pub(crate) fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Escapes text for HTML element content and double-quoted attribute values.
///
/// Five replacements cover both contexts; a template engine would be a dependency for two
/// small pages.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An HTML page with the headers every page of ours carries: no framing (clickjacking), no
/// scripts, no referrer (the URL holds codes and states), never cached.
pub(crate) fn page(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    // No form-action: the consent form's answer redirects to the IdP, which form-action would
    // block in browsers that apply it to redirects.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    no_store(&mut response);
    response
}

/// A page saying the request cannot go on, for errors that must not redirect (unknown client,
/// bad redirect URI, lost or tampered state): the user sees what happened and what to do.
pub(crate) fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\
<body style=\"font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em\">\
<h1>{title}</h1><p>{detail}</p></body></html>\n",
        title = escape(title),
        detail = escape(detail),
    );
    page(status, html)
}

/// A 303 to `redirect_uri` with `params` added to its query (kept as registered otherwise).
/// Callers pass only a redirect URI already validated against the client's registration.
pub(crate) fn redirect_to_client(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect URI",
            "The application's redirect URI is not a valid URL.",
        );
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
    }
    see_other(url.as_str())
}

/// A 303 See Other to `location`, never cached.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    no_store(&mut response);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn redirect_keeps_registered_query_and_encodes() {
        let r = redirect_to_client("http://127.0.0.1:3000/cb?x=1", &[("code", "a b&c")]);
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()[header::LOCATION],
            "http://127.0.0.1:3000/cb?x=1&code=a+b%26c"
        );
    }

    #[test]
    fn pages_refuse_framing() {
        let r = error_page(StatusCode::BAD_REQUEST, "t<", "d");
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
    }
}
