//! Email: invitations and password resets, sent through the configured SMTP server by one
//! background task behind a bounded queue, so that a request never waits for (or reveals by
//! its timing) a mail server, and a flood cannot grow memory. Without `[smtp]`, nothing is
//! sent and administrators copy invitation links by hand.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::mpsc;

use crate::config::{SmtpConfig, SmtpTls};

/// Emails waiting to be sent; beyond this, new ones are dropped (and logged).
const QUEUE: usize = 256;
const ATTEMPTS: u32 = 3;

/// One email, in plain text and in HTML.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    /// Shown as the sender's name: the organization's.
    pub from_name: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// What the email is, for logs (never its content: it holds a link).
    pub kind: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("email is not configured")]
    NotConfigured,
    #[error("the email queue is full")]
    QueueFull,
}

#[derive(Clone)]
pub struct Mailer {
    queue: Option<mpsc::Sender<Email>>,
}

impl Mailer {
    /// Starts the sending task when SMTP is configured.
    pub fn start(config: Option<&SmtpConfig>) -> Result<Self, lettre::transport::smtp::Error> {
        let Some(config) = config else {
            return Ok(Self { queue: None });
        };
        let transport = transport(config)?;
        let from = config.from.clone();
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(send_all(transport, from, receiver));
        Ok(Self { queue: Some(sender) })
    }

    pub fn is_configured(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues an email; returns at once.
    pub fn send(&self, email: Email) -> Result<(), MailError> {
        let queue = self.queue.as_ref().ok_or(MailError::NotConfigured)?;
        queue.try_send(email).map_err(|error| {
            tracing::warn!(kind = error.into_inner().kind, "email queue full: email dropped");
            MailError::QueueFull
        })
    }
}

fn transport(
    config: &SmtpConfig,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    let tls = match config.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::StartTls => Tls::Required(TlsParameters::new(config.host.clone())?),
        SmtpTls::Tls => Tls::Wrapper(TlsParameters::new(config.host.clone())?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
        .port(config.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(20)));
    if let Some(user) = &config.user {
        let password = config.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default();
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

async fn send_all(
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: String,
    mut queue: mpsc::Receiver<Email>,
) {
    while let Some(email) = queue.recv().await {
        let message = match message(&from, &email) {
            Ok(message) => message,
            Err(error) => {
                tracing::error!(kind = email.kind, %error, "email could not be composed");
                continue;
            }
        };
        for attempt in 1..=ATTEMPTS {
            match transport.send(message.clone()).await {
                Ok(_) => {
                    tracing::info!(kind = email.kind, "email sent");
                    break;
                }
                Err(error) if attempt < ATTEMPTS => {
                    tracing::warn!(kind = email.kind, attempt, %error, "email not sent; retrying");
                    tokio::time::sleep(Duration::from_secs(2u64.pow(attempt))).await;
                }
                Err(error) => tracing::error!(kind = email.kind, %error, "email not sent"),
            }
        }
    }
}

fn message(from: &str, email: &Email) -> Result<Message, Box<dyn std::error::Error>> {
    let address: Mailbox = from.parse()?;
    // The organization's name with the configured address: "Northwind Traders <bi@…>".
    let sender = Mailbox::new(Some(email.from_name.clone()), address.email);
    Ok(Message::builder().from(sender).to(email.to.parse()?).subject(&email.subject).multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder().header(ContentType::TEXT_PLAIN).body(email.text.clone()),
            )
            .singlepart(
                SinglePart::builder().header(ContentType::TEXT_HTML).body(email.html.clone()),
            ),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email {
            to: "ada@example.com".into(),
            from_name: "Northwind Traders".into(),
            subject: "You are invited".into(),
            text: "Choose a password: https://bi.example.com/welcome#x".into(),
            html: "<p>Choose a password</p>".into(),
            kind: "invitation",
        }
    }

    #[test]
    fn a_message_is_sent_in_the_organizations_name_in_text_and_html() {
        let message = message("Vitrine <bi@example.com>", &email()).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.contains("From: \"Northwind Traders\" <bi@example.com>"), "{raw}");
        assert!(raw.contains("To: ada@example.com"));
        assert!(raw.contains("text/plain"));
        assert!(raw.contains("text/html"));
    }

    #[test]
    fn without_smtp_nothing_is_queued() {
        let mailer = Mailer::start(None).unwrap();
        assert!(!mailer.is_configured());
        assert!(matches!(mailer.send(email()), Err(MailError::NotConfigured)));
    }
}
