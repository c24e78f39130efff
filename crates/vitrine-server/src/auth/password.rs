//! Password hashing with argon2id, off the async runtime. Jobs wait in a bounded queue served
//! by a few dedicated threads: a flood of sign-ins gets `RateLimited` instead of exhausting
//! memory or starving request handling.

use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use tokio::sync::oneshot;

use crate::error::{ApiError, ErrorCode};

enum Job {
    Hash { password: String, reply: oneshot::Sender<Result<String, String>> },
    Verify { password: String, hash: String, reply: oneshot::Sender<bool> },
}

#[derive(Clone)]
pub struct PasswordHasher {
    queue: SyncSender<Job>,
    /// Verified against when the email is unknown, so both cases take the same time.
    decoy_hash: Arc<String>,
}

fn argon2() -> Argon2<'static> {
    // OWASP's recommended argon2id parameters: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify_now(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

impl PasswordHasher {
    /// Starts `workers` hashing threads (at least one) behind a queue of `queue_capacity` jobs.
    pub fn start(workers: usize, queue_capacity: usize) -> Self {
        let (queue, jobs) = mpsc::sync_channel::<Job>(queue_capacity);
        let jobs = Arc::new(Mutex::new(jobs));
        for index in 0..workers.max(1) {
            let jobs = Arc::clone(&jobs);
            let spawned = std::thread::Builder::new()
                .name(format!("password-hasher-{index}"))
                .spawn(move || {
                    loop {
                        let job = {
                            let Ok(receiver) = jobs.lock() else { return };
                            match receiver.recv() {
                                Ok(job) => job,
                                Err(_) => return,
                            }
                        };
                        match job {
                            Job::Hash { password, reply } => {
                                let _ = reply.send(hash_now(&password));
                            }
                            Job::Verify { password, hash, reply } => {
                                let _ = reply.send(verify_now(&password, &hash));
                            }
                        }
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "could not start a password hashing thread");
            }
        }
        let mut decoy = [0u8; 24];
        rand::rng().fill_bytes(&mut decoy);
        let decoy_hash = hash_now(&hex(&decoy)).unwrap_or_default();
        Self { queue, decoy_hash: Arc::new(decoy_hash) }
    }

    fn submit(&self, job: Job) -> Result<(), ApiError> {
        self.queue.try_send(job).map_err(|error| match error {
            TrySendError::Full(_) => ApiError::new(
                ErrorCode::RateLimited,
                "Too many sign-ins at once; try again in a moment.",
            ),
            TrySendError::Disconnected(_) => ApiError::internal(),
        })
    }

    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password: password.to_string(), reply })?;
        match answer.await {
            Ok(Ok(hash)) => Ok(hash),
            Ok(Err(error)) => {
                tracing::error!(%error, "password hashing failed");
                Err(ApiError::internal())
            }
            Err(_) => Err(ApiError::internal()),
        }
    }

    /// Verifies against `hash`, or against a decoy when there is none, taking the same time.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, ApiError> {
        let (reply, answer) = oneshot::channel();
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.decoy_hash).to_string();
        self.submit(Job::Verify { password: password.to_string(), hash, reply })?;
        let matched = answer.await.map_err(|_| ApiError::internal())?;
        Ok(known && matched)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify_only_the_right_password() {
        let hasher = PasswordHasher::start(1, 8);
        let hash = hasher.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("wrong horse", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("correct horse", None).await.unwrap());
        assert!(!hasher.verify("x", Some("not a hash")).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_new_work_with_rate_limited() {
        let hasher = PasswordHasher::start(1, 2);
        let mut jobs = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let hasher = hasher.clone();
            jobs.spawn(async move { hasher.verify("password", None).await });
        }
        let results = jobs.join_all().await;
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(e) if e.code == ErrorCode::RateLimited))
            .count();
        assert!(refused >= 5, "{refused} of 10 refused");
        assert!(results.iter().any(|r| r.is_ok()), "queued work still completes");
    }
}
