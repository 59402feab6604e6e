//! The documented examples run against the real server.

mod common;

use std::process::Command;

use common::Server;

#[test]
fn the_python_walkthrough_runs_against_the_server() {
    let Ok(python) = which_python() else {
        eprintln!("skipped: no python3 on PATH");
        return;
    };
    let s = Server::start();
    let out = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/api_client.py"
        ))
        .env("RVDB_URL", &s.base)
        .output()
        .expect("run examples/api_client.py");
    assert!(
        out.status.success(),
        "api_client.py failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn which_python() -> Result<&'static str, ()> {
    for p in ["python3", "python"] {
        if Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Ok(p);
        }
    }
    Err(())
}
