-- An organization's Power BI tenant: the Entra ID service principal Vitrine signs in as, its
-- secret sealed with the master key.
CREATE TABLE powerbi_tenants (
    org_id         TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    tenant_id      TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    secret_sealed  BLOB NOT NULL,
    updated_at     INTEGER NOT NULL
);
