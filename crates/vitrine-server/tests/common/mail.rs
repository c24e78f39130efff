//! A real SMTP server for tests: `aiosmtpd` (PyPI) writing what it receives to a Maildir.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct MailCatcher {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl MailCatcher {
    /// Starts `python3 -m aiosmtpd` on a free loopback port and waits until it accepts mail.
    pub async fn start() -> MailCatcher {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let dir = tempfile::tempdir().expect("maildir");
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (pip install aiosmtpd)");
        let catcher = MailCatcher { port, dir, child };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return catcher;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not start on port {port}");
    }

    fn messages(&self) -> Vec<String> {
        let new: PathBuf = self.dir.path().join("mail").join("new");
        let mut files: Vec<_> = std::fs::read_dir(&new)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files.iter().filter_map(|path| std::fs::read_to_string(path).ok()).collect()
    }

    /// Every message received so far for `to`, decoded from quoted-printable.
    pub fn messages_to(&self, to: &str) -> Vec<String> {
        self.messages()
            .into_iter()
            .filter(|m| m.lines().any(|line| line.starts_with("To: ") && line.contains(to)))
            .map(|m| decode_quoted_printable(&m))
            .collect()
    }

    /// Waits up to ten seconds for the `n`th message (1-based) to `to`.
    pub async fn wait_for(&self, to: &str, n: usize) -> String {
        for _ in 0..200 {
            if let Some(message) = self.messages_to(to).into_iter().nth(n - 1) {
                return message;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no message {n} to {to} arrived; received: {:#?}", self.messages());
    }
}

impl Drop for MailCatcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn decode_quoted_printable(text: &str) -> String {
    text.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}

/// The first link in a message that starts with `prefix`.
pub fn link(message: &str, prefix: &str) -> String {
    let start = message.find(prefix).unwrap_or_else(|| panic!("no {prefix} link in {message}"));
    message[start..].chars().take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<').collect()
}
