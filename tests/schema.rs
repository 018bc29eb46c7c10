//! The checked-in schema and the README reference stay in step with the types.

use crate::util::root;

#[test]
fn checked_in_schema_matches_the_types() {
    let generated = mailspec::schema::schema_json();
    let path = root().join("schema/mailspec.schema.json");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if std::env::var_os("MAILSPEC_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
        return;
    }
    assert!(
        on_disk == generated,
        "schema/mailspec.schema.json is out of date: run `cargo run -- schema > schema/mailspec.schema.json` \
         (or MAILSPEC_UPDATE_SCHEMA=1 cargo test schema)"
    );
}

#[test]
fn schema_is_draft_2020_12() {
    let v: serde_json::Value =
        serde_json::from_str(&mailspec::schema::schema_json()).expect("json");
    assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

/// Each schema definition has a section in the README marked `<!-- schema:NAME -->`, and every
/// property of that definition appears there as a table row starting with `` | `key` ``.
#[test]
fn readme_reference_covers_every_key() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let schema: serde_json::Value =
        serde_json::from_str(&mailspec::schema::schema_json()).expect("json");
    let mut defs: Vec<(String, &serde_json::Value)> = vec![("Spec".into(), &schema)];
    if let Some(d) = schema["$defs"].as_object() {
        for (k, v) in d {
            defs.push((k.clone(), v));
        }
    }
    let mut missing = Vec::new();
    for (name, def) in defs {
        let Some(props) = def["properties"].as_object() else {
            continue;
        };
        let marker = format!("<!-- schema:{name} -->");
        let Some(start) = readme.find(&marker) else {
            missing.push(format!("section {marker}"));
            continue;
        };
        let rest = &readme[start + marker.len()..];
        let section = &rest[..rest.find("<!-- schema:").unwrap_or(rest.len())];
        for key in props.keys() {
            if !section.contains(&format!("| `{key}`")) {
                missing.push(format!("{name}.{key}"));
            }
        }
    }
    assert!(missing.is_empty(), "README reference lacks: {missing:?}");
}
