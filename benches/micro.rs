//! Criterion micro-benchmarks of the hot pieces, so a regression shows up in isolation:
//! `cargo bench --bench micro` (add `-- --quick` for a short run). Whole-process speed
//! against peers is `benches/run.sh`; these are for finding where the time goes.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mailspec::mime::{encode, header};
use mailspec::plan::{Body, Source};
use mailspec::{CompiledSpec, DirLoader, RenderOptions, compile_path, render};

fn order() -> (CompiledSpec, serde_json::Map<String, serde_json::Value>) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let c = match compile_path(&root.join("specs/order-confirmation.yaml")) {
        Ok(c) => c,
        Err((s, d)) => panic!("{}", s.render(&d)),
    };
    let text = std::fs::read_to_string(root.join("specs/shop/data/orders.json")).expect("orders");
    let all: Vec<serde_json::Value> = serde_json::from_str(&text).expect("json");
    let first = all[0].as_object().cloned().expect("a record");
    let record = c.record(first).expect("valid");
    (c, record)
}

fn benches(cr: &mut Criterion) {
    let (c, record) = order();
    let opts = RenderOptions {
        date: chrono::DateTime::parse_from_rfc3339("2024-06-15T10:00:00Z").ok(),
        ..Default::default()
    };
    let assets = DirLoader::new(c.dir.clone());
    cr.bench_function("render one order confirmation (templates + emit)", |b| {
        b.iter(|| render(&c, black_box(&record), 1, &assets, &opts).expect("renders"))
    });

    let Body::Shorthand {
        html: Some(html), ..
    } = &c.plan.body
    else {
        panic!("the order confirmation has an html part");
    };
    let Source::Template(t) = &html.source else {
        panic!("its html is a template");
    };
    let ctx = minijinja::Value::from(minijinja::value::Serde(&record));
    cr.bench_function("template: order confirmation html", |b| {
        b.iter(|| {
            c.templates
                .render(t.value.flavor, &t.value.name, black_box(&ctx))
        })
    });
    let page = c
        .templates
        .render(t.value.flavor, &t.value.name, &ctx)
        .expect("renders");
    cr.bench_function("quoted-printable: rendered html", |b| {
        b.iter(|| encode::encode_quoted_printable(black_box(page.as_bytes()), true))
    });
    let pdf: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    cr.bench_function("base64: 20 KB", |b| {
        b.iter(|| encode::encode_base64(black_box(&pdf)))
    });
    let subject =
        "Confirmación de tu pedido ES-100183 — gracias por comprar en Olivo, María ".repeat(3);
    cr.bench_function("header: fold an encoded subject", |b| {
        b.iter(|| header::unstructured("Subject", black_box(&subject), false))
    });
}

criterion_group!(micro, benches);
criterion_main!(micro);
