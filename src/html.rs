//! report.html: report.md as one self-contained page for e-mail, every embedded chart inline
//! as a PNG data URI, with a small style sheet and nothing fetched from elsewhere.

use std::collections::BTreeMap;

use base64::Engine;
use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag};

const STYLE: &str =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:72rem;\
margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}\
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}\
th,td{border:1px solid #ccc;padding:.25rem .5rem;vertical-align:top}th{background:#f3f3f3}\
img{max-width:100%;height:auto;display:block;margin:1rem 0}\
blockquote{border-left:4px solid #ccc;margin:1rem 0;padding:.25rem 1rem;color:#555}\
code{font-size:.9em}";

/// The page for `markdown` titled `title`; images whose source is a key of `images` (PNG bytes)
/// are inlined, and links to other written files are kept as they are.
pub fn report_html(markdown: &str, title: &str, images: &BTreeMap<String, Vec<u8>>) -> String {
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|ev| match ev {
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let dest_url = match images.get(dest_url.as_ref()) {
                Some(png) => CowStr::from(format!(
                    "data:image/png;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(png)
                )),
                None => dest_url,
            };
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            })
        }
        // Scenario text is data, not markup: raw HTML in it is shown, never interpreted.
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        other => other,
    });
    let mut body = String::new();
    html::push_html(&mut body, parser);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
