//! Reports, who may open them, and their definitions.

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::sqlite::SqliteRow;
use vitrine_core::{OrgId, ReportId, UserId};

use super::rls::{RLS_PARTS, bind_rls_parts};
use super::{
    AuditRecord, GROUP_COLUMNS, REPORT_COLUMNS, SqliteStore, USER_COLUMNS, from_row, grantee_id,
    id_column, ms,
};
use vitrine_store::{
    Actor, Grantee, NewReport, Report, ReportAccess, ReportChange, ReportGate, ReportStore,
    StoreError, StoreResult,
};

/// Whether the user bound twice may open report `r`: a direct grant or one to a group of theirs.
const CAN_OPEN: &str = "(EXISTS (SELECT 1 FROM report_user_access WHERE report_id = r.id AND user_id = ?)
     OR EXISTS (SELECT 1 FROM report_group_access a JOIN group_members m
                ON m.group_id = a.group_id WHERE a.report_id = r.id AND m.user_id = ?)) AS can_open";

impl SqliteStore {
    /// `columns` of the report, with `can_open` for `user`; `NotFound` outside `org`.
    async fn report_row_for_user(
        &self,
        columns: &str,
        org: OrgId,
        user: UserId,
        report: ReportId,
    ) -> StoreResult<SqliteRow> {
        let user = user.to_string();
        let sql =
            format!("SELECT {columns}, {CAN_OPEN} FROM reports r WHERE r.org_id = ? AND r.id = ?");
        sqlx::query(&sql)
            .bind(&user)
            .bind(&user)
            .bind(org.to_string())
            .bind(report.to_string())
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl ReportStore for SqliteStore {
    async fn create_report(
        &self,
        org: OrgId,
        actor: &Actor,
        new: &NewReport,
    ) -> StoreResult<Report> {
        let report = Report::from_new(org, new, actor.at, None);
        let mut tx = self.writer.begin().await?;
        if let Some(owner) = new.owner_id {
            Self::user_in_org(&mut tx, org, owner).await?;
        }
        sqlx::query(
            "INSERT INTO reports (id, org_id, name, description, owner_id, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(report.id.to_string())
        .bind(org.to_string())
        .bind(&report.name)
        .bind(&report.description)
        .bind(report.owner_id.map(|id| id.to_string()))
        .bind(ms(report.created_at))
        .bind(ms(report.updated_at))
        .execute(&mut *tx)
        .await?;
        AuditRecord::new(org, actor, "report", report.id.to_string(), "created")
            .values(None, Some(report_snapshot(&report)))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(report)
    }

    async fn get_report(&self, org: OrgId, id: ReportId) -> StoreResult<Report> {
        let mut conn = self.reader.acquire().await?;
        Self::report_in_org(&mut conn, org, id).await
    }

    async fn organization_of_report(&self, id: ReportId) -> StoreResult<OrgId> {
        let row = sqlx::query("SELECT org_id FROM reports WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(|row| id_column(row, "org_id")).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn list_reports(&self, org: OrgId) -> StoreResult<Vec<Report>> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM reports r WHERE r.org_id = ? ORDER BY r.name, r.id"
        );
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(&self.reader).await?;
        rows.iter().map(from_row).collect()
    }

    async fn update_report(
        &self,
        org: OrgId,
        actor: &Actor,
        id: ReportId,
        change: &ReportChange,
    ) -> StoreResult<Report> {
        let mut tx = self.writer.begin().await?;
        let old = Self::report_in_org(&mut tx, org, id).await?;
        let mut new = old.clone();
        if let Some(name) = &change.name {
            new.name = name.clone();
        }
        if let Some(description) = &change.description {
            new.description = description.clone();
        }
        new.updated_at = actor.at;
        sqlx::query(
            "UPDATE reports SET name = ?, description = ?, updated_at = ? WHERE org_id = ? AND id = ?",
        )
        .bind(&new.name)
        .bind(&new.description)
        .bind(ms(new.updated_at))
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        AuditRecord::new(org, actor, "report", id.to_string(), "updated")
            .values(Some(report_snapshot(&old)), Some(report_snapshot(&new)))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn delete_report(&self, org: OrgId, actor: &Actor, id: ReportId) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let old = Self::report_in_org(&mut tx, org, id).await?;
        sqlx::query("DELETE FROM reports WHERE org_id = ? AND id = ?")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        AuditRecord::new(org, actor, "report", id.to_string(), "deleted")
            .values(Some(report_snapshot(&old)), None)
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_report_access(
        &self,
        org: OrgId,
        actor: &Actor,
        report: ReportId,
        grantee: Grantee,
        granted: bool,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let r = Self::report_in_org(&mut tx, org, report).await?;
        let who = Self::grantee_in_org(&mut tx, org, grantee).await?;
        let sql = match (grantee, granted) {
            (Grantee::User(_), true) => {
                "INSERT OR IGNORE INTO report_user_access (report_id, user_id) VALUES (?, ?)"
            }
            (Grantee::User(_), false) => {
                "DELETE FROM report_user_access WHERE report_id = ? AND user_id = ?"
            }
            (Grantee::Group(_), true) => {
                "INSERT OR IGNORE INTO report_group_access (report_id, group_id) VALUES (?, ?)"
            }
            (Grantee::Group(_), false) => {
                "DELETE FROM report_group_access WHERE report_id = ? AND group_id = ?"
            }
        };
        let changed = sqlx::query(sql)
            .bind(report.to_string())
            .bind(grantee_id(grantee))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed > 0 {
            let mut value = who;
            value["report"] = json!(r.name);
            let (action, old, new) = if granted {
                ("accessGranted", None, Some(value))
            } else {
                ("accessRevoked", Some(value), None)
            };
            AuditRecord::new(org, actor, "report", report.to_string(), action)
                .values(old, new)
                .write(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn report_access(&self, org: OrgId, report: ReportId) -> StoreResult<ReportAccess> {
        let mut conn = self.reader.acquire().await?;
        Self::report_in_org(&mut conn, org, report).await?;
        let users_sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN report_user_access a ON a.user_id = u.id
             WHERE u.org_id = ? AND a.report_id = ? ORDER BY u.email"
        );
        let users = sqlx::query(&users_sql)
            .bind(org.to_string())
            .bind(report.to_string())
            .fetch_all(&mut *conn)
            .await?;
        let groups_sql = format!(
            "SELECT {GROUP_COLUMNS} FROM user_groups g JOIN report_group_access a ON a.group_id = g.id
             WHERE g.org_id = ? AND a.report_id = ? ORDER BY g.name"
        );
        let groups = sqlx::query(&groups_sql)
            .bind(org.to_string())
            .bind(report.to_string())
            .fetch_all(&mut *conn)
            .await?;
        Ok(ReportAccess {
            users: users.iter().map(from_row).collect::<StoreResult<_>>()?,
            groups: groups.iter().map(from_row).collect::<StoreResult<_>>()?,
        })
    }

    async fn reports_for_user(&self, org: OrgId, user: UserId) -> StoreResult<Vec<Report>> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM reports r WHERE r.org_id = ? AND (
                 r.id IN (SELECT report_id FROM report_user_access WHERE user_id = ?)
                 OR r.id IN (SELECT a.report_id FROM report_group_access a
                             JOIN group_members m ON m.group_id = a.group_id WHERE m.user_id = ?))
             ORDER BY r.name"
        );
        let user = user.to_string();
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(&user)
            .bind(&user)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(from_row).collect()
    }

    async fn report_gate(
        &self,
        org: OrgId,
        user: UserId,
        report: ReportId,
    ) -> StoreResult<ReportGate> {
        // One statement: it is the whole of the token path's reading after the session.
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT r.id, r.capacity_id, r.powerbi, {CAN_OPEN}, {RLS_PARTS}
                   FROM reports r WHERE r.org_id = ? AND r.id = ?"
            )
        });
        let (user, org, report) = (user.to_string(), org.to_string(), report.to_string());
        let query = sqlx::query(SQL.as_str()).bind(&user).bind(&user);
        let row = bind_rls_parts(query, &user, &org)
            .bind(&org)
            .bind(&report)
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    async fn report_for_user(
        &self,
        org: OrgId,
        user: UserId,
        report: ReportId,
    ) -> StoreResult<(Report, bool)> {
        let row = self.report_row_for_user(REPORT_COLUMNS, org, user, report).await?;
        from_row(&row)
    }

    async fn set_report_definition(
        &self,
        org: OrgId,
        actor: &Actor,
        report: ReportId,
        definition: Option<&Value>,
    ) -> StoreResult<Report> {
        let mut tx = self.writer.begin().await?;
        let old = Self::report_in_org(&mut tx, org, report).await?;
        sqlx::query(
            "UPDATE reports SET definition = ?, updated_at = ? WHERE org_id = ? AND id = ?",
        )
        .bind(definition.map(|d| d.to_string()))
        .bind(ms(actor.at))
        .bind(org.to_string())
        .bind(report.to_string())
        .execute(&mut *tx)
        .await?;
        AuditRecord::new(org, actor, "report", report.to_string(), "definitionChanged")
            .values(old.definition.clone(), definition.cloned())
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(Report { definition: definition.cloned(), updated_at: actor.at, ..old })
    }
}

fn report_snapshot(report: &Report) -> Value {
    json!({ "name": report.name, "description": report.description })
}
