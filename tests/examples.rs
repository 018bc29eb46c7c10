//! Every bundled example spec checks clean, renders its sample records, and the bytes are
//! well-formed, parse with an independent parser, and are identical on a second render.

use mailspec::batch::{self, BatchOptions};
use mailspec::render::EmittedMessage;
use mailspec::sink::Sink;

use crate::util::{example_specs, rel};

struct Collect(Vec<EmittedMessage>);

impl Sink for Collect {
    fn accept(&mut self, _: usize, m: &EmittedMessage) -> std::io::Result<String> {
        self.0.push(m.clone());
        Ok(String::new())
    }
}

fn render_sample(path: &std::path::Path) -> Vec<EmittedMessage> {
    let c = match mailspec::spec::compile_path(path) {
        Ok(c) => c,
        Err((s, d)) => panic!("{} does not compile:\n{}", rel(path), s.render(&d)),
    };
    let sample = c
        .spec
        .data
        .sample
        .as_ref()
        .unwrap_or_else(|| panic!("{} has no sample", rel(path)));
    let items = c.open_records(sample).expect("sample opens");
    let opts = BatchOptions {
        render: mailspec::render::RenderOptions {
            date: chrono::DateTime::parse_from_rfc3339("2024-06-01T10:00:00+02:00").ok(),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut sink = Collect(Vec::new());
    let mut failures = Vec::new();
    let assets = mailspec::assets::DirLoader::new(c.dir.clone());
    batch::run(&c, items, &opts, &assets, &mut sink, &mut |r| {
        if r.status != batch::Status::Ok {
            failures.push(format!("{:?}", r));
        }
    })
    .expect("no I/O error");
    assert!(failures.is_empty(), "{}: {failures:#?}", rel(path));
    sink.0
}

/// RFC 5322 §2.1, §2.1.1: CRLF only, no line over 998 octets.
pub fn assert_wire_format(bytes: &[u8], what: &str) {
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            assert!(
                i > 0 && bytes[i - 1] == b'\r',
                "{what}: bare LF at byte {i}"
            );
        }
        if b == b'\r' {
            assert!(
                bytes.get(i + 1) == Some(&b'\n'),
                "{what}: bare CR at byte {i}"
            );
        }
        assert!(b != 0, "{what}: NUL at byte {i}");
    }
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        assert!(
            line.len() <= 999,
            "{what}: line {} is {} octets",
            n + 1,
            line.len() - 1
        );
    }
}

#[test]
fn examples_render_well_formed_and_deterministic() {
    let specs = example_specs();
    assert!(!specs.is_empty());
    for path in specs {
        let first = render_sample(&path);
        let second = render_sample(&path);
        assert!(!first.is_empty(), "{}: no messages", rel(&path));
        for (a, b) in first.iter().zip(&second) {
            let what = format!("{} record {}", rel(&path), a.key);
            assert_eq!(a.bytes, b.bytes, "{what}: not deterministic");
            assert_wire_format(&a.bytes, &what);
            let parsed = mail_parser::MessageParser::default()
                .parse(&a.bytes)
                .unwrap_or_else(|| panic!("{what}: mail-parser cannot parse it"));
            assert!(parsed.from().is_some(), "{what}: no From");
            assert!(parsed.date().is_some(), "{what}: no Date");
            assert_eq!(parsed.message_id(), Some(a.message_id.as_str()), "{what}");
            assert!(parsed.header("Bcc").is_none(), "{what}: Bcc written");
        }
    }
}

/// Editors complete and flag keys from the schema named on the first line.
#[test]
fn every_spec_names_the_schema_on_its_first_line() {
    let mut specs = example_specs();
    specs.push(crate::util::root().join("tests/adversarial/spec.yaml"));
    for path in specs {
        let text = std::fs::read_to_string(&path).expect("read");
        let first = text.lines().next().unwrap_or("");
        let ok = first.starts_with("# yaml-language-server: $schema=")
            && first.ends_with("schema/mailspec.schema.json");
        assert!(ok, "{}: first line is `{first}`", rel(&path));
        let schema = first.trim_start_matches("# yaml-language-server: $schema=");
        let target = path.parent().expect("parent").join(schema);
        assert!(
            target.exists(),
            "{}: `{schema}` does not resolve",
            rel(&path)
        );
    }
}
