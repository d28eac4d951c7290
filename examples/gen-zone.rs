//! Writes a realistic, deterministic `.se`-style zone for benchmarks (issue 5).
//!
//! ```sh
//! cargo run --release --example gen-zone -- --delegations 100000 --seed 1 --out se-100k.zone
//! ```
//!
//! The zone: apex SOA (MINIMUM 7200) and NS with in-zone A/AAAA for the apex servers, then
//! N delegations in random (registry-dump) order, each with 2–3 NS; about 20 % of them
//! have in-bailiwick name servers with A/AAAA glue, the rest point at a pool of hosting
//! providers' name servers; about half carry 1–2 DS records (algorithms 8 and 13, SHA-256).
//! Labels vary in length (1–63, mostly 4–14), some are IDNs (`xn--`). The same seed gives
//! the same bytes.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const USAGE: &str = "usage: gen-zone --delegations N [--seed S] [--out FILE]";

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

/// What to generate.
pub struct Opts {
    /// Number of delegations.
    pub delegations: usize,
    /// Seed of the random generator.
    pub seed: u64,
    /// Output file; stdout when absent.
    pub out: Option<String>,
}

/// The zone text for `delegations` and `seed` (used by the Criterion benches).
#[allow(dead_code)]
pub fn zone_text(delegations: usize, seed: u64) -> Vec<u8> {
    let opts = Opts {
        delegations,
        seed,
        out: None,
    };
    let mut text = Vec::with_capacity(delegations * 200);
    // Writing into a Vec cannot fail.
    let _ = write_zone(&opts, &mut text);
    text
}

fn parse_args() -> Result<Opts, String> {
    let mut opts = Opts {
        delegations: 0,
        seed: 1,
        out: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value; {USAGE}"));
        match a.as_str() {
            "--delegations" | "-n" => {
                opts.delegations = value()?
                    .parse()
                    .map_err(|e| format!("--delegations: {e}"))?
            }
            "--seed" => opts.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--out" | "-o" => opts.out = Some(value()?),
            "--help" | "-h" => return Err(USAGE.to_string()),
            _ => return Err(format!("unknown argument {a}; {USAGE}")),
        }
    }
    if opts.delegations == 0 {
        return Err(USAGE.to_string());
    }
    Ok(opts)
}

/// A random LDH label: letters and digits, inner hyphens now and then, never `--` at
/// positions 3–4 (reserved for `xn--`).
fn ldh_label(rng: &mut StdRng, len: usize, out: &mut String) {
    for i in 0..len {
        let hyphen_ok = i > 0 && i + 1 < len && i != 2 && i != 3 && !out.ends_with('-');
        if hyphen_ok && rng.random_range(0..14) == 0 {
            out.push('-');
        } else {
            out.push(ALNUM[rng.random_range(0..ALNUM.len())] as char);
        }
    }
}

/// A delegation label with a realistic length spread.
fn delegation_label(rng: &mut StdRng) -> String {
    let mut s = String::with_capacity(24);
    let roll = rng.random_range(0..100);
    if roll < 3 {
        // IDN: xn--<basic letters>-<punycode tail>.
        s.push_str("xn--");
        let basic = rng.random_range(2..12);
        for _ in 0..basic {
            s.push(LETTERS[rng.random_range(0..LETTERS.len())] as char);
        }
        s.push('-');
        let tail = rng.random_range(3..7);
        for _ in 0..tail {
            s.push(ALNUM[rng.random_range(0..ALNUM.len())] as char);
        }
        return s;
    }
    let len = match roll {
        3..5 => rng.random_range(1..4),
        5..85 => rng.random_range(4..15),
        85..98 => rng.random_range(15..30),
        _ => rng.random_range(30..64),
    };
    ldh_label(rng, len, &mut s);
    s
}

fn ipv4(rng: &mut StdRng) -> String {
    format!(
        "{}.{}.{}.{}",
        rng.random_range(1..224u8),
        rng.random_range(0..=255u8),
        rng.random_range(0..=255u8),
        rng.random_range(1..255u8)
    )
}

fn ipv6(rng: &mut StdRng) -> String {
    format!(
        "2001:{:x}:{:x}:{:x}::{:x}",
        rng.random_range(0x100..0xfff0u16),
        rng.random_range(0..=0xffffu16),
        rng.random_range(0..=0xffffu16),
        rng.random_range(1..=0xffffu16)
    )
}

fn hex(rng: &mut StdRng, bytes: usize, out: &mut String) {
    const HEX: &[u8] = b"0123456789ABCDEF";
    for _ in 0..bytes * 2 {
        out.push(HEX[rng.random_range(0..16)] as char);
    }
}

/// Writes the zone to `w`.
pub fn write_zone(opts: &Opts, w: &mut dyn Write) -> io::Result<()> {
    let mut rng = StdRng::seed_from_u64(opts.seed);
    writeln!(
        w,
        "; .se-style benchmark zone: {} delegations, seed {}\n$ORIGIN se.\n$TTL 86400",
        opts.delegations, opts.seed
    )?;
    writeln!(
        w,
        "@\t86400\tIN\tSOA\tcatcher-in-the-rye.nic.se. registry-default.nic.se. ( 2026112501 1800 1800 864000 7200 )"
    )?;
    let apex_ns = ["a.ns.se.", "b.ns.se.", "c.ns.se.", "f.ns.se.", "g.ns.se."];
    for ns in apex_ns {
        writeln!(w, "@\t172800\tIN\tNS\t{ns}")?;
    }
    for ns in apex_ns {
        let host = ns.trim_end_matches(".se.");
        writeln!(w, "{host}\t172800\tIN\tA\t{}", ipv4(&mut rng))?;
        writeln!(w, "{host}\t172800\tIN\tAAAA\t{}", ipv6(&mut rng))?;
    }
    // Hosting providers' name servers, shared by many delegations (out of bailiwick).
    let providers: Vec<String> = (0..(opts.delegations / 50).clamp(20, 5000))
        .map(|i| {
            let mut p = String::new();
            let len = rng.random_range(4..12);
            ldh_label(&mut rng, len, &mut p);
            let tld = ["com", "net", "se", "eu", "nu", "org"][i % 6];
            format!("{p}.{tld}.")
        })
        .collect();
    let mut seen: HashSet<String> = HashSet::with_capacity(opts.delegations);
    for n in ["ns", "nic", "a", "b", "c", "f", "g"] {
        seen.insert(n.to_string());
    }
    let mut line = String::with_capacity(512);
    let mut made = 0;
    // Providers under .se are delegations of this zone too, with their glue (so the
    // out-of-bailiwick NS of other delegations that point at them are not lame).
    for p in providers.iter().filter(|p| p.ends_with(".se.")) {
        let label = p.trim_end_matches(".se.");
        if made == opts.delegations || !seen.insert(label.to_string()) {
            continue;
        }
        made += 1;
        line.clear();
        for i in 1..=3 {
            line.push_str(&format!("{label}\tIN\tNS\tns{i}.{label}\n"));
        }
        for i in 1..=3 {
            line.push_str(&format!("ns{i}.{label}\tIN\tA\t{}\n", ipv4(&mut rng)));
            line.push_str(&format!("ns{i}.{label}\tIN\tAAAA\t{}\n", ipv6(&mut rng)));
        }
        w.write_all(line.as_bytes())?;
    }
    while made < opts.delegations {
        let label = delegation_label(&mut rng);
        if !seen.insert(label.clone()) {
            continue;
        }
        made += 1;
        line.clear();
        let ns_count = rng.random_range(2..=3);
        let in_bailiwick = rng.random_range(0..100) < 20;
        if in_bailiwick {
            for i in 1..=ns_count {
                line.push_str(&format!("{label}\tIN\tNS\tns{i}.{label}\n"));
            }
            for i in 1..=ns_count {
                line.push_str(&format!("ns{i}.{label}\tIN\tA\t{}\n", ipv4(&mut rng)));
                if rng.random_bool(0.6) {
                    line.push_str(&format!("ns{i}.{label}\tIN\tAAAA\t{}\n", ipv6(&mut rng)));
                }
            }
        } else {
            let p = &providers[rng.random_range(0..providers.len())];
            for i in 1..=ns_count {
                line.push_str(&format!("{label}\tIN\tNS\tns{i}.{p}\n"));
            }
        }
        if rng.random_bool(0.5) {
            let ds_count = if rng.random_bool(0.3) { 2 } else { 1 };
            for _ in 0..ds_count {
                let alg = if rng.random_bool(0.5) { 8 } else { 13 };
                line.push_str(&format!(
                    "{label}\t3600\tIN\tDS\t{} {alg} 2 ",
                    rng.random_range(1..=65535u16)
                ));
                hex(&mut rng, 32, &mut line);
                line.push('\n');
            }
        }
        w.write_all(line.as_bytes())?;
    }
    w.flush()
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let result = match &opts.out {
        Some(path) => File::create(path)
            .and_then(|f| write_zone(&opts, &mut BufWriter::with_capacity(1 << 20, f))),
        None => {
            let stdout = io::stdout();
            write_zone(&opts, &mut BufWriter::with_capacity(1 << 20, stdout.lock()))
        }
    };
    if let Err(e) = result {
        eprintln!("gen-zone: {e}");
        std::process::exit(4);
    }
}
