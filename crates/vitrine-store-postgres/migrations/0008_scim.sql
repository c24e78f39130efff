-- SCIM provisioning: API keys get the scope `scim`, and the users and groups a provider made
-- or took over keep what SCIM knows of them and Vitrine does not: the provider's userName and
-- externalId, and the attributes it sent (names, emails) as it sent them.
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_scope_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scope_check
    CHECK (scope IN ('admin', 'embed', 'read', 'scim'));

CREATE TABLE scim_users (
    user_id      TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_name    TEXT NOT NULL,
    external_id  TEXT,
    attributes   TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX scim_users_by_user_name ON scim_users(org_id, user_name);

CREATE TABLE scim_groups (
    group_id     TEXT PRIMARY KEY REFERENCES user_groups(id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    external_id  TEXT
);
