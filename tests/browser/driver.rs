//! Starting chromedriver and a headless Chromium session, and the few browser helpers the journeys use.

use std::{path::PathBuf, process::Stdio, time::Duration};

use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A browser session; chromedriver (and with it Chromium) ends when it is dropped.
pub struct Browser {
    pub client: Client,
    pub base: String,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
    prefix: String,
}

/// Whether the browser tests can run here; `false` (with a note) when Chromium is missing, outside CI.
pub fn available() -> bool {
    let present = std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
        );
        eprintln!("skipping browser test: {CHROMIUM} or {CHROMEDRIVER} not installed");
    }
    present
}

impl Browser {
    /// Starts chromedriver on a free port and opens a fresh headless Chromium on `base`; screenshots are named
    /// `<prefix>-<name>.png`.
    pub async fn open(base: &str, prefix: &str) -> Browser {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": args}),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut client = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            client: client.expect("a WebDriver session within 10 s"),
            base: base.to_owned(),
            _driver: driver,
            _profile: profile,
            shots,
            prefix: prefix.to_owned(),
        }
    }

    /// Opens a console path.
    pub async fn go(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    /// The element `css` once it exists (10 s at most).
    pub async fn wait(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(15))
            .every(Duration::from_millis(100))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
    }

    /// The text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.wait(css).await.text().await.unwrap()
    }

    /// Whether `css` exists now.
    pub async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// Types into an input.
    pub async fn fill(&self, css: &str, text: &str) {
        self.wait(css).await.send_keys(text).await.unwrap();
    }

    /// Clicks an element.
    pub async fn click(&self, css: &str) {
        self.wait(css).await.click().await.unwrap();
    }

    /// The path (and query) shown in the address bar.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Saves a screenshot of the window.
    pub async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{}-{name}.png", self.prefix)), png).unwrap();
    }

    /// Signs in through the login form.
    pub async fn sign_in(&self, username: &str, password: &str) {
        self.go("/console").await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("#sign-in").await;
        self.wait("#who").await;
    }

    /// No alert box is open (a script injected into the page would have opened one).
    pub async fn assert_no_alert(&self) {
        assert!(
            self.client.get_alert_text().await.is_err(),
            "an alert opened: injected script ran"
        );
    }

    /// Ends the session.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
