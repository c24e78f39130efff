//! The three roles a user can hold inside an organization.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Role {
    /// Manages everything of the organization.
    Admin,
    /// Manages reports and datasets, not users, settings or capacities.
    Contributor,
    /// Opens the reports granted to them.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Contributor, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Contributor => "Contributor",
            Role::Viewer => "Viewer",
        }
    }

    pub fn manages_content(self) -> bool {
        matches!(self, Role::Admin | Role::Contributor)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    /// Accepts the canonical spelling in any letter case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| "must be one of Admin, Contributor, Viewer".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_parses_in_any_case_and_rejects_unknown_names() {
        assert_eq!("viewer".parse::<Role>(), Ok(Role::Viewer));
        assert_eq!("ADMIN".parse::<Role>(), Ok(Role::Admin));
        assert!("owner".parse::<Role>().is_err());
    }
}
