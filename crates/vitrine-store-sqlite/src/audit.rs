//! Reading the audit log of entity changes, and the token audit trail.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Sqlite};
use vitrine_core::OrgId;

use super::{SqliteStore, from_row, ms};
use vitrine_store::{
    AuditEntry, AuditFilter, AuditStore, StoreResult, TokenEvent, TokenEventFilter,
};

#[async_trait]
impl AuditStore for SqliteStore {
    async fn list_audit(&self, org: OrgId, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT id, at, actor_id, actor_label, entity_type, entity_id, action, old_value, new_value
             FROM audit_log WHERE org_id = ",
        );
        query.push_bind(org.to_string());
        if let Some(entity_type) = &filter.entity_type {
            query.push(" AND entity_type = ").push_bind(entity_type.clone());
        }
        if let Some(actor) = &filter.actor {
            query
                .push(" AND instr(lower(actor_label), lower(")
                .push_bind(actor.clone())
                .push(")) > 0");
        }
        if let Some(text) = &filter.text {
            query
                .push(" AND instr(lower(entity_id || ' ' || COALESCE(old_value, '') || ' ' || COALESCE(new_value, '')), lower(")
                .push_bind(text.clone())
                .push(")) > 0");
        }
        if let Some(since) = filter.since {
            query.push(" AND at >= ").push_bind(ms(since));
        }
        if let Some(until) = filter.until {
            query.push(" AND at < ").push_bind(ms(until));
        }
        query.push(" ORDER BY at DESC, id DESC LIMIT ").push_bind(i64::from(filter.limit.max(1)));
        let rows = query.build().fetch_all(&self.reader).await?;
        rows.iter().map(from_row).collect()
    }

    async fn insert_token_events(&self, events: &[TokenEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await?;
        for event in events {
            sqlx::query(
                "INSERT INTO token_events (org_id, at, kind, user_id, identity_id, report_id,
                                           token_id, reason, ip, user_agent, actor)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(event.org_id.map(|id| id.to_string()))
            .bind(ms(event.at))
            .bind(&event.kind)
            .bind(event.user_id.map(|id| id.to_string()))
            .bind(event.identity_id.map(|id| id.to_string()))
            .bind(event.report_id.map(|id| id.to_string()))
            .bind(&event.token_id)
            .bind(&event.reason)
            .bind(&event.ip)
            .bind(&event.user_agent)
            .bind(&event.actor)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_token_events(
        &self,
        org: OrgId,
        filter: &TokenEventFilter,
    ) -> StoreResult<Vec<TokenEvent>> {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT e.id, e.org_id, e.at, e.kind, e.user_id, e.identity_id, e.report_id, e.token_id,
                    e.reason, e.ip, e.user_agent, e.actor,
                    COALESCE(CASE WHEN u.kind = 'display' THEN 'display ' || u.name ELSE u.email END,
                             'identity ' || i.external_id) AS user_label,
                    r.name AS report_label
             FROM token_events e
             LEFT JOIN users u ON u.id = e.user_id
             LEFT JOIN embed_identities i ON i.id = e.identity_id
             LEFT JOIN reports r ON r.id = e.report_id
             WHERE e.org_id = ",
        );
        query.push_bind(org.to_string());
        if let Some(kind) = &filter.kind {
            query.push(" AND e.kind = ").push_bind(kind.clone());
        }
        if let Some(user) = &filter.user {
            query
                .push(" AND instr(lower(COALESCE(CASE WHEN u.kind = 'display' THEN 'display ' || u.name ELSE u.email END, 'identity ' || i.external_id, e.user_id, '')), lower(")
                .push_bind(user.clone())
                .push(")) > 0");
        }
        if let Some(report) = filter.report {
            query.push(" AND e.report_id = ").push_bind(report.to_string());
        }
        if let Some(reason) = &filter.reason {
            query.push(" AND e.reason = ").push_bind(reason.clone());
        }
        if let Some(since) = filter.since {
            query.push(" AND e.at >= ").push_bind(ms(since));
        }
        if let Some(until) = filter.until {
            query.push(" AND e.at < ").push_bind(ms(until));
        }
        query
            .push(" ORDER BY e.at DESC, e.id DESC LIMIT ")
            .push_bind(i64::from(filter.limit.max(1)));
        let rows = query.build().fetch_all(&self.reader).await?;
        rows.iter().map(from_row).collect()
    }
}
