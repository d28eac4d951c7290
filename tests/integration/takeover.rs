//! Taking over a live zone's keys (issue 23): `init --adopt` writes a config for a token
//! that exists, and `key import` adopts key pairs that another program made in it, by
//! PKCS#11 id, label or URI (RFC 7512), after checking each one (sensitive, not
//! extractable, a public key object that belongs to it, an algorithm zonesign signs
//! with). The other program here is OpenSC's `pkcs11-tool`, in a real SoftHSM2 token.

use std::fs;

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
    let out = run(a
        .cmd()
        .arg("sign")
        .arg(&zone)
        .args(["--origin", "se.", "--out"])
        .arg(&signed)
        .arg("--ds-anchor")
        .arg(&ds));
    assert_exit(&out, EXIT_OK, "sign with imported keys");
    all_validators(&signed, "se.", &ds).unwrap_or_else(|e| panic!("{e}"));
    let check = stdout(&run(a.cmd().args(["check"])));
    assert!(
        check.contains("imported, not necessarily generated"),
        "{check}"
    );
    sweep_dir(&a.dir);
}
