-- Single sign-on: an organization's OpenID Connect provider (its client secret sealed with
-- the master key), the email domains that lead to it (a domain leads to one organization and
-- only once an operator verified it), which Vitrine group each value of its groups claim
-- stands for, and which user each of its subjects is.
CREATE TABLE sso_providers (
    org_id         TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    preset         TEXT NOT NULL CHECK (preset IN ('entra', 'google', 'generic')),
    issuer         TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    secret_sealed  BYTEA NOT NULL,
    scopes         TEXT NOT NULL,
    required       BOOLEAN NOT NULL DEFAULT FALSE,
    groups_claim   TEXT,
    default_role   TEXT NOT NULL CHECK (default_role IN ('Admin', 'Contributor', 'Viewer')),
    updated_at     BIGINT NOT NULL
);

CREATE TABLE sso_domains (
    domain       TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES sso_providers(org_id) ON DELETE CASCADE,
    verified_at  BIGINT
);
CREATE INDEX sso_domains_by_org ON sso_domains(org_id);

CREATE TABLE sso_group_map (
    org_id       TEXT NOT NULL REFERENCES sso_providers(org_id) ON DELETE CASCADE,
    claim_value  TEXT NOT NULL,
    group_id     TEXT NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, claim_value)
);

CREATE TABLE sso_identities (
    org_id   TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    issuer   TEXT NOT NULL,
    subject  TEXT NOT NULL,
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, issuer, subject)
);
CREATE INDEX sso_identities_by_user ON sso_identities(user_id);
