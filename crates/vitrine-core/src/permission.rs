//! Named permissions, granted to users directly or through their groups.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// May wake a paused capacity by opening a report.
    CapacityTurnOn,
    /// Activity of this user keeps an on-demand capacity running.
    CapacityKeepOn,
}

impl Permission {
    pub const ALL: [Permission; 2] = [Permission::CapacityTurnOn, Permission::CapacityKeepOn];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::CapacityTurnOn => "capacity.turnOn",
            Permission::CapacityKeepOn => "capacity.keepOn",
        }
    }

    /// One sentence for the Admin Portal.
    pub fn description(self) -> &'static str {
        match self {
            Permission::CapacityTurnOn => "May start a paused capacity by opening a report.",
            Permission::CapacityKeepOn => {
                "Their activity, timed token updates included, keeps an on-demand capacity running."
            }
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            "unknown permission; known: capacity.turnOn, capacity.keepOn".to_string()
        })
    }
}
