//! The language's reach (issue 9): templates chosen per record, parts repeated over a list,
//! recipients and message ids from list fields. Each test fails without its construct.

use std::path::Path;

use mail_parser::{MessageParser, MimeHeaders};
use mailspec::diag::Code;
use mailspec::{CompiledSpec, DirLoader, RenderOptions, compile_path, render};
use serde_json::{Value, json};

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

fn compile(dir: &Path, spec: &str) -> CompiledSpec {
    write(dir, "spec.yaml", spec);
    match compile_path(&dir.join("spec.yaml")) {
        Ok(c) => c,
        Err((s, d)) => panic!("does not compile:\n{}", s.render(&d)),
    }
}

fn run(c: &CompiledSpec, v: Value) -> Result<mailspec::EmittedMessage, Vec<mailspec::Error>> {
    let rec = c
        .record(v.as_object().cloned().expect("object"))
        .expect("valid record");
    let opts = RenderOptions {
        date: chrono::DateTime::parse_from_rfc3339("2024-06-01T10:00:00Z").ok(),
        ..Default::default()
    };
    render(c, &rec, 1, &DirLoader::new(&c.dir), &opts)
}

const CHOICE: &str = r#"mailspec: 1
data:
  key: id
  fields:
    id: { type: string }
    email: { type: email }
    lang: { type: string }
    name: { type: string }
message:
  from: shop@example.com
  to: "{{ email }}"
  subject: News
  text:
    template:
      by: lang
      cases: { es: news.es.txt.j2, pt: news.pt.txt.j2 }
"#;

#[test]
fn a_template_chosen_by_a_field_is_checked_in_every_case() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    write(dir, "news.es.txt.j2", "Hola {{ name }}\n");
    write(dir, "news.pt.txt.j2", "Olá {{ name }}\n");
    write(dir, "news.en.txt.j2", "Hello {{ name }}\n");
    let c = compile(dir, CHOICE);
    let body = |lang: &str| {
        let m = run(
            &c,
            json!({ "id": "1", "email": "a@example.com", "lang": lang, "name": "Ana" }),
        );
        let m = m.expect("renders");
        let p = MessageParser::default().parse(&m.bytes).expect("parses");
        p.body_text(0).map(|t| t.into_owned())
    };
    assert_eq!(body("es").as_deref(), Some("Hola Ana\r\n"));
    assert_eq!(body("pt").as_deref(), Some("Olá Ana\r\n"));
    // No case and no default: the record is refused, naming the field.
    let errs = run(
        &c,
        json!({ "id": "1", "email": "a@example.com", "lang": "fr", "name": "A" }),
    )
    .expect_err("no template for fr");
    assert_eq!(errs[0].kind, Code::DataType);
    assert_eq!(errs[0].field.as_deref(), Some("lang"));
    // With a default, any other value uses it.
    let with_default = CHOICE.replace(
        "cases: { es: news.es.txt.j2, pt: news.pt.txt.j2 }",
        "cases: { es: news.es.txt.j2, pt: news.pt.txt.j2 }\n      default: news.en.txt.j2",
    );
    let c = compile(dir, &with_default);
    let m = run(
        &c,
        json!({ "id": "1", "email": "a@example.com", "lang": "fr", "name": "Ana" }),
    )
    .expect("renders the default");
    assert!(String::from_utf8_lossy(&m.bytes).contains("Hello Ana"));
    // A mistake in a case no sample uses is still found by check, at its line.
    write(dir, "news.pt.txt.j2", "Olá {{ nome }}\n");
    let (sources, diags) = compile_path(&dir.join("spec.yaml")).expect_err("undeclared");
    let d = diags
        .iter()
        .find(|d| d.code == Code::TemplateUndefinedVariable)
        .unwrap_or_else(|| panic!("{}", sources.render(&diags)));
    let (file, line, col) = sources.position(d).expect("located");
    assert!(file.ends_with("news.pt.txt.j2"), "{file}");
    assert_eq!((line, col), (1, 8));
}

const REPEAT: &str = r#"mailspec: 1
data:
  key: id
  fields:
    id: { type: string }
    email: { type: email }
    items:
      type: list
      items: { type: object, fields: { sku: { type: string }, image: { type: string } } }
message:
  from: shop@example.com
  to: "{{ email }}"
  subject: Cart
  html:
    content: |
      {% for item in items %}{% if not loop.last %}<img src="cid:p-{{ item.sku }}">{% endif %}{% endfor %}
  inline:
    - for_each: items
      cid: "p-{{ item.sku }}"
      file: "img/{{ item.image }}.png"
"#;

#[test]
fn parts_repeat_over_a_list_and_unreferenced_ones_stay_out() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    write(dir, "img/mug.png", "MUG");
    write(dir, "img/oil.png", "OIL");
    let c = compile(dir, REPEAT);
    let m = run(
        &c,
        json!({ "id": "1", "email": "a@example.com", "items": [
            { "sku": "A", "image": "mug" }, { "sku": "A", "image": "mug" },
            { "sku": "B", "image": "oil" }, { "sku": "C", "image": "missing" }
        ] }),
    )
    .expect("renders: the last element's file is never read, as nothing references it");
    let p = MessageParser::default().parse(&m.bytes).expect("parses");
    let html = p.body_html(0).expect("html").into_owned();
    let parts: Vec<(String, Vec<u8>)> = p
        .parts
        .iter()
        .filter_map(|x| Some((x.content_id()?.to_string(), x.contents().to_vec())))
        .collect();
    // Two elements with the same cid are one part; `C` is not referenced, so not included.
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!(parts[0].1, b"MUG");
    assert_eq!(parts[1].1, b"OIL");
    for (id, _) in &parts {
        assert!(html.contains(&format!("cid:{id}")), "{html}");
    }
}

#[test]
fn check_reads_templated_cid_references() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    write(dir, "img/mug.png", "MUG");
    compile(dir, REPEAT);
    // The same HTML without the `for_each` part: check says so, at the HTML.
    let bare = REPEAT.replace(
        "  inline:\n    - for_each: items\n      cid: \"p-{{ item.sku }}\"\n      file: \"img/{{ item.image }}.png\"\n",
        "",
    );
    write(dir, "spec.yaml", &bare);
    let (_, diags) = compile_path(&dir.join("spec.yaml")).expect_err("missing");
    assert!(
        diags.iter().any(|d| d.code == Code::SpecMissingCid),
        "{diags:?}"
    );
    // A literal cid on a `for_each` part would give every element the same Content-ID.
    write(
        dir,
        "spec.yaml",
        &REPEAT.replace("cid: \"p-{{ item.sku }}\"", "cid: p"),
    );
    let (_, diags) = compile_path(&dir.join("spec.yaml")).expect_err("literal cid");
    assert!(diags.iter().any(|d| d.code == Code::SpecPart), "{diags:?}");
}

#[test]
fn recipients_and_message_ids_come_from_list_fields() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let c = compile(
        dir,
        r#"mailspec: 1
data:
  key: id
  fields:
    id: { type: string }
    admins: { type: list, items: { type: string } }
    people:
      type: list
      items: { type: object, fields: { name: { type: string, required: false }, email: { type: email } } }
    thread: { type: list, items: { type: string } }
message:
  from: shop@example.com
  to: "{{ people }}"
  bcc: "{{ admins }}"
  subject: Re
  references: "{{ thread }}"
  text: { content: Hola }
"#,
    );
    let m = run(
        &c,
        json!({ "id": "1", "admins": ["ops@example.com"],
                "people": [{ "name": "Ana, <x@evil.example>", "email": "ana@example.com" }, { "email": "bo@example.com" }],
                "thread": ["<a@x.example>", "b@x.example"] }),
    )
    .expect("renders");
    let p = MessageParser::default().parse(&m.bytes).expect("parses");
    let to: Vec<(Option<String>, Option<String>)> = p
        .to()
        .and_then(|a| a.as_list())
        .expect("to")
        .iter()
        .map(|a| {
            (
                a.name().map(str::to_string),
                a.address().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        to,
        [
            (
                Some("Ana, <x@evil.example>".to_string()),
                Some("ana@example.com".to_string())
            ),
            (None, Some("bo@example.com".to_string())),
        ],
        "a name from data never adds an address"
    );
    let rcpt: Vec<String> = m.envelope.to.iter().map(ToString::to_string).collect();
    assert_eq!(
        rcpt,
        ["ana@example.com", "bo@example.com", "ops@example.com"]
    );
    let text = String::from_utf8_lossy(&m.bytes);
    assert!(
        text.contains("\r\nReferences: <a@x.example> <b@x.example>\r\n"),
        "{text}"
    );
    // A bad element refuses the record, naming it (here a `string` list, so the address parser
    // at render is the one that refuses it; an `email` list is refused earlier, as a type).
    let errs = run(
        &c,
        json!({ "id": "1", "admins": ["ops@example.com", "not an address"], "people": [], "thread": [] }),
    )
    .expect_err("bad admin");
    assert_eq!(errs[0].kind, Code::DataAddress);
    assert_eq!(errs[0].field.as_deref(), Some("admins.1"));
}
