//! Taking over a live zone's keys (issue 23): `init --adopt` writes a config for a token
//! that exists, and `key import` adopts key pairs that another program made in it, by
//! PKCS#11 id, label or URI (RFC 7512), after checking each one (sensitive, not
//! extractable, a public key object that belongs to it, an algorithm zonesign signs
//! with). The other program here is OpenSC's `pkcs11-tool`, in a real SoftHSM2 token.

use std::fs;
use std::path::Path;

use crate::common::*;

/// The config of a setup made by `init --adopt` for the token of `s`.
struct Adopted {
    dir: std::path::PathBuf,
}

impl Adopted {
    fn cmd(&self) -> std::process::Command {
        let mut c = zonesign();
        c.arg("--config").arg(self.dir.join("zonesign.toml"));
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = run(self.cmd().args(args));
        assert_exit(&out, EXIT_OK, &args.join(" "));
        stdout(&out)
    }

    /// `sign ZONE --origin se. --out SIGNED --ds-anchor DS`, which must succeed.
    fn sign(&self, zone: &Path, signed: &Path, ds: &Path, what: &str) {
        let out = run(self
            .cmd()
            .arg("sign")
            .arg(zone)
            .args(["--origin", "se.", "--out"])
            .arg(signed)
            .arg("--ds-anchor")
            .arg(ds));
        assert_exit(&out, EXIT_OK, what);
    }

    fn state(&self) -> String {
        fs::read_to_string(self.dir.join("keys.toml")).unwrap()
    }
}

/// The module path and token label of a setup's config.
fn module_and_token(s: &Setup) -> (String, String) {
    let cfg: toml::Value = toml::from_str(&s.config_text()).unwrap();
    (
        cfg["hsm"]["module"].as_str().unwrap().to_string(),
        cfg["hsm"]["token"].as_str().unwrap().to_string(),
    )
}

/// The EC point (X‖Y) of a public key object as pkcs11-tool reads it: the last 64
/// octets of its DER SubjectPublicKeyInfo.
fn ec_point(s: &Setup, id: &str) -> Vec<u8> {
    let der = s
        .pkcs11_tool(&["--read-object", "--type", "pubkey", "--id", id])
        .stdout;
    der[der.len() - 64..].to_vec()
}

#[test]
fn keys_made_by_another_program_are_adopted_checked_and_sign() {
    let s = Setup::new("ecdsap256sha256");
    let keypair = |id: &str, label: &str, kind: &str, extra: &[&str]| {
        let mut args = vec![
            "--keypairgen",
            "--key-type",
            kind,
            "--id",
            id,
            "--label",
            label,
            "--usage-sign",
        ];
        args.extend(extra);
        s.pkcs11_tool(&args);
    };
    keypair("a1", "foreign-ksk", "EC:prime256v1", &["--sensitive"]);
    keypair("a2", "foreign-zsk", "EC:prime256v1", &["--sensitive"]);
    keypair(
        "a3",
        "leaky",
        "EC:prime256v1",
        &["--sensitive", "--extractable"],
    );
    keypair("a4", "rsa-key", "rsa:2048", &["--sensitive"]);
    let (module, token) = module_and_token(&s);
    let a = Adopted {
        dir: s.path("adopted"),
    };
    let uri = format!("pkcs11:token={}", token.replace(' ', "%20"));
    let out = run(zonesign()
        .arg("init")
        .arg("--adopt")
        .arg("--dir")
        .arg(&a.dir)
        .arg("--module")
        .arg(&module)
        .arg("--token")
        .arg(&uri)
        .arg("--pin-file")
        .arg(s.pin_file())
        .arg("--softhsm-conf")
        .arg(s.dir.join("softhsm2.conf")));
    assert_exit(&out, EXIT_OK, "init --adopt");
    assert!(!a.state().contains("[[key]]"), "no key made: {}", a.state());
    // The checks refuse, change nothing and say why.
    let before = a.state();
    for (args, says) in [
        (vec!["--role", "ksk", "--id", "a3"], "extractable"),
        (vec!["--role", "ksk", "--id", "a4"], "--algorithm"),
        (
            vec!["--role", "ksk", "--id", "ff"],
            "0 private keys with CKA_ID FF",
        ),
        (
            vec!["--role", "ksk", "--uri", "pkcs11:id=%a1?pin-value=1234"],
            "PIN",
        ),
    ] {
        let mut full = vec!["key", "import"];
        full.extend(&args);
        let out = run(a.cmd().args(&full));
        assert_ne!(out.status.code(), Some(EXIT_OK), "{full:?}");
        assert!(
            stderr(&out).to_lowercase().contains(&says.to_lowercase()),
            "{full:?}: {}",
            stderr(&out)
        );
        assert_eq!(a.state(), before, "{full:?} changed the key state");
    }
    a.ok(&[
        "key", "import", "--role", "ksk", "--id", "a1", "--state", "active",
    ]);
    a.ok(&[
        "key",
        "import",
        "--role",
        "zsk",
        "--uri",
        "pkcs11:object=foreign-zsk;type=private",
        "--state",
        "active",
    ]);
    let out = run(a
        .cmd()
        .args(["key", "import", "--role", "zsk", "--label", "foreign-zsk"]));
    assert_exit(&out, EXIT_HSM, "the same key twice");
    let listed = a.ok(&["key", "list"]);
    assert!(listed.contains("imported (token)"), "{listed}");
    // The DNSKEY carries the very public key pkcs11-tool reads from the token.
    let keys: serde_json::Value =
        serde_json::from_str(&a.ok(&["key", "list", "--format", "json"])).unwrap();
    for k in keys.as_array().unwrap() {
        let public = data_encoding::BASE64
            .decode(k["public-key"].as_str().unwrap().as_bytes())
            .unwrap();
        assert_eq!(public, ec_point(&s, k["id"].as_str().unwrap()), "{k}");
        assert_eq!(k["imported"], "token");
    }
    let log = fs::read_to_string(a.dir.join("audit.log")).unwrap();
    assert_eq!(log.matches("\"key-imported\"").count(), 2, "{log}");
    // The adopted keys sign; the zone validates against their DS.
    let zone = s.path("se.zone");
    write_se_zone(&zone);
    let signed = s.path("se.signed");
    let ds = s.path("adopted.ds");
    fs::write(&ds, a.ok(&["key", "ds", "--origin", "se."])).unwrap();
    a.sign(&zone, &signed, &ds, "sign with imported keys");
    all_validators(&signed, "se.", &ds).unwrap_or_else(|e| panic!("{e}"));
    let check = stdout(&run(a.cmd().args(["check"])));
    assert!(
        check.contains("imported, not necessarily generated"),
        "{check}"
    );
    sweep_dir(&a.dir);
}

// ---------------------------------------------------------------------------------------
// From BIND key files (`key import --from-file`)
// ---------------------------------------------------------------------------------------

/// `init --adopt` for the token of `s` into `<tmp>/adopted`, with policy `alg`.
fn adopt(s: &Setup, alg: &str) -> Adopted {
    let (module, token) = module_and_token(s);
    let a = Adopted {
        dir: s.path("adopted"),
    };
    let out = run(zonesign()
        .arg("init")
        .arg("--adopt")
        .args(["--algorithm", alg, "--dir"])
        .arg(&a.dir)
        .arg("--module")
        .arg(&module)
        .arg("--token")
        .arg(&token)
        .arg("--pin-file")
        .arg(s.pin_file())
        .arg("--softhsm-conf")
        .arg(s.dir.join("softhsm2.conf")));
    assert_exit(&out, EXIT_OK, "init --adopt");
    a
}

/// Runs a BIND tool in `dir`; asserts success and returns stdout.
#[track_caller]
fn bind_tool(dir: &std::path::Path, program: &str, args: &[&str]) -> String {
    let out = run(std::process::Command::new(program)
        .current_dir(dir)
        .args(args));
    assert_exit(&out, EXIT_OK, &format!("{program} {args:?}"));
    stdout(&out)
}

/// `dnssec-keygen` for `se.` in `dir`: the key's base name (`Kse.+alg+tag`) and tag.
fn bind_keygen(dir: &std::path::Path, alg: &str, bits: Option<&str>, ksk: bool) -> (String, u16) {
    let mut args = vec!["-q", "-K", ".", "-n", "ZONE", "-a", alg];
    if let Some(b) = bits {
        args.extend(["-b", b]);
    }
    if ksk {
        args.extend(["-f", "KSK"]);
    }
    args.push("se.");
    let name = bind_tool(dir, "dnssec-keygen", &args).trim().to_string();
    let tag = name.rsplit('+').next().unwrap().parse().unwrap();
    (name, tag)
}

/// The DNSKEY RRset of a flat signed zone as (flags, protocol, algorithm, key), key
/// base64 joined (BIND's `-O full` splits it).
fn dnskeys(text: &str) -> std::collections::BTreeSet<(String, String, String, String)> {
    parse_flat_zone(text)
        .expect("flat zone")
        .into_iter()
        .filter(|r| r.rtype == "DNSKEY")
        .map(|r| {
            (
                r.rdata[0].clone(),
                r.rdata[1].clone(),
                r.rdata[2].clone(),
                r.rdata[3..].concat(),
            )
        })
        .collect()
}

/// The `Access:` words `pkcs11-tool --list-objects` prints for the private key `id`.
fn access_of(s: &Setup, id: &str) -> Vec<String> {
    let listing = stdout(&s.pkcs11_tool(&["--list-objects", "--type", "privkey"]));
    let mut in_key = false;
    for line in listing.lines() {
        if let Some(found) = line.trim().strip_prefix("ID:") {
            in_key = found.trim().eq_ignore_ascii_case(id);
        } else if let Some(access) = line.trim().strip_prefix("Access:")
            && in_key
        {
            return access.split(',').map(|w| w.trim().to_string()).collect();
        }
    }
    panic!("no private key {id} in\n{listing}")
}

/// BIND's `dnssec-keygen` and `dnssec-signzone` sign the zone with file keys (KSK of
/// `ksk_bits`, ZSK of `zsk_bits` for RSA); zonesign adopts a token, imports both key
/// files as active and signs the same zone: the output validates against BIND's DS with
/// the three validators, carries BIND's very DNSKEYs (same key tags), and a resolver
/// that cached the DNSKEY RRset of one signer and the rest of the other validates both
/// mixes. Returns the setup and its adopted config for further checks. Issue 23; the
/// keys end up in the HSM, sensitive and not extractable (DPS-5.2); the PIN file's
/// contents never appear in any output or file (SEC-6.1, swept when the setup goes).
fn bind_takeover(zs_alg: &str, bind_alg: &str, bits: [Option<&str>; 2]) -> Takeover {
    let s = Setup::new(zs_alg);
    let bind = s.path("bind");
    fs::create_dir_all(&bind).unwrap();
    let ksk = bind_keygen(&bind, bind_alg, bits[0], true);
    let zsk = bind_keygen(&bind, bind_alg, bits[1], false);
    let zone = s.path("se.zone");
    write_se_zone(&zone);
    let now = unix_now();
    let (start, end) = ((now - 3600).to_string(), (now + 13 * 86400).to_string());
    let bind_signed = s.path("se.bind-signed");
    bind_tool(
        &bind,
        "dnssec-signzone",
        &[
            "-q",
            "-S",
            "-K",
            ".",
            "-d",
            ".",
            "-x",
            "-O",
            "full",
            "-s",
            &start,
            "-e",
            &end,
            "-o",
            "se.",
            "-f",
            bind_signed.to_str().unwrap(),
            zone.to_str().unwrap(),
        ],
    );
    let ds = s.path("bind.ds");
    fs::write(
        &ds,
        bind_tool(
            &bind,
            "dnssec-dsfromkey",
            &["-2", &format!("{}.key", ksk.0)],
        ),
    )
    .unwrap();
    all_validators(&bind_signed, "se.", &ds).unwrap_or_else(|e| panic!("BIND's own output: {e}"));

    let a = adopt(&s, zs_alg);
    // `init --adopt --algorithm` wrote the keys' algorithm as the policy's (unless it is
    // the practice statement's rsasha1, the default). No ZONEMD, as BIND's output has
    // none: the cache mixes below splice one signer's DNSKEY RRset into the other's
    // zone, which no ZONEMD can match (resolvers do not read ZONEMD; algorithm_roll.rs
    // does the same, zonemd.rs tests ZONEMD).
    let config = a.dir.join("zonesign.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    let policy = format!("[policy]\nalgorithm = \"{zs_alg}\"\n");
    if zs_alg == "rsasha1" {
        assert!(!text.contains("[policy]"), "{text}");
        text.push_str("\n[policy]\n");
    } else {
        assert!(text.contains(&policy), "{text}");
    }
    fs::write(
        &config,
        text.replacen("[policy]\n", "[policy]\nzonemd = \"none\"\n", 1),
    )
    .unwrap();
    let mut import_stderr = String::new();
    for ((name, _), role) in [(&ksk, "ksk"), (&zsk, "zsk")] {
        let file = bind.join(format!("{name}.private"));
        let out = run(a.cmd().args([
            "key",
            "import",
            "--role",
            role,
            "--from-file",
            file.to_str().unwrap(),
            "--state",
            "active",
        ]));
        assert_exit(&out, EXIT_OK, &format!("key import --from-file {name}"));
        assert!(
            stdout(&out).contains("destroy it securely now"),
            "{}",
            stdout(&out)
        );
        import_stderr.push_str(&stderr(&out));
    }
    let signed = s.path("se.signed");
    a.sign(&zone, &signed, &ds, "sign with BIND's keys");
    all_validators(&signed, "se.", &ds).unwrap_or_else(|e| panic!("zonesign's output: {e}"));
    let (bind_text, zs_text) = (
        fs::read_to_string(&bind_signed).unwrap(),
        fs::read_to_string(&signed).unwrap(),
    );
    // The same DNSKEY RRset, so the same key tags: the parent's DS and every cache
    // stay right.
    assert_eq!(dnskeys(&zs_text), dnskeys(&bind_text));
    let tags: std::collections::BTreeSet<u64> =
        serde_json::from_str::<serde_json::Value>(&a.ok(&["key", "list", "--format", "json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["tag"].as_u64().unwrap())
            .collect();
    assert_eq!(tags, [ksk.1, zsk.1].map(u64::from).into());
    for (what, text) in [
        (
            "BIND's DNSKEY RRset cached, the rest from zonesign",
            mix(&zs_text, &bind_text),
        ),
        (
            "zonesign's DNSKEY RRset, the rest cached from BIND",
            mix(&bind_text, &zs_text),
        ),
    ] {
        let path = s.path("mixed.zone");
        fs::write(&path, text).unwrap();
        all_validators(&path, "se.", &ds).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
    Takeover {
        s,
        a,
        bind,
        keys: [ksk, zsk],
        import_stderr,
    }
}

/// What [`bind_takeover`] leaves for further checks.
struct Takeover {
    s: Setup,
    a: Adopted,
    /// BIND's key directory.
    bind: std::path::PathBuf,
    /// BIND's KSK and ZSK: base name and tag.
    keys: [(String, u16); 2],
    /// What the two imports wrote to stderr (warnings).
    import_stderr: String,
}

#[test]
fn bind_key_files_are_taken_over_ecdsa() {
    let Takeover {
        s, a, bind, keys, ..
    } = bind_takeover("ecdsap256sha256", "ECDSAP256SHA256", [None, None]);
    // DPS-5.2: in the token, sensitive and not extractable (pkcs11-tool's own reading).
    let list: serde_json::Value =
        serde_json::from_str(&a.ok(&["key", "list", "--format", "json"])).unwrap();
    for k in list.as_array().unwrap() {
        let access = access_of(&s, k["id"].as_str().unwrap());
        assert!(access.contains(&"sensitive".to_string()), "{k}: {access:?}");
        assert!(
            !access.contains(&"extractable".to_string()),
            "{k}: {access:?}"
        );
        let name = format!("Kse.+013+{:05}.private", k["tag"].as_u64().unwrap());
        assert_eq!(k["imported"], format!("file: {name}"), "{k}");
    }
    let listed = a.ok(&["key", "list"]);
    assert!(listed.contains("imported (file: Kse.+013+"), "{listed}");
    let check = stdout(&run(a.cmd().args(["check"])));
    assert!(
        check.contains("imported from a key file") && check.contains("destroy securely now"),
        "{check}"
    );
    // DPS-4.4: each import is an audit line, naming its source file.
    let log = fs::read_to_string(a.dir.join("audit.log")).unwrap();
    let imported: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "key-imported")
        .collect();
    assert_eq!(imported.len(), 2, "{log}");
    for e in &imported {
        assert_eq!(e["source"], "file", "{e}");
        assert!(e["detail"].as_str().unwrap().contains(".private"), "{e}");
    }
    refusals(&s, &a, &bind, &keys);
    sweep_dir(&a.dir);
}

#[test]
fn bind_key_files_are_taken_over_rsasha256() {
    let t = bind_takeover("rsasha256", "RSASHA256", [Some("2048"), Some("1024")]);
    let a = &t.a;
    let list: serde_json::Value =
        serde_json::from_str(&a.ok(&["key", "list", "--format", "json"])).unwrap();
    let bits: Vec<(String, u64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["role"].as_str().unwrap().to_string(),
                k["bits"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(bits, [("ksk".to_string(), 2048), ("zsk".to_string(), 1024)]);
    sweep_dir(&a.dir);
}

/// The `.se` case: an RSASHA1 zone (the practice statement's algorithm 5) taken over
/// from BIND's files. The import is allowed, with the RFC 9905 warning every RSASHA1
/// key gets (and the way off it: an algorithm roll, PIPE-7).
#[test]
fn bind_key_files_are_taken_over_rsasha1_with_the_rfc9905_warning() {
    let t = bind_takeover("rsasha1", "RSASHA1", [Some("2048"), Some("1024")]);
    assert_eq!(
        t.import_stderr.matches("RFC 9905").count(),
        2,
        "{}",
        t.import_stderr
    );
    assert!(
        t.import_stderr.contains("key rollover --algorithm"),
        "{}",
        t.import_stderr
    );
    sweep_dir(&t.a.dir);
}

/// Each refusal of `key import --from-file` exits 2, says why (file and line where one
/// line is at fault) and leaves keys.toml and the token as they were.
fn refusals(s: &Setup, a: &Adopted, bind: &std::path::Path, [ksk, zsk]: &[(String, u16); 2]) {
    let bad = s.path("bad");
    fs::create_dir_all(&bad).unwrap();
    let copy = |name: &str, private_from: &str, key_from: &str| {
        fs::copy(
            bind.join(format!("{private_from}.private")),
            bad.join(format!("{name}.private")),
        )
        .unwrap();
        fs::copy(
            bind.join(format!("{key_from}.key")),
            bad.join(format!("{name}.key")),
        )
        .unwrap();
        bad.join(format!("{name}.private"))
    };
    // A line that is not base64 (line 3: `PrivateKey:` under v1.3's header).
    let malformed = copy("Kmalformed", &zsk.0, &zsk.0);
    let text = fs::read_to_string(&malformed).unwrap();
    let broken: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("PrivateKey:") {
                "PrivateKey: not*base64".to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    fs::write(&malformed, broken.join("\n")).unwrap();
    // A .key that is another key's: a third BIND ZSK.
    let other = bind_keygen(bind, "ECDSAP256SHA256", None, false);
    let mismatched = copy("Kmismatch", &zsk.0, &other.0);
    let p384 = bind_keygen(bind, "ECDSAP384SHA384", None, false);
    let elsewhere = bind_tool(
        bind,
        "dnssec-keygen",
        &[
            "-q",
            "-K",
            ".",
            "-n",
            "ZONE",
            "-a",
            "ECDSAP256SHA256",
            "example.",
        ],
    );
    let path = |n: &str| bind.join(format!("{n}.private"));
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["zsk".into(), malformed.display().to_string()],
            format!("{}:3: `PrivateKey` is not base64", malformed.display()),
        ),
        (
            vec!["zsk".into(), mismatched.display().to_string()],
            "the two files are not one key".into(),
        ),
        (
            vec!["zsk".into(), path(&ksk.0).display().to_string()],
            "Import it with --role ksk".into(),
        ),
        (
            vec!["ksk".into(), path(&ksk.0).display().to_string()],
            format!("already in the key state as ksk {}", ksk.1),
        ),
        (
            vec!["zsk".into(), path(elsewhere.trim()).display().to_string()],
            "the key is for the zone example., this key state's zone is se.".into(),
        ),
        (
            vec!["zsk".into(), path(&p384.0).display().to_string()],
            "zonesign signs with algorithms 5".into(),
        ),
        (
            vec![
                "zsk".into(),
                bad.join("Kabsent.private").display().to_string(),
            ],
            "Kabsent.private: cannot read it".into(),
        ),
    ];
    // The same token through another key state (the setup's own config): the key is
    // found in the token by its public half.
    let own_state = fs::read_to_string(s.dir.join("keys.toml")).unwrap();
    let out = run(s.cmd().args([
        "key",
        "import",
        "--role",
        "ksk",
        "--from-file",
        path(&ksk.0).to_str().unwrap(),
    ]));
    assert_exit(&out, EXIT_BAD_INPUT, "a key the token holds already");
    assert!(
        stderr(&out).contains("the token already holds this key (CKA_ID"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        fs::read_to_string(s.dir.join("keys.toml")).unwrap(),
        own_state
    );
    let (state, objects) = (a.state(), s.token_objects());
    for (args, says) in cases {
        let out = run(a.cmd().args([
            "key",
            "import",
            "--role",
            &args[0],
            "--from-file",
            &args[1],
            "--state",
            "active",
        ]));
        assert_exit(&out, EXIT_BAD_INPUT, &format!("{args:?}"));
        assert!(stderr(&out).contains(&says), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("nothing changed"), "{}", stderr(&out));
        assert_eq!(a.state(), state, "{args:?} changed keys.toml");
        assert_eq!(s.token_objects(), objects, "{args:?} changed the token");
    }
}

/// Ed25519 (algorithm 15): the EdDSA key goes in as CKK_EC_EDWARDS.
#[test]
fn bind_key_files_are_taken_over_ed25519() {
    let t = bind_takeover("ed25519", "ED25519", [None, None]);
    assert!(t.import_stderr.is_empty(), "{}", t.import_stderr);
    sweep_dir(&t.a.dir);
}
