//! Row-level security: which rows of a report a user may see. A report's roles are filter
//! rules binding a column to a user attribute; the user's roles and attributes travel in their
//! embed token. Applied to every query, administrators included.

use datafusion::arrow::datatypes::Schema;
use datafusion::logical_expr::{Expr, ident, lit};
use vitrine_core::token::RlsIdentity;

use crate::definition::ReportDefinition;
use crate::query::typed_literal;

/// The pseudo-attribute holding the user's email.
pub const USERNAME_ATTRIBUTE: &str = "username";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RlsError {
    #[error("this report uses row-level security and you hold none of its roles")]
    NoRole,
}

/// The predicate every query of this report must carry for this user: `None` when the report
/// has no roles. Several roles widen access (their rows are combined); within a role every
/// rule must hold. A rule whose attribute the user lacks matches no row.
pub fn predicate(
    definition: &ReportDefinition,
    identity: &RlsIdentity,
    schema: &Schema,
) -> Result<Option<Expr>, RlsError> {
    if !definition.has_rls() {
        return Ok(None);
    }
    let held: Vec<_> =
        definition.roles.iter().filter(|role| identity.roles.contains(&role.name)).collect();
    if held.is_empty() {
        return Err(RlsError::NoRole);
    }
    let role_predicates = held.iter().map(|role| {
        role.filters
            .iter()
            .map(|rule| {
                let value = if rule.attribute == USERNAME_ATTRIBUTE {
                    Some(identity.username.as_str())
                } else {
                    identity.attributes.get(&rule.attribute).map(String::as_str)
                };
                let typed = value.and_then(|value| {
                    let field = schema.field_with_name(&rule.column).ok()?;
                    typed_literal(value, field.data_type())
                });
                match typed {
                    Some(literal) => ident(&rule.column).eq(literal),
                    None => lit(false),
                }
            })
            .reduce(Expr::and)
            .unwrap_or_else(|| lit(true))
    });
    Ok(role_predicates.reduce(Expr::or))
}
