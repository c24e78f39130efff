//! Reading a live channel's server-sent events.

use std::time::Duration;

/// One server-sent event.
#[derive(Debug)]
pub struct Sse {
    pub event: String,
    pub data: String,
    pub id: Option<String>,
}

/// Reads events until one named `until` arrives or `within` passes; returns all of them.
pub async fn events_until(
    response: &mut reqwest::Response,
    until: &str,
    within: Duration,
) -> Vec<Sse> {
    let deadline = tokio::time::Instant::now() + within;
    let (mut buffer, mut events) = (String::new(), Vec::new());
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, response.chunk()).await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut sse = Sse { event: "message".into(), data: String::new(), id: None };
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    sse.event = value.trim().into();
                } else if let Some(value) = line.strip_prefix("data:") {
                    sse.data = value.trim().into();
                } else if let Some(value) = line.strip_prefix("id:") {
                    sse.id = Some(value.trim().into());
                }
            }
            if block.lines().all(|line| line.starts_with(':')) {
                continue;
            }
            let done = sse.event == until;
            events.push(sse);
            if done {
                return events;
            }
        }
    }
    events
}
