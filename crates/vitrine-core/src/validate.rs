//! Rules for the values users type: emails, names, passwords, dates.

use chrono::{DateTime, NaiveDate, Utc};

use crate::input::FieldError;

pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_BYTES: usize = 1024;
const NAME_MAX_CHARS: usize = 200;
const DESCRIPTION_MAX_CHARS: usize = 2000;
const EMAIL_MAX_BYTES: usize = 254;

/// Trims and lower-cases an email address and checks its shape.
pub fn email(field: &str, raw: &str) -> Result<String, FieldError> {
    let email = raw.trim().to_ascii_lowercase();
    let invalid = || FieldError::new(field, "must be an email address such as name@example.com");
    if email.is_empty() || email.len() > EMAIL_MAX_BYTES {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    let local_ok = !local.is_empty()
        && local.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '@');
    if domain_ok && local_ok { Ok(email) } else { Err(invalid()) }
}

/// A display name: 1 to 200 characters, no control characters, trimmed.
pub fn name(field: &str, raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(FieldError::new(field, format!("must be at most {NAME_MAX_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(name.to_string())
}

/// Free text up to 2000 characters; may be empty.
pub fn description(field: &str, raw: &str) -> Result<String, FieldError> {
    let text = raw.trim();
    if text.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(FieldError::new(
            field,
            format!("must be at most {DESCRIPTION_MAX_CHARS} characters"),
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(text.to_string())
}

pub fn password(field: &str, raw: &str) -> Result<(), FieldError> {
    if raw.chars().count() < PASSWORD_MIN_CHARS {
        return Err(FieldError::new(
            field,
            format!("must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if raw.len() > PASSWORD_MAX_BYTES {
        return Err(FieldError::new(field, format!("must be at most {PASSWORD_MAX_BYTES} bytes")));
    }
    Ok(())
}

/// An expiry moment: an RFC 3339 timestamp, or a date meaning the end of that day (UTC).
pub fn expiry(field: &str, raw: &str) -> Result<DateTime<Utc>, FieldError> {
    let raw = raw.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(23, 59, 59))
        .map(|at| at.and_utc())
        .ok_or_else(|| {
            FieldError::new(field, "must be a date (2026-12-31) or an RFC 3339 timestamp")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_malformed_ones_refused() {
        assert_eq!(email("email", " Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@ex ample.com",
        ] {
            assert_eq!(email("email", bad).unwrap_err().field, "email", "{bad:?}");
        }
    }

    #[test]
    fn names_must_be_present_short_and_printable() {
        assert_eq!(name("name", "  Ada ").unwrap(), "Ada");
        assert!(name("name", "   ").is_err());
        assert!(name("name", &"x".repeat(201)).is_err());
        assert!(name("name", "a\u{0}b").is_err());
    }

    #[test]
    fn expiry_accepts_dates_and_timestamps() {
        assert_eq!(
            expiry("expiresAt", "2026-12-31").unwrap().to_rfc3339(),
            "2026-12-31T23:59:59+00:00"
        );
        assert!(expiry("expiresAt", "2026-12-31T10:00:00Z").is_ok());
        assert!(expiry("expiresAt", "tomorrow").is_err());
    }

    #[test]
    fn passwords_have_a_minimum_and_a_maximum_length() {
        assert!(password("password", "short").is_err());
        assert!(password("password", "long enough").is_ok());
        assert!(password("password", &"x".repeat(2000)).is_err());
    }
}
