//! Starts the real `rustvecdb` binary on an ephemeral port and talks HTTP to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub struct Server {
    child: Child,
    pub base: String,
    client: reqwest::blocking::Client,
}

impl Server {
    /// In memory.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// With durable storage in `dir`.
    pub fn persistent(dir: &Path) -> Server {
        Server::start_with(&[("STORAGE_PATH", dir.to_str().unwrap())])
    }

    /// The binary with the test defaults (loopback, a free port, warn logs, memory) and no
    /// setting inherited from the caller's environment (`RVDB__…`, `RVDB_CONFIG`, …); add args
    /// and env, then `Server::spawn` it (or run it to see it fail).
    pub fn command() -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rustvecdb"));
        for (k, _) in std::env::vars_os() {
            let name = k.to_string_lossy();
            if name.starts_with("RVDB__")
                || ["RVDB_CONFIG", "RVDB_MAX_BODY_BYTES", "RVDB_API_KEY"].contains(&&*name)
            {
                cmd.env_remove(k);
            }
        }
        cmd.env_remove("STORAGE_PATH")
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("RUST_LOG", "warn");
        cmd
    }

    /// Starts a command from `Server::command` and waits for its `listening on` line (stderr
    /// is inherited unless the command redirects it).
    pub fn spawn(mut cmd: Command) -> Server {
        cmd.stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("start rustvecdb");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("rustvecdb listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        let mut server = Server {
            child,
            base,
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        server.await_loaded();
        server
    }

    /// Waits until GET /readyz answers 200 (the port opens before the collections are loaded).
    /// HTTPS servers are left to their tests.
    fn await_loaded(&mut self) {
        if !self.base.starts_with("http://") {
            return;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = self.client.get(format!("{}/readyz", self.base)).send() {
                // 401 (a key is required): the server answers, so it has loaded
                if r.status().as_u16() != 503 {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the server exited while loading: {status}");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not become ready"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Like `send`, with extra request headers; a body that is not JSON comes back as a string.
    pub fn send_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(m, self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    /// GET as text: (status, content type, body).
    pub fn get_text(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
        let mut req = self.client.get(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().expect("request");
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, ct, resp.text().unwrap())
    }

    pub fn start_with(env: &[(&str, &str)]) -> Server {
        let mut cmd = Server::command();
        for (k, v) in env {
            cmd.env(k, v);
        }
        Server::spawn(cmd)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGKILL by pid, usable while other threads still hold the server (they see their
    /// requests fail); the process is reaped on drop.
    pub fn kill9_now(&self) {
        let ok = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Like `send`, but a dead server is an `Err` instead of a panic.
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(m, self.url(path));
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.text().map_err(|e| e.to_string())?;
        let v = serde_json::from_str(&text).map_err(|e| format!("{e}: {text:?}"))?;
        Ok((status, v))
    }

    /// Polls GET /readyz until it answers 200 (a server may answer 503 while it loads its
    /// storage); returns the answers seen before that, as (status, body), a failed request as
    /// status 0. Panics when `timeout` passes without a 200.
    pub fn wait_ready(&self, timeout: Duration) -> Vec<(u16, String)> {
        let start = std::time::Instant::now();
        let mut seen = Vec::new();
        loop {
            let answer = self
                .client
                .get(self.url("/readyz"))
                .send()
                .map_err(|e| e.to_string())
                .and_then(|r| {
                    let status = r.status().as_u16();
                    r.text().map(|t| (status, t)).map_err(|e| e.to_string())
                });
            match answer {
                Ok((200, _)) => return seen,
                Ok(other) => seen.push(other),
                Err(e) => seen.push((0, e)),
            }
            assert!(
                start.elapsed() < timeout,
                "GET /readyz: no 200 within {timeout:?}; answers: {seen:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(m, self.url(path));
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text:?}"));
        (status, v)
    }

    /// Sends a raw body (for malformed JSON and oversized bodies).
    pub fn send_raw(&self, method: &str, path: &str, body: Vec<u8>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = self
            .client
            .request(m, self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}")),
        )
    }

    /// A call that must succeed; returns `result`.
    pub fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (s, v) = self.send(method, path, body);
        assert_eq!(s, 200, "{method} {path}: {v}");
        assert_eq!(v["status"], "ok", "{v}");
        assert!(v["time"].is_number(), "{v}");
        v["result"].clone()
    }

    /// A call that must fail with `status`; returns the error message.
    pub fn fail(&self, method: &str, path: &str, body: Option<&Value>, status: u16) -> String {
        let (s, v) = self.send(method, path, body);
        assert_eq!(s, status, "{method} {path}: {v}");
        v["status"]["error"]
            .as_str()
            .unwrap_or_else(|| panic!("error envelope: {v}"))
            .to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
