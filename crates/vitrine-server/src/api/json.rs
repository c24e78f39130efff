//! The JSON shapes of the public API. Field names are camelCase and stable.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vitrine_store::{
    ApiKey, AuditEntry, Group, InstallationAuditEntry, Organization, Report, SessionInfo,
    TokenEvent, User,
};

use crate::services::accounts::LinkOffer;
use crate::services::installation::OrganizationView;

pub fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn opt_time(at: Option<DateTime<Utc>>) -> Value {
    at.map(time).map(Value::String).unwrap_or(Value::Null)
}

pub fn user(user: &User) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.as_str(),
        "blocked": user.blocked,
        "expiresAt": opt_time(user.expires_at),
        "lockedUntil": opt_time(user.locked_until),
        "passwordSet": user.password_set,
        "operator": user.operator,
        "createdAt": time(user.created_at),
        "updatedAt": time(user.updated_at),
    })
}

pub fn group(group: &Group) -> Value {
    json!({
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "memberCount": group.member_count,
        "createdAt": time(group.created_at),
    })
}

pub fn report(report: &Report) -> Value {
    json!({
        "id": report.id,
        "name": report.name,
        "description": report.description,
        "ownerId": report.owner_id,
        "capacityId": report.capacity_id,
        "createdAt": time(report.created_at),
        "updatedAt": time(report.updated_at),
    })
}

pub fn organization(org: &Organization) -> Value {
    json!({ "id": org.id, "name": org.name })
}

/// An organization as the installation's operators see it: limits and counts, no content.
pub fn organization_view(view: &OrganizationView) -> Value {
    let org = &view.organization;
    json!({
        "id": org.id,
        "name": org.name,
        "createdAt": time(org.created_at),
        "suspended": org.is_suspended(),
        "suspendedAt": opt_time(org.suspended_at),
        "limits": org.limits,
        "usage": {
            "users": view.usage.users,
            "reports": view.usage.reports,
            "datasets": view.usage.datasets,
        },
    })
}

pub fn installation_audit(entry: &InstallationAuditEntry) -> Value {
    json!({
        "id": entry.id,
        "at": time(entry.at),
        "actor": { "id": entry.actor_id, "label": entry.actor_label },
        "entityType": entry.entity_type,
        "entityId": entry.entity_id,
        "action": entry.action,
        "oldValue": entry.old_value,
        "newValue": entry.new_value,
    })
}

pub fn session(session: &SessionInfo, current: bool) -> Value {
    json!({
        "id": session.id(),
        "createdAt": time(session.created_at),
        "lastSeenAt": time(session.last_seen_at),
        "userAgent": session.user_agent,
        "ip": session.ip,
        "current": current,
    })
}

pub fn link_offer(offer: &LinkOffer) -> Value {
    json!({ "url": offer.url, "expiresAt": time(offer.expires_at), "emailed": offer.emailed })
}

pub fn api_key(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "createdBy": key.created_by,
        "createdAt": time(key.created_at),
        "lastUsedAt": opt_time(key.last_used_at),
        "revokedAt": opt_time(key.revoked_at),
    })
}

pub fn audit_entry(entry: &AuditEntry) -> Value {
    json!({
        "id": entry.id,
        "at": time(entry.at),
        "actorId": entry.actor_id,
        "actor": entry.actor_label,
        "entityType": entry.entity_type,
        "entityId": entry.entity_id,
        "action": entry.action,
        "oldValue": entry.old_value,
        "newValue": entry.new_value,
    })
}

pub fn token_event(event: &TokenEvent) -> Value {
    json!({
        "id": event.id,
        "at": time(event.at),
        "kind": event.kind,
        "userId": event.user_id,
        "user": event.user_label,
        "reportId": event.report_id,
        "report": event.report_label,
        "tokenId": event.token_id,
        "reason": event.reason,
        "ip": event.ip,
        "userAgent": event.user_agent,
        "by": event.actor,
    })
}

pub fn list<T>(items: &[T], shape: fn(&T) -> Value) -> Value {
    Value::Array(items.iter().map(shape).collect())
}
