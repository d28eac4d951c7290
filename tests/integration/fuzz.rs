//! Fuzzed input (issue 7): at least 100,000 mutated zone files go through the parser
//! (`zonefile::parse_bytes`), the zone checks (as `pipeline::read_and_check` runs them)
//! and the verifier (`pipeline::verify_file` on a mutated signed zone). Never a panic,
//! always an error with a file and a line, bounded time and bounded memory.
//!
//! A small seeded mutator (no extra dependency): byte flips, truncations, huge labels
//! and names, `$INCLUDE` loops, deep chains, include bombs and devices, enormous TTLs,
//! bad base64 and hex, special characters, and random lines spliced from the fixtures.
//!
//! `ZONESIGN_FUZZ_CASES` (default 100000) sets the number of parser cases; the verifier
//! gets one case per 50 of them. `ZONESIGN_FUZZ_SEED` replays a run. A failing case is
//! saved under `target/fuzz-failures/` and named in the panic message.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::*;
use zonesign::dns::name::Name;
use zonesign::dns::zonefile;
use zonesign::dnssec::policy::Policy;
use zonesign::dnssec::verify::{Anchor, VerifyOptions};
use zonesign::ops::pipeline;
use zonesign::zone::Zone;
use zonesign::zone::checks::{self, Findings};

// ---------------------------------------------------------------------------------------
// Memory accounting: a counting allocator with per-thread totals, so the parser's peak
// allocation can be compared with its input size while other tests run in parallel.
// ---------------------------------------------------------------------------------------

struct Counting;

thread_local! {
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn account(delta: isize) {
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + delta;
        c.set(now);
        let _ = PEAK.try_with(|p| {
            if now > p.get() {
                p.set(now)
            }
        });
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the thread-local
// counters are const-initialised `Cell`s, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        account(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its result with the peak bytes it had allocated at once.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = PEAK.with(Cell::get) - base;
    (out, peak.max(0) as usize)
}

/// The memory bound: 64 times what the parser read, plus a fixed allowance for
/// buffers every parse makes (token vectors, the RDATA scratch, path names).
const MEMORY_FACTOR: usize = 64;
const MEMORY_SLACK: usize = 256 * 1024;
/// No single case may take longer than this (a hang shows up as a slow case).
const SLOW_CASE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------
// The mutator
// ---------------------------------------------------------------------------------------

/// xorshift64*: small, fast, seedable (also the differential test's generator).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub(crate) fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    pub(crate) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Inputs to start from: the fixtures (good and bad), and their lines for splicing.
struct Corpus {
    files: Vec<(Vec<u8>, &'static str)>,
    lines: Vec<Vec<u8>>,
}

fn corpus() -> &'static Corpus {
    static C: OnceLock<Corpus> = OnceLock::new();
    C.get_or_init(|| {
        let mut files = Vec::new();
        for p in feature_zones() {
            files.push((fs::read(&p).unwrap(), "example."));
        }
        for p in bad_zones() {
            files.push((fs::read(&p).unwrap(), "example."));
        }
        for inc in ["include-plain.inc", "include-sub.inc"] {
            files.push((
                fs::read(fixture(&format!("features/{inc}"))).unwrap(),
                "example.",
            ));
        }
        // The head of the .se sample (its full 50 KB would slow every case down).
        let se = fs::read_to_string(se_sample()).unwrap();
        let head: String = se.lines().take(150).map(|l| format!("{l}\n")).collect();
        files.push((head.into_bytes(), "se."));
        files.push((DNSSEC_SNIPPET.as_bytes().to_vec(), "example."));
        let mut lines: Vec<Vec<u8>> = files
            .iter()
            .flat_map(|(t, _)| t.split(|&b| b == b'\n').map(<[u8]>::to_vec))
            .filter(|l| !l.is_empty())
            .collect();
        lines.extend(
            se.lines()
                .skip(150)
                .step_by(7)
                .map(|l| l.as_bytes().to_vec()),
        );
        Corpus { files, lines }
    })
}

/// DNSSEC records in text form, so base64 and hex fields get mutated too.
const DNSSEC_SNIPPET: &str = "$ORIGIN example.\n$TTL 3600\n\
@ IN SOA ns1 hostmaster 1 7200 3600 1209600 7200\n\
@ IN NS ns1\nns1 IN A 192.0.2.1\n\
@ 3600 IN DNSKEY 257 3 8 AwEAAcFcGsaxxdKkuJ+qX+lpLlNCz6HOaRpolgGiQuQfjDsibQsh4wVhOhr1HE7TjxgQk0qX4TSc3Ti0wOzLNVPbbwMqqCcbcDmV1wACLDqV9Pj+HJsi4dIyhRArtqPTwAKG2L6pvRTNcl6T0TSL1E+h+ZI+XUvhIqbGyCpHyt5aBTW1\n\
@ 3600 IN RRSIG DNSKEY 8 1 3600 20261209120000 20261125110000 14732 example. d2hhdCBhIHNpZ25hdHVyZSB0aGlzIGlzLCBub3QgcmVhbGx5IGJ1dCBnb29kIGVub3VnaCBmb3IgYSBmdXp6ZXI=\n\
@ 7200 IN NSEC ns1.example. NS SOA RRSIG NSEC DNSKEY\n\
d 3600 IN DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118\n\
d 3600 IN NS ns.d\nns.d 3600 IN A 192.0.2.9\n\
h 3600 IN SSHFP 1 1 123456789abcdef67890123456789abcdef67890\n\
t 3600 IN TLSA 3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6\n\
n3 3600 IN NSEC3PARAM 1 0 10 AABBCCDD\n\
g 3600 IN TYPE65534 \\# 4 0A000001\n";

/// Huge, negative, overflowing and unit-laden TTLs and numbers.
const BIG_NUMBERS: [&str; 12] = [
    "4294967296",
    "2147483648",
    "99999999999999999999999999",
    "18446744073709551616",
    "-1",
    "1w999999999d",
    "4294967295S",
    "9999999999W",
    "0x10",
    "1e9",
    "2147483647",
    "1H2M3S4D5W6",
];

/// Tokens with meaning to the lexer.
const SPECIALS: [&str; 22] = [
    "(",
    ")",
    "\"",
    "\\",
    ";",
    "\0",
    "\\999",
    "\\256",
    "\\0",
    "\r",
    "\t",
    "@",
    "*",
    "\\.",
    "$ORIGIN",
    "$TTL",
    "$GENERATE 1-100 x A 1.2.3.$",
    "\\#",
    "\\# 65535",
    "((((",
    "))))",
    "\u{feff}",
];

/// Broken base64 and hex rdata.
const BAD_RDATA: [&str; 12] = [
    "x IN DNSKEY 257 3 8 AwEA!!!!",
    "x IN DNSKEY 257 3 8 ====",
    "x IN DNSKEY 257 3 8 A",
    "x IN DNSKEY 257 3 15",
    "x IN RRSIG A 8 1 3600 20261209120000 20261125110000 1 example. @@@",
    "x IN RRSIG A 8 1 3600 99999999999999 0 1 example. AA==",
    "x IN DS 1 8 2 ABC",
    "x IN DS 1 8 2 XYZ0",
    "x IN DS 65536 8 2 00",
    "x IN NSEC3PARAM 1 0 10 Z",
    "x IN TYPE65534 \\# 3 00",
    "x IN TYPE1 \\# 4 0A00000",
];

/// Prepares the include targets of the `$INCLUDE` mutations in `dir`.
fn include_files(dir: &Path) {
    fs::write(dir.join("loop-a.inc"), "$INCLUDE loop-b.inc\n").unwrap();
    fs::write(
        dir.join("loop-b.inc"),
        "a IN A 192.0.2.1\n$INCLUDE loop-a.inc\n",
    )
    .unwrap();
    for i in 0..20 {
        fs::write(
            dir.join(format!("deep{i}.inc")),
            format!("d{i} IN A 192.0.2.{i}\n$INCLUDE deep{}.inc\n", i + 1),
        )
        .unwrap();
    }
    fs::write(dir.join("deep20.inc"), "end IN TXT deep\n").unwrap();
    // The include bomb: 4^12 reads without the cap.
    for i in 0..12 {
        fs::write(
            dir.join(format!("bomb{i}.inc")),
            format!("$INCLUDE bomb{n}.inc\n$INCLUDE bomb{n}.inc\n$INCLUDE bomb{n}.inc\n$INCLUDE bomb{n}.inc\n", n = i + 1),
        )
        .unwrap();
    }
    fs::write(dir.join("bomb12.inc"), "b IN TXT boom\n").unwrap();
    // What the fixtures include, so `include.zone` parses from here too.
    for inc in ["include-plain.inc", "include-sub.inc"] {
        fs::copy(fixture(&format!("features/{inc}")), dir.join(inc)).unwrap();
    }
    fs::write(
        dir.join("plain.inc"),
        "p IN A 192.0.2.7\np IN AAAA 2001:db8::7\n",
    )
    .unwrap();
}

const INCLUDES: [&str; 13] = [
    "$INCLUDE fuzz.zone",
    "$INCLUDE loop-a.inc",
    "$INCLUDE deep0.inc",
    "$INCLUDE bomb0.inc",
    "$INCLUDE plain.inc sub",
    "$INCLUDE plain.inc .",
    "$INCLUDE missing.inc",
    "$INCLUDE /dev/zero",
    "$INCLUDE .",
    "$INCLUDE",
    "$INCLUDE \"plain.inc\"",
    "$INCLUDE plain.inc bad..origin",
    "$INCLUDE plain.inc a b",
];

fn line_starts(data: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            data.iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect()
}

/// Inserts `what` as a whole line at a random line boundary.
fn insert_line(rng: &mut Rng, data: &mut Vec<u8>, what: &[u8]) {
    let starts = line_starts(data);
    let at = (*rng.pick(&starts)).min(data.len());
    let mut line = what.to_vec();
    line.push(b'\n');
    data.splice(at..at, line);
}

fn insert_at_random(rng: &mut Rng, data: &mut Vec<u8>, what: &[u8]) {
    let at = rng.below(data.len() + 1);
    data.splice(at..at, what.iter().copied());
}

/// One random mutation.
fn mutate_once(rng: &mut Rng, data: &mut Vec<u8>) -> &'static str {
    let c = corpus();
    match rng.below(16) {
        0 | 1 => {
            for _ in 0..1 + rng.below(8) {
                if data.is_empty() {
                    break;
                }
                let i = rng.below(data.len());
                if rng.chance(50) {
                    data[i] ^= 1 << rng.below(8);
                } else {
                    data[i] = rng.next() as u8;
                }
            }
            "byte flips"
        }
        2 => {
            let n = rng.below(data.len() + 1);
            data.truncate(n);
            "truncation"
        }
        3 => {
            let label = "x".repeat(60 + rng.below(300));
            let line = format!("{label} IN A 192.0.2.1");
            if rng.chance(50) {
                insert_line(rng, data, line.as_bytes());
            } else {
                insert_at_random(rng, data, label.as_bytes());
            }
            "huge label"
        }
        4 => {
            let name = "ab.".repeat(40 + rng.below(200));
            let line = if rng.chance(50) {
                format!("{name} IN A 192.0.2.1")
            } else {
                format!("x IN CNAME {name}")
            };
            insert_line(rng, data, line.as_bytes());
            "long name"
        }
        5 => {
            let mut inc = *rng.pick(&INCLUDES);
            // The bomb costs the parser 10,000 reads before it stops: keep it rare.
            if inc.contains("bomb") && !rng.chance(1) {
                inc = "$INCLUDE deep0.inc";
            }
            insert_line(rng, data, inc.as_bytes());
            "$INCLUDE"
        }
        6 => {
            let n = rng.pick(&BIG_NUMBERS);
            let line = match rng.below(4) {
                0 => format!("$TTL {n}"),
                1 => format!("big {n} IN A 192.0.2.1"),
                2 => format!("big IN SOA a b {n} {n} {n} {n} {n}"),
                _ => format!("big IN MX {n} mail"),
            };
            insert_line(rng, data, line.as_bytes());
            "enormous number"
        }
        7 => {
            // Replace a digit run with a huge number.
            let digits: Vec<usize> = (0..data.len())
                .filter(|&i| data[i].is_ascii_digit() && (i == 0 || !data[i - 1].is_ascii_digit()))
                .collect();
            if digits.is_empty() {
                return "enormous number (none)";
            }
            let s = *rng.pick(&digits);
            let e = (s..data.len())
                .find(|&i| !data[i].is_ascii_digit())
                .unwrap_or(data.len());
            data.splice(s..e, rng.pick(&BIG_NUMBERS).bytes());
            "enormous number in place"
        }
        8 => {
            let bad = *rng.pick(&BAD_RDATA);
            insert_line(rng, data, bad.as_bytes());
            "bad base64/hex"
        }
        9 => {
            // Damage base64/hex-looking runs in place.
            let runs: Vec<usize> = (0..data.len())
                .filter(|&i| data[i] == b'=' || data[i] == b'+' || data[i] == b'/')
                .collect();
            let at = if runs.is_empty() {
                rng.below(data.len() + 1)
            } else {
                *rng.pick(&runs)
            };
            const BAD: [&[u8]; 5] = [b"!", b"=", b"==A", b" ", b"\\"];
            let bad = *rng.pick(&BAD);
            data.splice(at..at.min(data.len()), bad.iter().copied());
            "base64 damage"
        }
        10 | 11 => {
            let line = rng.pick(&c.lines).clone();
            if rng.chance(30) && !data.is_empty() {
                // Replace a line.
                let starts = line_starts(data);
                let i = rng.below(starts.len());
                let s = starts[i].min(data.len());
                let e = starts
                    .get(i + 1)
                    .map_or(data.len(), |e| e.saturating_sub(1).max(s));
                data.splice(s..e, line);
            } else {
                insert_line(rng, data, &line);
            }
            "spliced fixture line"
        }
        12 => {
            let starts = line_starts(data);
            let i = rng.below(starts.len());
            let s = starts[i].min(data.len());
            let e = starts
                .get(i + 1)
                .copied()
                .unwrap_or(data.len())
                .min(data.len());
            let line = data[s..e].to_vec();
            if rng.chance(50) {
                data.drain(s..e);
                "deleted line"
            } else {
                for _ in 0..1 + rng.below(3) {
                    data.splice(s..s, line.iter().copied());
                }
                "duplicated line"
            }
        }
        13 => {
            let s = rng.pick(&SPECIALS).as_bytes().to_vec();
            let reps = if rng.chance(10) {
                1 + rng.below(2000)
            } else {
                1
            };
            insert_at_random(rng, data, &s.repeat(reps));
            "special characters"
        }
        14 => {
            let n = 1 + rng.below(64);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            insert_at_random(rng, data, &bytes);
            "random bytes"
        }
        _ => {
            // A very long line: one record with thousands of rdata tokens.
            let line = format!("t IN TXT {}", "\"abc\" ".repeat(1 + rng.below(3000)));
            insert_line(rng, data, line.as_bytes());
            "long line"
        }
    }
}

fn mutate(rng: &mut Rng, base: &[u8]) -> (Vec<u8>, Vec<&'static str>) {
    let mut data = base.to_vec();
    let mut what = Vec::new();
    // Mostly one mutation, so that many cases still parse and reach the checks.
    let n = match rng.below(100) {
        0..60 => 1,
        60..85 => 2,
        _ => 3 + rng.below(2),
    };
    for _ in 0..n {
        what.push(mutate_once(rng, &mut data));
    }
    (data, what)
}

fn seed() -> u64 {
    std::env::var("ZONESIGN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2026_1125)
        | 1
}

fn cases() -> usize {
    std::env::var("ZONESIGN_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// Saves a failing input for replay and returns its path.
fn save_failure(data: &[u8], tag: &str) -> PathBuf {
    let dir = repo_root().join("target/fuzz-failures");
    fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{tag}.zone"));
    fs::write(&p, data).unwrap();
    p
}

/// Bytes of the files a successful parse read (the main text plus each include,
/// counted as often as it was read).
fn bytes_read(main_len: usize, parsed: &zonefile::ParsedZone) -> usize {
    main_len
        + parsed.files[1..]
            .iter()
            .map(|f| fs::metadata(f).map_or(0, |m| m.len() as usize))
            .sum::<usize>()
}

/// The checks `pipeline::read_and_check` runs, on records already parsed (no file
/// I/O per case); returns the error strings.
fn run_checks(origin: &Name, parsed: zonefile::ParsedZone) -> Vec<String> {
    let mut findings = Findings::new(&parsed.files);
    checks::check_records(origin, &parsed.records, &mut findings);
    let records = checks::drop_regenerated(Path::new("fuzz.zone"), parsed.records, &mut findings);
    let (zone, mismatches) = Zone::from_records(origin.clone(), records);
    checks::warn_ttl_mismatches(&mismatches, &mut findings);
    checks::check_zone(&zone, &Policy::default(), &mut findings);
    findings.into_errors()
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    parse_errors: usize,
    parsed: usize,
    check_errors: usize,
    check_clean: usize,
    check_errors_without_file: Vec<String>,
    max_ratio: f64,
    kinds: std::collections::BTreeMap<&'static str, usize>,
    max_peak: usize,
    slowest: Duration,
}

/// One share of the parser + checks cases, `[from, to)` of the seeded sequence.
fn parser_share(from: usize, to: usize) -> Tally {
    let dir = tempfile::tempdir().unwrap();
    include_files(dir.path());
    let main = dir.path().join("fuzz.zone");
    let c = corpus();
    let mut t = Tally::default();
    for case in from..to {
        let mut rng = Rng(seed() ^ (case as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (base, origin) = rng.pick(&c.files);
        let origin = Name::parse(origin.as_bytes(), None).unwrap();
        let (data, what) = mutate(&mut rng, base);
        for w in &what {
            *t.kinds.entry(w).or_default() += 1;
        }
        if data.windows(13).any(|w| w == b"$INCLUDE bomb") {
            *t.kinds.entry("(include bomb)").or_default() += 1;
        }
        // `$INCLUDE fuzz.zone` must find this very text: the loop case.
        if what.contains(&"$INCLUDE") {
            fs::write(&main, &data).unwrap();
        }
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            measure(|| zonefile::parse_bytes(&data, &main, &origin))
        }));
        let Ok((parsed, peak)) = result else {
            let p = save_failure(&data, &format!("parse-panic-{case}"));
            panic!(
                "case {case} ({what:?}): the parser panicked; input saved as {}",
                p.display()
            );
        };
        let elapsed = started.elapsed();
        t.slowest = t.slowest.max(elapsed);
        if elapsed > SLOW_CASE {
            let p = save_failure(&data, &format!("parse-slow-{case}"));
            panic!(
                "case {case} ({what:?}): parsing took {elapsed:?}; input saved as {}",
                p.display()
            );
        }
        t.cases += 1;
        let read = match &parsed {
            Ok(z) => bytes_read(data.len(), z),
            // A failed parse read at most the capped includes of the tiny include files.
            Err(_) => data.len(),
        };
        let bound = MEMORY_FACTOR * read + MEMORY_SLACK;
        t.max_peak = t.max_peak.max(peak);
        if read >= 4096 {
            t.max_ratio = t.max_ratio.max(peak as f64 / read as f64);
        }
        if peak > bound && !(parsed.is_err() && what.contains(&"$INCLUDE")) {
            let p = save_failure(&data, &format!("parse-memory-{case}"));
            panic!(
                "case {case} ({what:?}): the parser peaked at {peak} bytes for {read} bytes of input (bound {bound}); input saved as {}",
                p.display()
            );
        }
        match parsed {
            Err(e) => {
                t.parse_errors += 1;
                if e.line == 0 || e.file.as_os_str().is_empty() {
                    let p = save_failure(&data, &format!("parse-noline-{case}"));
                    panic!(
                        "case {case} ({what:?}): error without file and line: {e:?}; input saved as {}",
                        p.display()
                    );
                }
            }
            Ok(z) => {
                t.parsed += 1;
                let files: Vec<String> = z.files.iter().map(|f| f.display().to_string()).collect();
                let errors = catch_unwind(AssertUnwindSafe(|| run_checks(&origin, z)));
                let Ok(errors) = errors else {
                    let p = save_failure(&data, &format!("checks-panic-{case}"));
                    panic!(
                        "case {case} ({what:?}): the checks panicked; input saved as {}",
                        p.display()
                    );
                };
                if errors.is_empty() {
                    t.check_clean += 1;
                } else {
                    t.check_errors += 1;
                }
                for e in errors {
                    if !e.starts_with("... and")
                        && !files.iter().any(|f| e.starts_with(&format!("{f}:")))
                    {
                        t.check_errors_without_file.push(e);
                    }
                }
            }
        }
    }
    t
}

fn report(name: &str, t: &Tally, started: Instant) {
    eprintln!(
        "{name}: {} cases in {:?} (seed {:#x}): {} parse errors (all with file and line), {} parsed: {} failed the checks, {} passed; peak memory {} bytes, worst peak/input ratio {:.1} (inputs of 4 KiB or more); slowest case {:?}",
        t.cases,
        started.elapsed(),
        seed(),
        t.parse_errors,
        t.parsed,
        t.check_errors,
        t.check_clean,
        t.max_peak,
        t.max_ratio,
        t.slowest
    );
    eprintln!("{name}: mutations applied: {:?}", t.kinds);
}

fn parser_test(part: usize, parts: usize) {
    let n = cases();
    let started = Instant::now();
    let t = parser_share(n * part / parts, n * (part + 1) / parts);
    report(
        &format!("fuzz parser+checks {}/{parts}", part + 1),
        &t,
        started,
    );
    assert!(
        t.check_errors_without_file.is_empty(),
        "check errors that name no file: {:?}",
        &t.check_errors_without_file[..t.check_errors_without_file.len().min(5)]
    );
}

// Two halves, so the test harness runs them on two cores.
#[test]
fn fuzz_parser_and_checks_1_of_2() {
    parser_test(0, 2);
}

#[test]
fn fuzz_parser_and_checks_2_of_2() {
    parser_test(1, 2);
}

/// Replaces 1-3 characters with others of the same class (digit, letter, base64
/// symbol), so the text mostly still parses and the verifier proper has to find out.
fn same_class_edit(rng: &mut Rng, text: &[u8]) -> Vec<u8> {
    let mut data = text.to_vec();
    for _ in 0..1 + rng.below(3) {
        let i = rng.below(data.len());
        let b = data[i];
        data[i] = if b.is_ascii_digit() {
            b'0' + rng.below(10) as u8
        } else if b.is_ascii_uppercase() {
            b'A' + rng.below(26) as u8
        } else if b.is_ascii_lowercase() {
            b'a' + rng.below(26) as u8
        } else if b == b'+' || b == b'/' {
            *rng.pick(b"+/")
        } else {
            b
        };
    }
    data
}

/// A zone signed by zonesign in a real SoftHSM2 token, its anchors and signing time.
struct Signed {
    _setup: Setup,
    text: Vec<u8>,
    anchors: Vec<Anchor>,
    now: i64,
}

fn signed() -> &'static Signed {
    static S: OnceLock<Signed> = OnceLock::new();
    S.get_or_init(|| {
        let setup = Setup::new("rsasha1");
        let now = unix_now();
        let out = setup.path("example.signed");
        let r = setup.sign_with(
            &fixture("features/delegations.zone"),
            "example.",
            &out,
            &["--now", &rfc3339(now), "--seed", "7"],
        );
        assert_exit(&r, EXIT_OK, "sign the fuzz seed zone");
        let ds = setup.ds_file("example.");
        let origin = Name::parse(b"example.", None).unwrap();
        let anchors = pipeline::read_anchors(&ds, &origin).expect("anchors");
        Signed {
            text: fs::read(&out).unwrap(),
            anchors,
            now,
            _setup: setup,
        }
    })
}

/// The verifier on mutated signed zones: never a panic; an error names file and line,
/// or the report says what is wrong. The unmutated zone verifies.
#[test]
fn fuzz_verifier() {
    let s = signed();
    let origin = Name::parse(b"example.", None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    include_files(dir.path());
    let path = dir.path().join("fuzz.zone");
    let opts = VerifyOptions::at(s.now, Some(14 * 86_400));
    fs::write(&path, &s.text).unwrap();
    let clean = pipeline::verify_file(&path, &origin, &s.anchors, &opts).expect("verify");
    assert!(
        clean.valid,
        "the unmutated zone does not verify: {}",
        clean.to_text()
    );

    let n = (cases() / 50).max(1);
    let started = Instant::now();
    let (mut errors, mut valid, mut invalid) = (0, 0, 0);
    let mut slowest = Duration::ZERO;
    for case in 0..n {
        let mut rng = Rng(seed() ^ 0xF00D ^ (case as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (data, what) = if rng.chance(50) {
            mutate(&mut rng, &s.text)
        } else {
            (
                same_class_edit(&mut rng, &s.text),
                vec!["same-class character edits"],
            )
        };
        fs::write(&path, &data).unwrap();
        let t0 = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| {
            pipeline::verify_file(&path, &origin, &s.anchors, &opts)
        }));
        slowest = slowest.max(t0.elapsed());
        let Ok(r) = r else {
            let p = save_failure(&data, &format!("verify-panic-{case}"));
            panic!(
                "verifier case {case} ({what:?}) panicked; input saved as {}",
                p.display()
            );
        };
        match r {
            Ok(report) if report.valid => valid += 1,
            Ok(_) => invalid += 1,
            Err(zonesign::error::Error::Parse(e)) => {
                errors += 1;
                assert!(e.line > 0, "verifier case {case} ({what:?}): {e:?}");
            }
            Err(zonesign::error::Error::Checks(list)) => {
                errors += 1;
                assert!(!list.is_empty());
            }
            Err(other) => panic!("verifier case {case} ({what:?}): unexpected error {other}"),
        }
    }
    eprintln!(
        "fuzz verifier: {n} mutated signed zones in {:?}: {errors} rejected by the parser or checks, {invalid} reported invalid, {valid} still valid (harmless edits, e.g. in a duplicated line); slowest {slowest:?}",
        started.elapsed()
    );
}
