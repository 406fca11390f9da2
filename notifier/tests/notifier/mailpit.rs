//! A real SMTP server for the tests: Mailpit (`scripts/test.sh` installs it from the Go
//! module proxy), requiring STARTTLS with a certificate from a CA of the test's own; what
//! arrived is read back through Mailpit's API.

use orderflow_notifier::smtp::{Mailer, SmtpSettings};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use uuid::Uuid;

/// A Mailpit process on ports of its own, killed when dropped.
pub struct Mailpit {
    child: Child,
    pub smtp_port: u16,
    api: String,
    pub ca: PathBuf,
}

impl Drop for Mailpit {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA and a certificate for `localhost` it signed, in `dir`.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=orderflow test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ],
    );
}

/// A Mailpit of the test's own, or `None` (said) outside CI without one installed.
pub async fn mailpit() -> Option<Mailpit> {
    let Some(binary) = orderflow_testkit::installed_tool("ORDERFLOW_MAILPIT") else {
        eprintln!("SKIPPED: ORDERFLOW_MAILPIT is not set (scripts/test.sh sets it)");
        return None;
    };
    Some(start_mailpit(&binary).await)
}

async fn start_mailpit(binary: &str) -> Mailpit {
    let dir = std::env::temp_dir().join(format!("orderflow-mailpit-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    let (smtp_port, api_port) = (free_port(), free_port());
    let child = Command::new(binary)
        .args(["--smtp", &format!("127.0.0.1:{smtp_port}")])
        .args(["--listen", &format!("127.0.0.1:{api_port}")])
        .args(["--database", dir.join("mailpit.db").to_str().unwrap()])
        .args([
            "--smtp-tls-cert",
            "server.pem",
            "--smtp-tls-key",
            "server.key",
        ])
        .args([
            "--smtp-require-starttls",
            "--smtp-disable-rdns",
            "--disable-version-check",
        ])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mailpit starts");
    let api = format!("http://127.0.0.1:{api_port}");
    let mailpit = Mailpit {
        child,
        smtp_port,
        api,
        ca: dir.join("ca.pem"),
    };
    for _ in 0..100 {
        if messages(&mailpit).await.is_some() {
            return mailpit;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("mailpit did not start");
}

/// The messages Mailpit holds (its API), or `None` while it does not answer.
pub async fn messages(mailpit: &Mailpit) -> Option<Value> {
    let response = reqwest::get(format!("{}/api/v1/messages", mailpit.api))
        .await
        .ok()?;
    response.json().await.ok()
}

pub fn mailer(mailpit: &Mailpit, url: String) -> Mailer {
    Mailer::new(&SmtpSettings {
        url,
        from: "orderflow <orders@example.com>".into(),
        ca_file: Some(mailpit.ca.clone()),
    })
    .unwrap()
}

impl Mailpit {
    /// The URL the notifier sends to: STARTTLS required.
    pub fn url(&self) -> String {
        format!("smtp://localhost:{}?tls=required", self.smtp_port)
    }
}
