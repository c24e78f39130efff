//! The cost of issuing and verifying embed tokens, beside the raw Ed25519 operations measured
//! in the same run on a message of the same length.
//!
//!     cargo bench -p vitrine-server --bench tokens
//!
//! Budgets: issuing ≤ 1.5 × one signature; verifying a token seen before ≤ 2 µs; verifying a
//! token seen for the first time ≤ 1.5 × one signature verification.

use std::sync::Arc;

use chrono::Utc;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey};
use vitrine_core::token::{RlsIdentity, Subject};
use vitrine_core::{OrgId, OrgSettings, ReportId, Role, SystemClock, UserId};
use vitrine_server::cluster::ChangeFeed;
use vitrine_server::metrics::Metrics;
use vitrine_server::tokens::master_key::MasterKey;
use vitrine_server::tokens::{Grant, TokenService};
use vitrine_store::User;

fn user() -> User {
    let now = Utc::now();
    User {
        id: UserId::generate(),
        org_id: OrgId::generate(),
        email: "viewer@example.com".into(),
        name: "Vera Viewer".into(),
        role: Role::Viewer,
        blocked: false,
        expires_at: None,
        locked_until: None,
        created_at: now,
        updated_at: now,
        password_set: true,
        operator: false,
        display: false,
    }
}

fn benchmarks(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let data = tempfile::tempdir().expect("temp dir");
    let service = runtime.block_on(async {
        let url = format!("sqlite://{}", data.path().join("bench.db").display());
        let store = vitrine_server::database::open(&url).await.expect("store");
        let master = MasterKey::load(None, data.path()).expect("master key");
        let clock = Arc::new(SystemClock);
        let feed = ChangeFeed::open(Arc::clone(&store), "bench".into()).await.expect("change feed");
        TokenService::start(
            store,
            clock,
            Arc::new(Metrics::default()),
            master,
            "http://bench".into(),
            feed,
        )
        .await
        .expect("token service")
    });
    let user = user();
    let org = user.org_id;
    let report = ReportId::generate();
    let policy = OrgSettings::default().token_policy();
    let rls = RlsIdentity {
        username: user.email.clone(),
        roles: vec!["Own region".into()],
        ..Default::default()
    };
    let issue = || {
        let snapshot = service.revoker.snapshot();
        service
            .issue(
                Grant {
                    org,
                    subject: Subject::User(user.id),
                    reports: vec![report],
                    rls: rls.clone(),
                    keeps_capacity_on: false,
                },
                policy,
                snapshot,
                Utc::now(),
            )
            .expect("issue")
    };

    // The raw operations, on a message as long as a token's signed part.
    let sample = issue().token;
    let signed_part = sample.rsplit_once('.').expect("three parts").0.as_bytes().to_vec();
    let raw_key = SigningKey::from_bytes(&[7u8; 32]);
    let raw_signature = raw_key.sign(&signed_part);
    let raw_public = raw_key.verifying_key();

    let mut group = c.benchmark_group("tokens");
    group.bench_function("raw ed25519 sign", |b| {
        b.iter(|| raw_key.sign(std::hint::black_box(&signed_part)))
    });
    group.bench_function("raw ed25519 verify_strict", |b| {
        b.iter(|| {
            raw_public
                .verify_strict(std::hint::black_box(&signed_part), &raw_signature)
                .expect("valid")
        })
    });
    group.bench_function("issue a token", |b| b.iter(issue));
    group.bench_function("verify a token seen for the first time", |b| {
        b.iter_batched(
            || issue().token,
            |token| service.verify(&token, Utc::now().timestamp()).expect("valid"),
            BatchSize::SmallInput,
        )
    });
    let seen = issue().token;
    service.verify(&seen, Utc::now().timestamp()).expect("valid");
    group.bench_function("verify a token seen before", |b| {
        b.iter(|| {
            service.verify(std::hint::black_box(&seen), Utc::now().timestamp()).expect("valid")
        })
    });
    group.finish();
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
