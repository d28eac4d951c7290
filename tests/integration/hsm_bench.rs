//! `zonesign hsm bench` against a fresh `zonesign init` setup (issue 5).

use crate::common::{EXIT_OK, Setup, assert_exit, run, stdout};

#[test]
fn hsm_bench_reports_a_positive_rate() {
    let setup = Setup::new("ecdsap256sha256");
    let out = run(setup.cmd().args([
        "hsm",
        "bench",
        "--sessions",
        "2",
        "--seconds",
        "1",
        "--format",
        "json",
    ]));
    assert_exit(&out, EXIT_OK, "zonesign hsm bench");
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON report");
    assert_eq!(report["sessions"], 2);
    assert_eq!(report["per_session"].as_array().map(Vec::len), Some(2));
    // SoftHSM2 makes the session copies (`[hsm] session-key-copies`, on by default).
    assert_eq!(report["copying_sessions"], 2, "{report}");
    // Each session ran in its own worker process (`[hsm] worker-processes`).
    assert_eq!(report["worker_processes"], true, "{report}");
    assert!(report["signatures"].as_u64().unwrap_or(0) > 0, "{report}");
    assert!(report["rate"].as_f64().unwrap_or(0.0) > 0.0, "{report}");
    assert_eq!(report["algorithm"], "ecdsap256sha256");
    let audit = std::fs::read_to_string(setup.dir.join("audit.log")).expect("audit log");
    assert!(
        audit.contains("\"command\":\"hsm bench\"") && audit.contains("\"what\":\"benchmark\""),
        "the bench's login and signing are audit-logged:\n{audit}"
    );
}

#[test]
fn hsm_bench_text_report() {
    let setup = Setup::new("rsasha1");
    let out = run(setup
        .cmd()
        .args(["hsm", "bench", "--sessions", "1", "--seconds", "0.3"]));
    assert_exit(&out, EXIT_OK, "zonesign hsm bench");
    let text = stdout(&out);
    assert!(
        text.contains("CKM_SHA1_RSA_PKCS") && text.contains("signatures/s"),
        "{text}"
    );
}
