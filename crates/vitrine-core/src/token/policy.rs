//! How long tokens live and when the viewer refreshes them, from the organization's settings.

use serde::Serialize;

/// The viewer refreshes on interaction when less than this remains (unless the lifetime is
/// short, see [`TokenPolicy::refresh`]).
const REFRESH_BEFORE_EXPIRY_SECONDS: u32 = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    pub lifetime_seconds: u32,
    /// The timed update ("Update Token every X minutes"), if on.
    pub update_every_seconds: Option<u32>,
}

/// The refresh advice sent with every token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshPolicy {
    pub every_seconds: Option<u32>,
    pub before_expiry_seconds: u32,
}

impl TokenPolicy {
    /// The policy with a lifetime of at most `minutes` (a host app may ask for shorter tokens,
    /// never longer ones); a timed update no shorter than the new lifetime is dropped, since
    /// the refresh before expiry comes first.
    pub fn at_most(self, minutes: u32) -> Self {
        let lifetime_seconds = self.lifetime_seconds.min(minutes.saturating_mul(60));
        let update_every_seconds =
            self.update_every_seconds.filter(|every| *every < lifetime_seconds);
        Self { lifetime_seconds, update_every_seconds }
    }

    /// Ten minutes before expiry, or a quarter of the lifetime for tokens shorter than 40 minutes.
    pub fn refresh(&self) -> RefreshPolicy {
        RefreshPolicy {
            every_seconds: self.update_every_seconds,
            before_expiry_seconds: REFRESH_BEFORE_EXPIRY_SECONDS.min(self.lifetime_seconds / 4),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shorter_lifetime_may_be_asked_for_never_a_longer_one() {
        let org = TokenPolicy { lifetime_seconds: 3600, update_every_seconds: Some(3000) };
        assert_eq!(org.at_most(120), org, "never longer");
        let short = org.at_most(30);
        assert_eq!(short.lifetime_seconds, 1800);
        assert_eq!(short.update_every_seconds, None, "an update after expiry is dropped");
        let kept = TokenPolicy { update_every_seconds: Some(600), ..org }.at_most(30);
        assert_eq!(kept.update_every_seconds, Some(600));
    }

    #[test]
    fn refresh_before_expiry_is_ten_minutes_or_a_quarter_of_short_lifetimes() {
        let policy = |minutes: u32| TokenPolicy {
            lifetime_seconds: minutes * 60,
            update_every_seconds: None,
        };
        assert_eq!(policy(60).refresh().before_expiry_seconds, 600);
        assert_eq!(policy(1440).refresh().before_expiry_seconds, 600);
        assert_eq!(policy(20).refresh().before_expiry_seconds, 300);
        assert_eq!(policy(1).refresh().before_expiry_seconds, 15);
    }
}
