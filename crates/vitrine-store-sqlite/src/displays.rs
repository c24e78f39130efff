//! Displays on SQLite: a `displays` row beside the user of kind `display` it is backed by.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::SqliteConnection;
use vitrine_core::{OrgId, UserId};

use super::{AuditRecord, SqliteStore, USER_COLUMNS, from_row, ms};
use vitrine_store::{
    Actor, Display, DisplayAuth, DisplayChange, DisplaySeen, DisplayStore, NewDisplay, StoreError,
    StoreResult,
};

const DISPLAY_COLUMNS: &str = "d.id, d.org_id, u.name, u.email, d.show, d.paired_at, d.paired_by, \
     d.credential_issued_at, d.last_seen_at, d.last_state, d.last_detail, d.user_agent, \
     d.offline_alerted_at";

/// The handle a display's user has for an email: no mail reaches it.
fn handle(id: UserId) -> String {
    format!("display-{id}@displays.invalid")
}

async fn display_in_org(
    conn: &mut SqliteConnection,
    org: OrgId,
    id: UserId,
) -> StoreResult<Display> {
    let sql = format!(
        "SELECT {DISPLAY_COLUMNS} FROM displays d JOIN users u ON u.id = d.id
         WHERE d.org_id = ? AND d.id = ?"
    );
    let row =
        sqlx::query(&sql).bind(org.to_string()).bind(id.to_string()).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()?.ok_or(StoreError::NotFound)
}

/// What the audit keeps of a display: never its credential.
fn audited(display: &Display) -> Value {
    json!({ "name": display.name, "show": display.show })
}

#[async_trait]
impl DisplayStore for SqliteStore {
    async fn create_display(
        &self,
        org: OrgId,
        actor: &Actor,
        new: &NewDisplay,
    ) -> StoreResult<Display> {
        let mut tx = self.writer.begin().await?;
        let id = UserId::generate();
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM organizations WHERE id = ?")
            .bind(org.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        exists.ok_or(StoreError::NotFound)?;
        sqlx::query(
            "INSERT INTO users (id, org_id, email, name, role, password_hash, kind, created_at,
                                updated_at)
             VALUES (?, ?, ?, ?, 'Viewer', '', 'display', ?, ?)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(handle(id))
        .bind(&new.name)
        .bind(ms(actor.at))
        .bind(ms(actor.at))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO displays (id, org_id, show, credential_hash, credential_issued_at,
                                   paired_at, paired_by)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(new.show.to_string())
        .bind(&new.credential_hash)
        .bind(ms(actor.at))
        .bind(ms(actor.at))
        .bind(&actor.label)
        .execute(&mut *tx)
        .await?;
        for group in &new.groups {
            Self::group_in_org(&mut tx, org, *group).await?;
            sqlx::query("INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?, ?)")
                .bind(group.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let display = display_in_org(&mut tx, org, id).await?;
        let groups: Vec<String> = new.groups.iter().map(ToString::to_string).collect();
        let mut value = audited(&display);
        value["groups"] = json!(groups);
        AuditRecord::new(org, actor, "display", id.to_string(), "display paired")
            .values(None, Some(value))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(display)
    }

    async fn get_display(&self, org: OrgId, id: UserId) -> StoreResult<Display> {
        let mut conn = self.reader.acquire().await?;
        display_in_org(&mut conn, org, id).await
    }

    async fn list_displays(&self, org: OrgId) -> StoreResult<Vec<Display>> {
        let sql = format!(
            "SELECT {DISPLAY_COLUMNS} FROM displays d JOIN users u ON u.id = d.id
             WHERE d.org_id = ? ORDER BY u.name, d.id"
        );
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(&self.reader).await?;
        rows.iter().map(from_row).collect()
    }

    async fn all_displays(&self) -> StoreResult<Vec<Display>> {
        let sql = format!(
            "SELECT {DISPLAY_COLUMNS} FROM displays d JOIN users u ON u.id = d.id ORDER BY d.id"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.reader).await?;
        rows.iter().map(from_row).collect()
    }

    async fn update_display(
        &self,
        org: OrgId,
        actor: &Actor,
        id: UserId,
        change: &DisplayChange,
    ) -> StoreResult<Display> {
        let mut tx = self.writer.begin().await?;
        let old = display_in_org(&mut tx, org, id).await?;
        if let Some(name) = &change.name {
            sqlx::query("UPDATE users SET name = ?, updated_at = ? WHERE id = ?")
                .bind(name)
                .bind(ms(actor.at))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(show) = &change.show {
            sqlx::query("UPDATE displays SET show = ? WHERE id = ?")
                .bind(show.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let new = display_in_org(&mut tx, org, id).await?;
        if new != old {
            AuditRecord::new(org, actor, "display", id.to_string(), "display changed")
                .values(Some(audited(&old)), Some(audited(&new)))
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    async fn delete_display(&self, org: OrgId, actor: &Actor, id: UserId) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let old = display_in_org(&mut tx, org, id).await?;
        sqlx::query("DELETE FROM users WHERE org_id = ? AND id = ? AND kind = 'display'")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        AuditRecord::new(org, actor, "display", id.to_string(), "display unpaired")
            .values(Some(audited(&old)), None)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_display_by_credential(
        &self,
        hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DisplayAuth>> {
        // Read on every request of every screen: the statement is built once.
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT {DISPLAY_COLUMNS}, {USER_COLUMNS}, o.name AS org_name, o.settings,
                        o.suspended_at, d.credential_hash = ?1 AS current
                 FROM displays d JOIN users u ON u.id = d.id JOIN organizations o ON o.id = d.org_id
                 WHERE d.credential_hash = ?1 OR (d.previous_hash = ?1 AND d.previous_until > ?2)"
            )
        });
        let row =
            sqlx::query(SQL.as_str()).bind(hash).bind(ms(now)).fetch_optional(&self.reader).await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn rotate_display_credential(
        &self,
        id: UserId,
        presented: &[u8],
        new: &[u8],
        at: DateTime<Utc>,
        previous_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await?;
        let current = sqlx::query(
            "UPDATE displays SET previous_hash = credential_hash, previous_until = ?,
                                 credential_hash = ?, credential_issued_at = ?
             WHERE id = ? AND credential_hash = ?",
        )
        .bind(ms(previous_until))
        .bind(new)
        .bind(ms(at))
        .bind(id.to_string())
        .bind(presented)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let rotated = if current > 0 {
            true
        } else {
            sqlx::query(
                "UPDATE displays SET credential_hash = ?, credential_issued_at = ?
                 WHERE id = ? AND previous_hash = ? AND previous_until > ?",
            )
            .bind(new)
            .bind(ms(at))
            .bind(id.to_string())
            .bind(presented)
            .bind(ms(at))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0
        };
        tx.commit().await?;
        Ok(rotated)
    }

    async fn display_seen(&self, id: UserId, seen: &DisplaySeen) -> StoreResult<()> {
        sqlx::query(
            "UPDATE displays SET last_seen_at = MAX(COALESCE(last_seen_at, 0), ?), last_state = ?,
                                 last_detail = ?, user_agent = COALESCE(?, user_agent)
             WHERE id = ?",
        )
        .bind(ms(seen.at))
        .bind(&seen.state)
        .bind(&seen.detail)
        .bind(&seen.user_agent)
        .bind(id.to_string())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn set_display_alerted(&self, id: UserId, at: Option<DateTime<Utc>>) -> StoreResult<()> {
        sqlx::query("UPDATE displays SET offline_alerted_at = ? WHERE id = ?")
            .bind(at.map(ms))
            .bind(id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
