//! A minimal SMTP server for tests of `email.send`: plain SMTP on a loopback port (EHLO, AUTH PLAIN and LOGIN,
//! MAIL, RCPT, DATA, RSET, NOOP, QUIT) that keeps every message it receives. A recipient whose address starts
//! with `reject` is refused with `550`, for the failure path.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::{engine::general_purpose::STANDARD, Engine};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::Notify,
};

/// One message as the server received it.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// `MAIL FROM` (without the angle brackets).
    pub from: String,
    /// Every accepted `RCPT TO`.
    pub to: Vec<String>,
    /// The message (headers and body, CRLF line ends, dot-unstuffed).
    pub data: String,
    /// `user:password` of the AUTH exchange, when there was one.
    pub auth: Option<String>,
}

impl Captured {
    /// The first header `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some(f) = found.as_mut() {
                    f.push_str(line.trim_start_matches(['\t']));
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                if n.eq_ignore_ascii_case(name) {
                    found = Some(v.trim().to_owned());
                }
            }
        }
        found
    }
}

/// A running test SMTP server.
pub struct SmtpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    messages: Arc<Mutex<Vec<Captured>>>,
    arrived: Arc<Notify>,
}

impl SmtpServer {
    /// Starts a server on a free loopback port.
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let addr = listener.local_addr().expect("smtp addr");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let (m, a) = (messages.clone(), arrived.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (m, a) = (m.clone(), a.clone());
                tokio::spawn(async move {
                    let _ = session(stream, m, a).await;
                });
            }
        });
        SmtpServer {
            addr,
            messages,
            arrived,
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The messages received so far.
    pub fn messages(&self) -> Vec<Captured> {
        self.messages.lock().expect("smtp messages").clone()
    }

    /// Waits (30 s at most) until at least `n` messages arrived, and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Captured> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let notified = self.arrived.notified();
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "expected {n} messages at the test SMTP server, got {}",
                    self.messages().len()
                );
            }
        }
    }
}

fn decode(b64: &str) -> String {
    String::from_utf8_lossy(&STANDARD.decode(b64.trim()).unwrap_or_default()).into_owned()
}

fn address(arg: &str) -> String {
    let arg = arg.split_once(':').map_or(arg, |(_, a)| a).trim();
    let arg = arg.split_whitespace().next().unwrap_or_default();
    arg.trim_start_matches('<').trim_end_matches('>').to_owned()
}

async fn session(
    stream: TcpStream,
    messages: Arc<Mutex<Vec<Captured>>>,
    arrived: Arc<Notify>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    let mut current = Captured::default();
    let mut auth: Option<String> = None;
    write.write_all(b"220 flowmate-test ESMTP\r\n").await?;
    macro_rules! next_line {
        () => {{
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            line.trim_end_matches(['\r', '\n']).to_owned()
        }};
    }
    loop {
        let command = next_line!();
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-flowmate-test\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if upper.starts_with("RSET") {
            current = Captured::default();
            b"250 OK\r\n"
        } else if upper.starts_with("AUTH PLAIN") {
            let mut initial = command[10..].trim().to_owned();
            if initial.is_empty() {
                write.write_all(b"334 \r\n").await?;
                initial = next_line!();
            }
            let parts: Vec<String> = decode(&initial).split('\0').map(str::to_owned).collect();
            auth = Some(format!(
                "{}:{}",
                parts.get(1).cloned().unwrap_or_default(),
                parts.get(2).cloned().unwrap_or_default()
            ));
            b"235 2.7.0 Authentication successful\r\n"
        } else if upper.starts_with("AUTH LOGIN") {
            write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
            let user = decode(&next_line!());
            write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
            let password = decode(&next_line!());
            auth = Some(format!("{user}:{password}"));
            b"235 2.7.0 Authentication successful\r\n"
        } else if upper.starts_with("MAIL FROM") {
            current = Captured {
                from: address(&command),
                ..Captured::default()
            };
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO") {
            let to = address(&command);
            if to.starts_with("reject") {
                b"550 5.1.1 No such user\r\n"
            } else {
                current.to.push(to);
                b"250 OK\r\n"
            }
        } else if upper == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                let l = next_line!();
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push_str("\r\n");
            }
            current.data = data;
            current.auth = auth.clone();
            messages
                .lock()
                .expect("smtp messages")
                .push(std::mem::take(&mut current));
            arrived.notify_waiters();
            b"250 OK queued\r\n"
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 Command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}
