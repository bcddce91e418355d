//! A headless Chromium driven over WebDriver, for end-to-end tests that need a real browser
//! (JavaScript, dialogs, what a person sees).
//!
//! [`Browser::start`] runs Debian's `chromedriver` on a free loopback port and opens a session
//! in a fresh profile. Install both with `scripts/ensure-chromium.sh`. Every wait is bounded in
//! time and in attempts, so a missing element fails the test instead of hanging it. Use it from
//! a multi-thread Tokio test on the real clock: a paused clock would fire its timeouts while
//! the browser works.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tempfile::TempDir;

/// The browser binary, from Debian's `chromium` package.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Its WebDriver server, from Debian's `chromium-driver` package.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);
/// How long `chromedriver` may take to listen.
const DRIVER_START: Duration = Duration::from_secs(10);
/// How long an element or a dialog may take to show up.
const ELEMENT_WAIT: Duration = Duration::from_secs(5);
/// How long one WebDriver command may take (a cold browser start is the slowest).
const COMMAND: Duration = Duration::from_secs(30);
/// How long `Drop` gives `chromedriver` to take its browser down before killing it.
const SHUTDOWN: Duration = Duration::from_secs(3);

/// Chromium's flags: headless, no sandbox (tests run as root in containers), and nothing that
/// phones home or waits on a first-run dialog, so a run is quiet and the same every time.
const ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
];

/// A headless Chromium session and the `chromedriver` serving it.
///
/// Call [`Browser::close`] at the end of a test. Dropping it without closing (a failed test)
/// still stops `chromedriver` and the browser, and removes the profile.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    driver: Child,
    driver_addr: SocketAddr,
    /// The profile and chromedriver's log; removed (after `Drop` stops the processes).
    _dir: TempDir,
}

impl Browser {
    /// Starts `chromedriver` on a free loopback port and opens a session in a fresh profile.
    ///
    /// # Panics
    ///
    /// When Chromium or `chromedriver` is not installed (run `scripts/ensure-chromium.sh`), or
    /// when either fails to start in time; the message then carries `chromedriver`'s output.
    pub async fn start() -> Self {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: the browser tests need Chromium and chromedriver; \
                 run scripts/ensure-chromium.sh (as root) to install them"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("isr-browser-")
            .tempdir()
            .expect("create a temporary directory for the browser");
        let profile = dir.path().join("profile");
        let log_path = dir.path().join("chromedriver.log");

        // A port the kernel just handed out is free; chromedriver binds it right after.
        let port = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|listener| listener.local_addr())
            .expect("find a free loopback port")
            .port();
        let driver_addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = std::fs::File::create(&log_path).expect("create the chromedriver log");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("share the chromedriver log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}"));
        // From here on, a panic drops `starting`, which stops chromedriver.
        let mut starting = Starting {
            driver: Some(driver),
            addr: driver_addr,
            log_path,
        };
        starting.wait_listening().await;

        let mut args: Vec<String> = ARGS.iter().map(|&arg| arg.to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            // Bounds navigation and scripts on the browser's side as well.
            "timeouts": { "pageLoad": 15_000, "script": 10_000, "implicit": 0 },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("capabilities are an object")
        };
        let connecting = async {
            // chromedriver listens on loopback: plain HTTP, no TLS stack.
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&format!("http://{driver_addr}"))
                .await
        };
        let client = match tokio::time::timeout(COMMAND, connecting).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => starting.fail(&format!("open a Chromium session: {e}")),
            Err(_) => starting.fail(&format!("no Chromium session within {COMMAND:?}")),
        };
        let driver = starting.driver.take().expect("chromedriver is running");
        Self {
            client,
            driver,
            driver_addr,
            _dir: dir,
        }
    }

    /// The WebDriver client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        bounded(&format!("go to {url}"), self.client.goto(url)).await;
    }

    /// Waits (up to 5 s) until an element matches `css`.
    pub async fn wait_for(&self, css: &str) {
        self.find(css).await;
    }

    /// Waits (up to 5 s) until the page's URL contains `part`: after a click that submits a
    /// form, the old page can still be read until the browser has navigated.
    pub async fn wait_for_url(&self, part: &str) {
        let mut last = String::new();
        for _ in 0..attempts(ELEMENT_WAIT) {
            last = bounded("read the URL", self.client.current_url())
                .await
                .to_string();
            if last.contains(part) {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!("the URL never contained {part:?} within {ELEMENT_WAIT:?} (last {last})");
    }

    /// The rendered text of the first element matching `css`, waiting (up to 5 s) for it.
    pub async fn text(&self, css: &str) -> String {
        // The element found may be replaced by a navigation still under way: read it again.
        for _ in 0..attempts(ELEMENT_WAIT) {
            let element = self.find(css).await;
            match bounded_result(element.text()).await {
                Ok(text) => return text,
                Err(e) if retryable(&e) || e.to_string().contains("stale element") => {
                    tokio::time::sleep(POLL).await;
                }
                Err(e) => panic!("read the text of {css}: {e}"),
            }
        }
        panic!("the text of {css} could not be read within {ELEMENT_WAIT:?}");
    }

    /// Clears the input matching `css` (waiting up to 5 s for it), then types `value` into it.
    pub async fn fill(&self, css: &str, value: &str) {
        let element = self.find(css).await;
        bounded(&format!("clear {css}"), element.clear()).await;
        bounded(&format!("type into {css}"), element.send_keys(value)).await;
    }

    /// Clicks the element matching `css`, waiting (up to 5 s) for it.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        bounded(&format!("click {css}"), element.click()).await;
    }

    /// Accepts the open `alert`, `confirm` or `prompt` dialog, waiting (up to 5 s) for one.
    pub async fn accept_alert(&self) {
        let deadline = Instant::now() + ELEMENT_WAIT;
        for _ in 0..attempts(ELEMENT_WAIT) {
            match bounded_result(self.client.accept_alert()).await {
                Ok(()) => return,
                Err(e) if e.is_no_such_alert() && Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await;
                }
                Err(e) if e.is_no_such_alert() => break,
                Err(e) => panic!("accept a dialog: {e}"),
            }
        }
        panic!("no dialog to accept within {ELEMENT_WAIT:?}");
    }

    /// How many elements match `css` now (no waiting).
    pub async fn count(&self, css: &str) -> usize {
        bounded(
            &format!("find all {css}"),
            self.client.find_all(Locator::Css(css)),
        )
        .await
        .len()
    }

    /// Writes a PNG screenshot of the window to `path`, creating its parent directories.
    pub async fn screenshot(&self, path: &Path) {
        let png = bounded("take a screenshot", self.client.screenshot()).await;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Ends the session (the browser quits), then stops `chromedriver`. Best-effort: a session
    /// that will not close is left to `chromedriver`'s shutdown.
    pub async fn close(self) {
        let _ = tokio::time::timeout(COMMAND, self.client.clone().close()).await;
        drop(self);
    }

    /// The first element matching `css`, polled every 50 ms for up to 5 s.
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let deadline = Instant::now() + ELEMENT_WAIT;
        for _ in 0..attempts(ELEMENT_WAIT) {
            match bounded_result(self.client.find(Locator::Css(css))).await {
                Ok(element) => return element,
                Err(e) if retryable(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await;
                }
                Err(e) if retryable(&e) => break,
                Err(e) => panic!("find {css}: {e}"),
            }
        }
        panic!("no element matches {css} within {ELEMENT_WAIT:?}");
    }
}

/// Whether a failed lookup may succeed when asked again: the element is not there yet, or the
/// page was navigating (after a form's submit, Chromium answers a lookup made meanwhile with
/// "aborted by navigation").
fn retryable(error: &fantoccini::error::CmdError) -> bool {
    error.is_no_such_element() || error.to_string().contains("aborted by navigation")
}

impl Drop for Browser {
    fn drop(&mut self) {
        stop_driver(&mut self.driver, self.driver_addr);
    }
}

/// `chromedriver` while the session opens: stopped if starting fails.
struct Starting {
    driver: Option<Child>,
    addr: SocketAddr,
    log_path: PathBuf,
}

impl Starting {
    /// Polls every 50 ms until `chromedriver` accepts connections (at most 10 s).
    async fn wait_listening(&mut self) {
        let addr = self.addr;
        let deadline = Instant::now() + DRIVER_START;
        for _ in 0..attempts(DRIVER_START) {
            if let Some(driver) = self.driver.as_mut()
                && let Ok(Some(status)) = driver.try_wait()
            {
                self.fail(&format!("chromedriver exited early ({status})"));
            }
            let connect = tokio::net::TcpStream::connect(addr);
            if let Ok(Ok(_)) = tokio::time::timeout(POLL, connect).await {
                return;
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        self.fail(&format!(
            "chromedriver not listening on {addr} within {DRIVER_START:?}"
        ));
    }

    /// Stops `chromedriver` and panics with `what` and its output.
    fn fail(&mut self, what: &str) -> ! {
        if let Some(mut driver) = self.driver.take() {
            stop_driver(&mut driver, self.addr);
        }
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        panic!("{what}; chromedriver said:\n{log}");
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        if let Some(mut driver) = self.driver.take() {
            stop_driver(&mut driver, self.addr);
        }
    }
}

/// Stops `driver`. Killing `chromedriver` alone would leave its Chromium running (orphaned),
/// so it is first asked at `addr` to shut down, which quits its browsers; it is killed by PID
/// if it has not exited after a few seconds, then reaped.
fn stop_driver(driver: &mut Child, addr: SocketAddr) {
    let running = matches!(driver.try_wait(), Ok(None));
    let asked = running
        && (|| {
            let mut stream = TcpStream::connect_timeout(&addr, SHUTDOWN)?;
            stream.set_read_timeout(Some(SHUTDOWN))?;
            stream.set_write_timeout(Some(SHUTDOWN))?;
            stream.write_all(
                b"GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            )?;
            // The answer may be cut short by the exit it announces; the request got there.
            let _ = stream.read_to_end(&mut Vec::new());
            std::io::Result::Ok(())
        })()
        .is_ok();
    if asked {
        let deadline = Instant::now() + SHUTDOWN;
        for _ in 0..attempts(SHUTDOWN) {
            if matches!(driver.try_wait(), Ok(Some(_))) || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(POLL);
        }
    }
    let _ = driver.kill();
    let _ = driver.wait();
}

/// How many polls fit in `within`, plus one: the cap on a wait's loop.
fn attempts(within: Duration) -> u32 {
    u32::try_from(within.as_millis() / POLL.as_millis()).unwrap_or(u32::MAX) + 1
}

/// Runs one WebDriver command with a time limit, panicking on an error or a time-out.
async fn bounded<T>(what: &str, command: impl Future<Output = Result<T, CmdError>>) -> T {
    match tokio::time::timeout(COMMAND, command).await {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => panic!("{what}: {e}"),
        Err(_) => panic!("{what}: no answer from the browser within {COMMAND:?}"),
    }
}

/// Runs one WebDriver command with a time limit, returning its error; panics on a time-out.
async fn bounded_result<T>(
    command: impl Future<Output = Result<T, CmdError>>,
) -> Result<T, CmdError> {
    tokio::time::timeout(COMMAND, command)
        .await
        .unwrap_or_else(|_| panic!("no answer from the browser within {COMMAND:?}"))
}

/// Where build output goes: `CARGO_TARGET_DIR` (relative to the workspace root when relative),
/// else the workspace's `target`.
pub fn target_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the test crate sits in the workspace");
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}
