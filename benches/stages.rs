//! Criterion micro-benchmarks of the signing pipeline's stages on a generated
//! 10k-delegation `.se`-style zone (issue 5): parse, canonical sort and grouping, NSEC
//! chain, and the RFC 4034 signed-data building. `cargo bench --bench stages`; under
//! `cargo test --all-targets` each benchmark runs once.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use zonesign::dns::name::Name;
use zonesign::dns::record::Record;
use zonesign::dns::zonefile;
use zonesign::dnssec::rrsig;
use zonesign::zone::nsec;
use zonesign::zone::{Zone, in_nsec_chain, is_signed};

#[path = "../examples/gen-zone.rs"]
#[allow(dead_code, unreachable_pub)]
mod gen_zone;

const DELEGATIONS: usize = 10_000;

fn origin() -> Name {
    Name::parse(b"se.", None).expect("origin")
}

fn records(text: &[u8]) -> Vec<Record> {
    zonefile::parse_bytes(text, Path::new("bench.zone"), &origin())
        .expect("generated zone parses")
        .records
}

fn parse(c: &mut Criterion) {
    let text = gen_zone::zone_text(DELEGATIONS, 1);
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("zonefile::parse_bytes 10k", |b| {
        b.iter(|| records(black_box(&text)))
    });
    g.finish();
}

fn sort(c: &mut Criterion) {
    let recs = records(&gen_zone::zone_text(DELEGATIONS, 1));
    let mut g = c.benchmark_group("sort");
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("Zone::from_records 10k", |b| {
        b.iter_batched(
            || recs.clone(),
            |r| Zone::from_records(origin(), r),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn nsec_chain(c: &mut Criterion) {
    let (zone, _) = Zone::from_records(origin(), records(&gen_zone::zone_text(DELEGATIONS, 1)));
    let mut g = c.benchmark_group("nsec");
    g.throughput(Throughput::Elements(zone.names().len() as u64));
    g.bench_function("nsec::add_chain 10k", |b| {
        b.iter_batched(
            || zone.clone(),
            |mut z| {
                nsec::add_chain(&mut z, 7200);
                z
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn signed_data(c: &mut Criterion) {
    let (mut zone, _) = Zone::from_records(origin(), records(&gen_zone::zone_text(DELEGATIONS, 1)));
    nsec::add_chain(&mut zone, 7200);
    let rrsets = &zone.rrsets;
    let signed: Vec<usize> = zone
        .names()
        .iter()
        .filter(|g| in_nsec_chain(g.kind))
        .flat_map(|g| {
            let kind = g.kind;
            g.range
                .clone()
                .filter(move |&i| is_signed(kind, rrsets[i].rtype))
        })
        .collect();
    let signer = origin();
    let mut g = c.benchmark_group("signed_data");
    g.throughput(Throughput::Elements(signed.len() as u64));
    g.bench_function(
        "rrsig::write_prefix + signed_data, all signed RRsets 10k",
        |b| {
            let mut buf = Vec::with_capacity(4096);
            let mut prefix = Vec::with_capacity(256);
            b.iter(|| {
                let mut total = 0;
                for &i in &signed {
                    let set = &zone.rrsets[i];
                    let labels = set.owner.label_count() as u8;
                    prefix.clear();
                    rrsig::write_prefix(
                        &mut prefix,
                        set.rtype,
                        5,
                        labels,
                        set.ttl,
                        1_800_000_000,
                        1_798_000_000,
                        12345,
                        &signer,
                    );
                    buf.clear();
                    rrsig::signed_data(&prefix, labels, set.ttl, set, &mut buf);
                    total += buf.len();
                }
                black_box(total)
            })
        },
    );
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = stages;
    config = config();
    targets = parse, sort, nsec_chain, signed_data
}
criterion_main!(stages);
