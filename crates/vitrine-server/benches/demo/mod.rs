//! The release `vitrine demo` a load generator measures: its own process, on a free port,
//! every account's password [`PASSWORD`]; stopped when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const PASSWORD: &str = "bench-password-1";

pub struct Demo {
    pub child: Child,
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base: String,
}

impl Demo {
    /// Starts `vitrine demo` with `args` added, and waits until it prints its address.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vitrine"))
            .args(["demo", "--port", "0", "--password", PASSWORD])
            .args(args)
            .env("VITRINE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start vitrine demo");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next();
        // The demo goes on printing: a closed pipe would end it.
        std::thread::spawn(move || lines.for_each(drop));
        let base = first
            .and_then(Result::ok)
            .and_then(|line| {
                line.strip_prefix("Vitrine demo is running at ")
                    .map(|u| u.trim_end_matches('/').to_string())
            })
            .expect("demo URL");
        Self { child, base }
    }

    #[allow(dead_code)] // not every load generator reads the server's memory
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
