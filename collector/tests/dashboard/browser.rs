//! Headless Chromium driven over WebDriver (chromedriver + fantoccini), with the flags a closed
//! network needs and a fresh profile. Missing browser: the test fails under CI=true, and says
//! it skipped otherwise.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--lang=en-US",
    "--window-size=1280,1800",
];

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/lib/chromium")]) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The browser binaries, or None after saying why (a panic under CI).
pub fn available() -> Option<(PathBuf, PathBuf)> {
    let found = (find(&["chromedriver"]), find(&["chromium", "chromium-browser", "google-chrome"]));
    match found {
        (Some(driver), Some(browser)) => Some((driver, browser)),
        _ => {
            let msg = "headless Chromium and chromedriver are missing (Debian: apt-get install chromium \
                       chromium-driver; .ci/run installs them)";
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("{msg}");
            }
            eprintln!("SKIPPED the browser tests: {msg}");
            None
        }
    }
}

/// A chromedriver process and one browser session.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// Start chromedriver and a session; `javascript` false turns scripts off.
    pub async fn start(driver: &Path, browser: &Path, javascript: bool) -> Browser {
        let port = free_port();
        // Its own process group, so a failed test can end chromedriver and its browsers together.
        let mut child = Command::new(driver)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not listen on {port}");
            if let Ok(Some(status)) = child.try_wait() {
                panic!("chromedriver exited: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut options = json!({"binary": browser, "args": args});
        if !javascript {
            options["prefs"] = json!({"profile.managed_default_content_settings.javascript": 2});
        }
        let caps = json!({"browserName": "chrome", "goog:chromeOptions": options});
        let caps: serde_json::Map<String, Value> = serde_json::from_value(caps).unwrap();
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a browser session");
        Browser { client, driver: child, _profile: profile }
    }

    /// Run `script` (a function body with `return`) and get its value.
    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Wait until the URL contains `part`.
    pub async fn wait_url(&self, part: &str) -> String {
        let started = Instant::now();
        loop {
            let url = self.client.current_url().await.unwrap().to_string();
            if url.contains(part) {
                return url;
            }
            assert!(started.elapsed() < Duration::from_secs(15), "the URL never had {part}: {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Save a screenshot as `<dir>/<name>.png`.
    pub async fn screenshot(&self, dir: &Path, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "{name}: a PNG");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// Also when a test fails midway: chromedriver and the browsers it started (its process group).
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
