//! Plain text derived from rendered HTML, with html2text.
//!
//! Input: one rendered (and CSS-inlined) HTML part. Output: the text of a `text/plain`
//! alternative (RFC 2046 §5.1.4) that says the same thing:
//!
//! - every link is kept: the link text stays in place, marked `[text][n]`, and the URLs are
//!   listed at the end as `[n]: https://...` footnotes (a URL in the flow of a sentence is
//!   unreadable, and a text part without the URLs is useless);
//! - tables become lines (a data table keeps its columns side by side, without borders); a
//!   table of one column is layout, not data, and reads as the blocks it holds;
//! - images show their `alt` text; an image without one is left out;
//! - no HTML entity is left (`&amp;` is `&`), no markup, no hidden content (anything styled
//!   `display: none`, such as an inbox preheader, and conditional comments);
//! - lines of at most 78 characters except for long words and URLs, which are never broken;
//!   no trailing white space, no run of more than one blank line, one final newline.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use html2text::render::PlainDecorator;
use html2text::{Element, Handle, local_name};

/// html2text's DOM node (its module is private; the type is reached through [`Handle`], an
/// `Rc` of it; html2text is pinned exactly, so this shape cannot change under us).
type DomNode = <Handle as std::ops::Deref>::Target;

/// Width of the derived text (RFC 5322 §2.1.1: lines SHOULD be at most 78 characters).
pub const WIDTH: usize = 78;

/// Narrowest table column: a price (`$ 37.000,00`, `1.234.567,50 €`) or a short word is never
/// broken. html2text lets a column shrink to this width whatever its longest word, and gives
/// the rest to the columns with the most text (an order line's description).
const MIN_COLUMN: usize = 16;

/// Why no text could be derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("deriving the text part from the HTML failed: {0}")]
pub struct TextError(pub String);

fn config() -> html2text::config::Config<PlainDecorator> {
    html2text::config::with_decorator(PlainDecorator::new())
        .link_footnotes(true)
        .use_doc_css()
        .no_table_borders()
        .min_wrap_width(MIN_COLUMN)
        .no_link_wrapping()
        .allow_width_overflow()
}

/// Characters that only exist to pad or hide text in HTML mail (zero-width and invisible
/// fillers used after preheaders); they mean nothing in plain text.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{034F}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// Tidies html2text's output: no invisible fillers, no trailing white space, at most one blank
/// line in a row, no blank lines at either end, one final newline.
fn tidy(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut blank = 0usize;
    for line in raw.lines() {
        let line: String = line.chars().filter(|c| !invisible(*c)).collect();
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() && blank > 0 {
            out.push('\n');
        }
        blank = 0;
        out.push_str(&unwrap_image_links(line));
        out.push('\n');
    }
    out
}

/// A linked image renders as `[[alt]][1]` (the image's `[alt]` inside the link's brackets):
/// written `[alt][1]`, like any other link.
fn unwrap_image_links(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("[[") {
        out.push_str(&rest[..i]);
        let inner = &rest[i + 2..];
        match inner.find("]][") {
            Some(j) if !inner[..j].contains(['[', ']']) => {
                out.push('[');
                out.push_str(&inner[..j]);
                out.push_str("][");
                rest = &inner[j + 3..];
            }
            _ => {
                out.push_str("[[");
                rest = inner;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The plain text of `html`.
///
/// # Errors
/// [`TextError`] when html2text cannot lay the document out.
pub fn from_html(html: &str) -> Result<String, TextError> {
    let fail = |e: html2text::Error| TextError(e.to_string());
    let config = config();
    let dom = config.parse_html(html.as_bytes()).map_err(fail)?;
    unwrap_layout_tables(&dom.document);
    let tree = config.dom_to_render_tree(&dom).map_err(fail)?;
    let raw = config.render_to_string(tree, WIDTH).map_err(fail)?;
    Ok(merge_footnotes(tidy(&raw)))
}

/// One footnote line, `[n]: URL`.
fn footnote(line: &str) -> Option<(usize, &str)> {
    let (n, url) = line.strip_prefix('[')?.split_once("]: ")?;
    Some((n.parse().ok()?, url))
}

/// html2text numbers every link, so a URL linked twice (the body's "Go to my account" and the
/// footer's "My account") was listed twice. Each URL keeps the number of its first link, and
/// the numbers stay consecutive. The text is left as it is unless each marker `][n]` is found
/// exactly once (a marker split by a narrow table column must not end up naming another URL).
fn merge_footnotes(text: String) -> String {
    let lines: Vec<&str> = text.lines().collect();
    // The footnotes are the last block, after the last blank line.
    let start = lines
        .iter()
        .rposition(|l| l.is_empty())
        .map_or(0, |i| i + 1);
    let Some(notes) = lines[start..]
        .iter()
        .map(|l| footnote(l))
        .collect::<Option<Vec<_>>>()
    else {
        return text;
    };
    if notes.iter().enumerate().any(|(i, (n, _))| *n != i + 1) {
        return text;
    }
    let mut urls: Vec<&str> = Vec::new();
    // The new number of footnote `n`, at `n - 1`.
    let mut number = Vec::with_capacity(notes.len());
    for (_, url) in &notes {
        let at = urls.iter().position(|u| u == url).unwrap_or_else(|| {
            urls.push(url);
            urls.len() - 1
        });
        number.push(at + 1);
    }
    if urls.len() == notes.len() {
        return text;
    }
    let mut seen = vec![0usize; notes.len()];
    let mut out = renumber_markers(&lines[..start].join("\n"), &number, &mut seen);
    if seen.iter().any(|&c| c != 1) {
        return text;
    }
    out.push('\n');
    for (i, url) in urls.iter().enumerate() {
        out.push_str(&format!("[{}]: {url}\n", i + 1));
    }
    out
}

/// `body` with each link marker `][n]` written `][number[n - 1]]`, counting in `seen` how
/// often each `n` was found.
fn renumber_markers(body: &str, number: &[usize], seen: &mut [usize]) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = rest.find("][") {
        out.push_str(&rest[..i + 2]);
        rest = &rest[i + 2..];
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let old = rest[..digits]
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=number.len()).contains(n) && rest[digits..].starts_with(']'));
        if let Some(n) = old {
            seen[n - 1] += 1;
            out.push_str(&number[n - 1].to_string());
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// Mail HTML is laid out with tables, most of them one column wide: a header row, a content
/// row, a footer row. html2text renders each table row in a box of its own and drops the
/// blank line between rows, so the heading sticks to the logo and the footer to the last
/// paragraph. A table whose rows have one cell each is layout, not data: each cell becomes a
/// `div` in the table's place, and its paragraphs are spaced like any others. Tables of two or
/// more columns (an order's lines, label and value side by side) stay tables.
fn unwrap_layout_tables(root: &Handle) {
    // Every node in document order, without recursion (templates can nest deeply); then
    // handled in reverse, so a cell's content is final before the cell is moved.
    let mut order = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(node) = stack.pop() {
        stack.extend(node.children.borrow().iter().cloned());
        order.push(node);
    }
    for node in order.iter().rev() {
        if !node
            .children
            .borrow()
            .iter()
            .any(|c| tag(c) == Some("table"))
        {
            continue;
        }
        let children = node.children.take();
        let mut out = Vec::with_capacity(children.len());
        for child in children {
            match layout_cells(&child) {
                Some(cells) => out.extend(cells.iter().map(as_div)),
                None => out.push(child),
            }
        }
        *node.children.borrow_mut() = out;
    }
}

/// `node`'s local name, when it is an element.
fn tag(node: &Handle) -> Option<&str> {
    match &node.data {
        Element { name, .. } => Some(&name.local),
        _ => None,
    }
}

/// The element children of `node` named `names`.
fn elements(node: &Handle, names: &[&str]) -> Vec<Handle> {
    node.children
        .borrow()
        .iter()
        .filter(|c| tag(c).is_some_and(|t| names.contains(&t)))
        .cloned()
        .collect()
}

/// The cells of a table whose every row has at most one cell (rows directly in the table or in
/// `thead`, `tbody`, `tfoot`, as HTML's table model has them); `None` for anything else.
fn layout_cells(node: &Handle) -> Option<Vec<Handle>> {
    if tag(node)? != "table" {
        return None;
    }
    let mut rows = elements(node, &["tr"]);
    for g in elements(node, &["thead", "tbody", "tfoot"]) {
        rows.extend(elements(&g, &["tr"]));
    }
    let mut cells = Vec::new();
    for row in rows {
        let row_cells = elements(&row, &["td", "th"]);
        if row_cells.len() > 1 {
            return None;
        }
        cells.extend(row_cells);
    }
    Some(cells)
}

/// A `div` with the cell's attributes (its `style`, so `display: none` still hides it) and
/// its children.
fn as_div(cell: &Handle) -> Handle {
    let Element { name, attrs, .. } = &cell.data else {
        return cell.clone();
    };
    let mut name = name.clone();
    name.local = local_name!("div");
    Rc::new(DomNode {
        parent: Cell::new(None),
        children: RefCell::new(cell.children.take()),
        data: Element {
            name,
            attrs: RefCell::new(attrs.borrow().clone()),
            template_contents: RefCell::new(None),
            mathml_annotation_xml_integration_point: false,
        },
    })
}

/// The `href` targets of the links in `html` that a reader can follow (`http:`, `https:`,
/// `mailto:`), in document order, entities decoded. Used to check that a text part carries
/// every link of its HTML.
pub fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    while let Some(i) = lower[at..].find("href=") {
        let start = at + i + 5;
        let Some(q) = html[start..].chars().next() else {
            break;
        };
        let (body_start, end) = if q == '"' || q == '\'' {
            let Some(len) = html[start + 1..].find(q) else {
                break;
            };
            (start + 1, start + 1 + len)
        } else {
            let len = html[start..]
                .find(|c: char| c.is_whitespace() || c == '>')
                .unwrap_or(html.len() - start);
            (start, start + len)
        };
        let href = decode_entities(html[body_start..end].trim());
        let l = href.to_ascii_lowercase();
        if l.starts_with("http:") || l.starts_with("https:") || l.starts_with("mailto:") {
            out.push(href);
        }
        at = end;
    }
    out
}

/// Decodes the entities that appear in attribute values (`&amp;` and numeric ones); enough for
/// URLs.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(semi) = rest.find(';').filter(|&n| n <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..semi];
        let decoded = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            n if n.starts_with("#x") || n.starts_with("#X") => u32::from_str_radix(&n[2..], 16)
                .ok()
                .and_then(char::from_u32),
            n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_become_footnotes_and_entities_are_decoded() {
        let html = r#"<p>Hola&nbsp;Ana &amp; Bob, mira <a href="https://olivo.example/s?a=1&amp;b=2">la tienda</a>
o <a href="mailto:ayuda@olivo.example">escríbenos</a>. &lt;3 &#8364;</p>"#;
        let text = from_html(html).unwrap();
        assert!(text.contains("[la tienda][1]"), "{text}");
        assert!(
            text.contains("[1]: https://olivo.example/s?a=1&b=2"),
            "{text}"
        );
        assert!(text.contains("[2]: mailto:ayuda@olivo.example"), "{text}");
        assert!(text.contains("Ana & Bob"), "{text}");
        assert!(text.contains("<3 €"), "{text}");
        assert!(!text.contains("&amp;") && !text.contains("&nbsp;") && !text.contains("&#"));
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
    }

    #[test]
    fn linked_images_read_like_links() {
        let html = r#"<a href="https://olivo.example/"><img src="cid:logo" alt="Olivo"></a>"#;
        assert_eq!(
            from_html(html).unwrap(),
            "[Olivo][1]\n\n[1]: https://olivo.example/\n"
        );
        assert_eq!(
            unwrap_image_links("a [[b] c]][2] [[x]][3]"),
            "a [[b] c]][2] [x][3]"
        );
    }

    #[test]
    fn hidden_content_and_comments_are_left_out() {
        let html = r#"<html><body><div style="display:none;max-height:0">Preheader text&#847;&#8199;</div>
<!--[if mso]><p>Outlook only</p><![endif]--><p>Visible</p></body></html>"#;
        let text = from_html(html).unwrap();
        assert_eq!(text, "Visible\n");
    }

    #[test]
    fn tables_keep_their_columns_without_borders() {
        let html = "<table><tr><th>Product</th><th>Qty</th><th>Price</th></tr>\
<tr><td>Olive oil 500 ml</td><td>2</td><td>12,50 €</td></tr></table>";
        let text = from_html(html).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("Product") && l.contains("Qty")),
            "{text}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("Olive oil 500 ml") && l.contains("12,50 €")),
            "{text}"
        );
        assert!(!text.contains('│') && !text.contains('─'), "{text}");
    }

    #[test]
    fn one_column_tables_read_as_blocks() {
        let html = r#"<table role="presentation">
<tr><td><a href="https://olivo.example/"><img src="cid:logo" alt="Olivo"></a></td></tr>
<tr><td><h1>Datos actualizados</h1>
  <table><tbody><tr><td><p>Teléfono</p>
    <table><tr><td>Antes</td><td>+34 600 000 123</td></tr>
      <tr><td>Ahora</td><td>+34 600 000 789</td></tr></table></td></tr>
  <tr><td><p>Dirección</p></td></tr></tbody></table>
  <p><a href="https://olivo.example/cuenta">Ir a mi cuenta</a></p></td></tr>
<tr><td style="display:none">Preheader</td></tr>
<tr><td><p>¿Dudas?</p></td></tr></table>"#;
        assert_eq!(
            from_html(html).unwrap(),
            "[Olivo][1]\n\n# Datos actualizados\n\nTeléfono\n\nAntes +34 600 000 123\n\
             Ahora +34 600 000 789\n\nDirección\n\n[Ir a mi cuenta][2]\n\n¿Dudas?\n\n\
             [1]: https://olivo.example/\n[2]: https://olivo.example/cuenta\n"
        );
    }

    #[test]
    fn a_url_linked_twice_is_one_footnote() {
        let html = r#"<p><a href="https://o.example/cuenta">Ir a mi cuenta</a> o
<a href="https://o.example/ayuda">ayuda</a></p>
<p><a href="https://o.example/cuenta">Mi cuenta</a> · <a href="https://o.example/baja">Baja</a></p>"#;
        assert_eq!(
            from_html(html).unwrap(),
            "[Ir a mi cuenta][1] o [ayuda][2]\n\n[Mi cuenta][1] · [Baja][3]\n\n\
             [1]: https://o.example/cuenta\n[2]: https://o.example/ayuda\n\
             [3]: https://o.example/baja\n"
        );
        // A marker split over two lines (a narrow column) leaves the numbers alone.
        let split = "[a][1] [b][\n2] [c][3]\n\n[1]: u\n[2]: v\n[3]: u\n".to_string();
        assert_eq!(merge_footnotes(split.clone()), split);
        // Text without footnotes, or without repeats, is unchanged.
        for t in ["Hola\n", "[a][1]\n\n[1]: u\n", "Hola\n\n[1] no es nota\n"] {
            assert_eq!(merge_footnotes(t.to_string()), t);
        }
    }

    #[test]
    fn deeply_nested_tables_do_not_exhaust_the_stack() {
        let depth = 20_000;
        let html = format!(
            "{}<p>Hola</p>{}",
            "<table><tr><td>".repeat(depth),
            "</td></tr></table>".repeat(depth)
        );
        // html2text gives up on very deep documents with an error; neither may crash.
        let _ = from_html(&html);
    }

    #[test]
    fn prices_in_narrow_columns_are_not_broken() {
        let line = |name: &str, price: &str| {
            format!(
                "<tr><td>{name}<br>Virola de alpaca, hecha a mano en Salta por artesanos \
                 de la zona</td><td>2</td><td>{price}</td></tr>"
            )
        };
        let html = format!(
            "<table><tr><th>Artículo</th><th>Cant.</th><th>Total</th></tr>{}{}</table>",
            line("Mate de calabaza «Don Ñandú»", "$&nbsp;37.000,00"),
            line("Bombilla", "1.234.567,50&nbsp;€")
        );
        let text = from_html(&html).unwrap();
        assert!(text.contains("$\u{a0}37.000,00"), "{text}");
        assert!(text.contains("1.234.567,50\u{a0}€"), "{text}");
    }

    #[test]
    fn long_urls_are_not_broken_and_lines_fit() {
        let url = format!("https://olivo.example/{}", "x".repeat(120));
        let html = format!(
            "<p>{}</p><p><a href=\"{url}\">here</a></p>",
            "palabra ".repeat(40)
        );
        let text = from_html(&html).unwrap();
        assert!(text.contains(&url), "{text}");
        for line in text.lines().filter(|l| !l.contains(&url)) {
            assert!(line.chars().count() <= WIDTH, "{line}");
        }
    }

    #[test]
    fn finds_followable_links() {
        let html = r#"<a href="https://a.example/?x=1&amp;y=2">a</a><a href='mailto:b@c.example'>b</a>
<a href="cid:logo">c</a><a href=#top>d</a><A HREF=http://e.example/>e</A>"#;
        assert_eq!(
            links(html),
            [
                "https://a.example/?x=1&y=2",
                "mailto:b@c.example",
                "http://e.example/"
            ]
        );
    }
}
