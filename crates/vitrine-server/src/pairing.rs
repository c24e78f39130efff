//! Pairing a screen by a code shown on it. A screen opening `/display` asks for a code and gets
//! it with a secret of its own; an administrator enters the code; the screen, asking with its
//! secret, then receives its display credential, once. The code alone is never a credential:
//! whoever enters it pairs the screen into their organization, and only the holder of the
//! secret receives what pairing made.
//!
//! Pending pairings live in this node's memory, bounded (per address and in all) and never
//! written anywhere, so that no anonymous request writes to the database. Codes expire after
//! [`CODE_LIFETIME`], are used once, and wrong codes are counted per organization: past
//! [`MAX_WRONG_CODES`] in [`WRONG_CODE_WINDOW`] every attempt is refused for a while.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};
use vitrine_core::OrgId;
use vitrine_store::Display;

/// How long a code can be entered.
pub const CODE_LIFETIME: Duration = Duration::minutes(10);
/// Letters and digits easy to read across a room and to type: no 0/O, 1/I/L, 2/Z, 5/S, 8/B.
pub const CODE_ALPHABET: &[u8] = b"ACDEFGHJKMNPQRTUVWXY34679";
pub const CODE_LENGTH: usize = 6;
/// Pending pairings one address may hold (an office of screens behind one router).
pub const MAX_PENDING_PER_ADDRESS: usize = 20;
/// Pending pairings this node holds in all.
pub const MAX_PENDING: usize = 10_000;
/// Wrong codes an organization may enter per window before it must wait.
pub const MAX_WRONG_CODES: usize = 10;
pub const WRONG_CODE_WINDOW: Duration = Duration::minutes(10);

/// What a screen is given when it asks for a code.
#[derive(Debug, Clone)]
pub struct Started {
    pub code: String,
    /// Presented by the screen to collect its credential; never shown.
    pub secret: String,
    pub expires_at: DateTime<Utc>,
}

/// What a screen's secret finds.
#[derive(Debug, Clone)]
pub enum Claim {
    /// Nobody has entered the code yet.
    Waiting,
    /// Paired: the credential, handed over this once.
    Paired { credential: String, display: Box<Display> },
    /// Unknown, expired or already collected: the screen asks for a new code.
    Gone,
}

/// Why a code entered by an administrator pairs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No screen shows this code now (wrong, expired or used).
    WrongCode,
    /// Too many wrong codes lately; wait.
    TooManyAttempts,
}

/// Why a screen gets no code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

struct Pending {
    secret_hash: [u8; 32],
    address: IpAddr,
    expires_at: DateTime<Utc>,
    state: PendingState,
}

enum PendingState {
    Shown,
    /// An administrator entered it and the display is being made.
    Reserved,
    Paired {
        credential: String,
        display: Box<Display>,
    },
}

#[derive(Default)]
struct Table {
    by_code: HashMap<String, Pending>,
    code_of_secret: HashMap<[u8; 32], String>,
    wrong: HashMap<OrgId, VecDeque<DateTime<Utc>>>,
}

#[derive(Default)]
pub struct Pairings {
    table: Mutex<Table>,
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The code as a screen shows it, from what someone typed: case, spaces and dashes aside.
pub fn normalize(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

fn new_code(rng: &mut impl Rng) -> String {
    (0..CODE_LENGTH)
        .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
        .collect()
}

impl Table {
    fn purge(&mut self, now: DateTime<Utc>) {
        let expired: Vec<String> = self
            .by_code
            .iter()
            .filter(|(_, pending)| pending.expires_at <= now)
            .map(|(code, _)| code.clone())
            .collect();
        for code in expired {
            if let Some(pending) = self.by_code.remove(&code) {
                self.code_of_secret.remove(&pending.secret_hash);
            }
        }
        let since = now - WRONG_CODE_WINDOW;
        self.wrong.retain(|_, times| {
            times.retain(|at| *at > since);
            !times.is_empty()
        });
    }
}

impl Pairings {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new code for a screen at `address`, unless that address or this node holds too many.
    pub fn start(&self, address: IpAddr, now: DateTime<Utc>) -> Result<Started, Busy> {
        let mut table = self.lock();
        table.purge(now);
        let from_here = table.by_code.values().filter(|p| p.address == address).count();
        if from_here >= MAX_PENDING_PER_ADDRESS || table.by_code.len() >= MAX_PENDING {
            return Err(Busy);
        }
        let mut rng = rand::rng();
        let code = loop {
            let code = new_code(&mut rng);
            if !table.by_code.contains_key(&code) {
                break code;
            }
        };
        let secret = crate::auth::random_secret();
        let secret_hash = digest(&secret);
        let expires_at = now + CODE_LIFETIME;
        table.code_of_secret.insert(secret_hash, code.clone());
        table.by_code.insert(
            code.clone(),
            Pending { secret_hash, address, expires_at, state: PendingState::Shown },
        );
        Ok(Started { code, secret, expires_at })
    }

    /// An administrator of `org` entered `code`: reserves it for them, or says why not.
    pub fn reserve(&self, org: OrgId, code: &str, now: DateTime<Utc>) -> Result<String, Refusal> {
        let mut table = self.lock();
        table.purge(now);
        if table.wrong.get(&org).is_some_and(|times| times.len() >= MAX_WRONG_CODES) {
            return Err(Refusal::TooManyAttempts);
        }
        let code = normalize(code);
        match table.by_code.get_mut(&code) {
            Some(pending) if matches!(pending.state, PendingState::Shown) => {
                pending.state = PendingState::Reserved;
                Ok(code)
            }
            _ => {
                table.wrong.entry(org).or_default().push_back(now);
                Err(Refusal::WrongCode)
            }
        }
    }

    /// The display was made: its screen may collect the credential.
    pub fn complete(&self, code: &str, credential: String, display: Display) {
        if let Some(pending) = self.lock().by_code.get_mut(code) {
            pending.state = PendingState::Paired { credential, display: Box::new(display) };
        }
    }

    /// Making the display failed: the code may be entered again.
    pub fn release(&self, code: &str) {
        if let Some(pending) = self.lock().by_code.get_mut(code) {
            pending.state = PendingState::Shown;
        }
    }

    /// What the screen holding `secret` may know now; a credential is handed over once.
    pub fn claim(&self, secret: &str, now: DateTime<Utc>) -> Claim {
        let mut table = self.lock();
        table.purge(now);
        let hash = digest(secret);
        let Some(code) = table.code_of_secret.get(&hash).cloned() else {
            return Claim::Gone;
        };
        if !matches!(table.by_code.get(&code).map(|p| &p.state), Some(PendingState::Paired { .. }))
        {
            return Claim::Waiting;
        }
        table.code_of_secret.remove(&hash);
        match table.by_code.remove(&code).map(|p| p.state) {
            Some(PendingState::Paired { credential, display }) => {
                Claim::Paired { credential, display }
            }
            _ => Claim::Gone,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::minutes(minutes)
    }

    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn display() -> Display {
        Display {
            id: vitrine_core::UserId::generate(),
            org_id: OrgId::generate(),
            name: "TV".into(),
            handle: "display-x@displays.invalid".into(),
            show: serde_json::json!({}),
            paired_at: at(0),
            paired_by: "admin".into(),
            credential_issued_at: at(0),
            last_seen_at: None,
            last_state: None,
            last_detail: None,
            user_agent: None,
            offline_alerted_at: None,
        }
    }

    #[test]
    fn codes_are_six_easily_read_characters_and_typed_loosely() {
        let pairings = Pairings::default();
        let started = pairings.start(HERE, at(0)).unwrap();
        assert_eq!(started.code.len(), CODE_LENGTH);
        assert!(started.code.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{}", started.code);
        assert_eq!(started.expires_at, at(10));
        let typed = format!(" {}-{} ", &started.code[..3].to_lowercase(), &started.code[3..]);
        assert_eq!(normalize(&typed), started.code);
        assert!(pairings.reserve(OrgId::generate(), &typed, at(1)).is_ok());
    }

    #[test]
    fn a_code_pairs_once_and_only_its_screens_secret_collects_the_credential_once() {
        let pairings = Pairings::default();
        let started = pairings.start(HERE, at(0)).unwrap();
        let org = OrgId::generate();
        assert!(matches!(pairings.claim(&started.secret, at(1)), Claim::Waiting));
        let code = pairings.reserve(org, &started.code, at(1)).unwrap();
        assert_eq!(pairings.reserve(org, &started.code, at(1)), Err(Refusal::WrongCode), "used");
        assert!(matches!(pairings.claim(&started.secret, at(1)), Claim::Waiting), "being made");
        pairings.complete(&code, "credential".into(), display());
        assert!(matches!(pairings.claim("another secret", at(1)), Claim::Gone));
        let Claim::Paired { credential, .. } = pairings.claim(&started.secret, at(2)) else {
            panic!("paired");
        };
        assert_eq!(credential, "credential");
        assert!(matches!(pairings.claim(&started.secret, at(2)), Claim::Gone), "handed over once");
    }

    #[test]
    fn a_code_expires_after_ten_minutes_and_a_failed_pairing_frees_it() {
        let pairings = Pairings::default();
        let org = OrgId::generate();
        let started = pairings.start(HERE, at(0)).unwrap();
        let code = pairings.reserve(org, &started.code, at(1)).unwrap();
        pairings.release(&code);
        assert!(pairings.reserve(org, &started.code, at(2)).is_ok(), "entered again");
        let late = pairings.start(HERE, at(0)).unwrap();
        assert_eq!(pairings.reserve(org, &late.code, at(10)), Err(Refusal::WrongCode));
        assert!(matches!(pairings.claim(&late.secret, at(10)), Claim::Gone));
    }

    #[test]
    fn guessing_codes_is_stopped_per_organization_and_asking_for_codes_per_address() {
        let pairings = Pairings::default();
        let (guesser, other) = (OrgId::generate(), OrgId::generate());
        let started = pairings.start(HERE, at(0)).unwrap();
        for _ in 0..MAX_WRONG_CODES {
            assert_eq!(pairings.reserve(guesser, "WRONG1", at(1)), Err(Refusal::WrongCode));
        }
        assert_eq!(
            pairings.reserve(guesser, &started.code, at(1)),
            Err(Refusal::TooManyAttempts),
            "even the right code, while it waits"
        );
        assert!(pairings.reserve(other, &started.code, at(1)).is_ok(), "others are not held up");
        let later = pairings.start(HERE, at(12)).unwrap();
        assert!(pairings.reserve(guesser, &later.code, at(12)).is_ok(), "the window passed");

        let crowded = Pairings::default();
        for _ in 0..MAX_PENDING_PER_ADDRESS {
            crowded.start(HERE, at(0)).unwrap();
        }
        assert_eq!(crowded.start(HERE, at(0)).unwrap_err(), Busy);
        let elsewhere = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7));
        assert!(crowded.start(elsewhere, at(0)).is_ok());
        assert!(crowded.start(HERE, at(11)).is_ok(), "expired ones make room");
    }
}
