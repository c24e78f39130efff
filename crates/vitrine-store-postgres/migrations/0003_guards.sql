-- Guards every node shares: what is left of an allowance per key (sign-in attempts per
-- address, password-reset mails per address), and the sign-in lockout of emails that belong
-- to nobody, keyed by a digest of the email. Each is forgotten at `forget_at`, once
-- forgetting it loses nothing.
CREATE TABLE allowances (
    key        TEXT PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    at         BIGINT NOT NULL,
    forget_at  BIGINT NOT NULL
);
CREATE INDEX allowances_by_forget_at ON allowances(forget_at);

CREATE TABLE stranger_attempts (
    key            TEXT PRIMARY KEY,
    failed_logins  BIGINT NOT NULL,
    locked_until   BIGINT,
    forget_at      BIGINT NOT NULL
);
CREATE INDEX stranger_attempts_by_forget_at ON stranger_attempts(forget_at);
