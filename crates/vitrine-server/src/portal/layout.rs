//! The page shell shared by every portal page, and small building blocks for forms.

use maud::{DOCTYPE, Markup, html};
use vitrine_core::Role;

use super::form::CSRF_FIELD;
use crate::auth::Caller;

/// Which admin section is open, to highlight it in the side navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Users,
    Groups,
    Reports,
    Datasets,
    Capacity,
    PowerBi,
    Settings,
    SignIn,
    ApiKeys,
    Embedding,
    Displays,
    Audit,
}

impl Section {
    const ALL: [Section; 12] = [
        Section::Users,
        Section::Groups,
        Section::Reports,
        Section::Datasets,
        Section::Capacity,
        Section::PowerBi,
        Section::Settings,
        Section::SignIn,
        Section::ApiKeys,
        Section::Embedding,
        Section::Displays,
        Section::Audit,
    ];

    fn label(self) -> &'static str {
        match self {
            Section::Users => "Users",
            Section::Groups => "Groups",
            Section::Reports => "Reports",
            Section::Datasets => "Datasets",
            Section::Capacity => "Capacity",
            Section::PowerBi => "Power BI",
            Section::Settings => "Settings",
            Section::SignIn => "Sign-in",
            Section::ApiKeys => "API keys",
            Section::Embedding => "Embedding",
            Section::Displays => "Displays",
            Section::Audit => "Audit log",
        }
    }

    fn href(self) -> &'static str {
        match self {
            Section::Users => "/admin/users",
            Section::Groups => "/admin/groups",
            Section::Reports => "/admin/reports",
            Section::Datasets => "/admin/datasets",
            Section::Capacity => "/admin/capacities",
            Section::PowerBi => "/admin/powerbi",
            Section::Settings => "/admin/settings",
            Section::SignIn => "/admin/sign-in",
            Section::ApiKeys => "/admin/api-keys",
            Section::Embedding => "/admin/embedding",
            Section::Displays => "/admin/displays",
            Section::Audit => "/admin/audit",
        }
    }

    /// Contributors see only the Reports section.
    fn visible_to(self, role: Role) -> bool {
        role == Role::Admin
            || (role == Role::Contributor && matches!(self, Section::Reports | Section::Datasets))
    }
}

/// The part of the portal a page belongs to, highlighted in the top bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Reports,
    Admin,
    Installation,
    Account,
}

/// A complete HTML page. `section` adds the Admin Portal's side navigation.
pub fn page(
    caller: Option<&Caller>,
    title: &str,
    section: Option<Section>,
    content: Markup,
) -> Markup {
    let area = if section.is_some() { Area::Admin } else { Area::Reports };
    page_in(area, caller, title, section, content)
}

/// A page of `area`, for the pages outside the Reports Portal and the Admin Portal.
pub fn page_in(
    area: Area,
    caller: Option<&Caller>,
    title: &str,
    section: Option<Section>,
    content: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Vitrine" }
                link rel="stylesheet" href="/assets/portal.css";
            }
            body {
                @if let Some(caller) = caller {
                    (topbar(caller, area))
                }
                div.shell.with-side[section.is_some()] {
                    @if let (Some(caller), Some(current)) = (caller, section) {
                        nav.sidenav aria-label="Admin Portal" {
                            p.sidenav-title { "Admin Portal" }
                            @for item in Section::ALL.into_iter().filter(|s| s.visible_to(caller.principal.role)) {
                                a href=(item.href()) aria-current=[(item == current).then_some("page")] { (item.label()) }
                            }
                        }
                    }
                    main { (content) }
                }
            }
        }
    }
}

pub fn topbar(caller: &Caller, area: Area) -> Markup {
    let current = |this: Area| (area == this).then_some("page");
    let name = caller.user.as_ref().map(|u| u.name.as_str()).unwrap_or("API key");
    html! {
        header.topbar {
            a.brand href="/" { span.logo aria-hidden="true" { "◧" } "Vitrine" }
            span.org-name title="Your organization" { (caller.org_name) }
            nav.topnav {
                a href="/" aria-current=[current(Area::Reports)] { "Reports" }
                @if caller.principal.role.manages_content() {
                    a href="/admin" aria-current=[current(Area::Admin)] { "Admin" }
                }
                @if caller.principal.operator {
                    a href="/installation" aria-current=[current(Area::Installation)] { "Installation" }
                }
            }
            div.account {
                @if caller.user.is_some() {
                    a.who href="/account" title="My account" aria-current=[current(Area::Account)] { (name) span.role { (caller.principal.role.as_str()) } }
                } @else {
                    span.who { (name) span.role { (caller.principal.role.as_str()) } }
                }
                form method="post" action="/logout" {
                    (csrf_field(caller))
                    button.link type="submit" { "Sign out" }
                }
            }
        }
    }
}

pub fn csrf_field(caller: &Caller) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(caller.csrf_token()); }
}

/// A notice or an error above a page's content.
#[derive(Default, Clone)]
pub struct Flash {
    pub notice: Option<String>,
    pub error: Option<String>,
}

impl Flash {
    pub fn error(message: impl Into<String>) -> Self {
        Self { notice: None, error: Some(message.into()) }
    }

    pub fn notice(message: impl Into<String>) -> Self {
        Self { notice: Some(message.into()), error: None }
    }

    /// Fixed messages chosen by the `done` query parameter after a successful form post, so
    /// no text from the URL is ever shown.
    pub fn from_done(done: Option<&str>) -> Self {
        let notice = match done {
            Some("created") => "Created.",
            Some("saved") => "Saved.",
            Some("sso-removed") => {
                "Single sign-on removed: everyone signs in with a password again."
            }
            Some("deleted") => "Deleted.",
            Some("granted") => "Access granted.",
            Some("revoked") => "Access removed.",
            Some("added") => "Member added.",
            Some("removed") => "Member removed.",
            Some("permissions") => "Permissions saved.",
            Some("tokens-revoked") => "Tokens revoked: open reports lose access within a second.",
            Some("password") => "Password changed. Your other sessions were signed out.",
            Some("signed-out") => "Signed out there.",
            Some("suspended") => {
                "Suspended: its users are signed out, its tokens revoked and its capacities paused."
            }
            Some("reinstated") => "Reinstated: its users can sign in again.",
            Some("organization-deleted") => "Organization deleted, with everything in it.",
            Some("replaced") => "New data in place: open reports show it now.",
            Some("refreshing") => "Refresh started; its outcome appears below.",
            _ => return Self::default(),
        };
        Self { notice: Some(notice.to_string()), error: None }
    }
}

pub fn flash(flash: &Flash) -> Markup {
    html! {
        @if let Some(notice) = &flash.notice { p.flash.notice role="status" { (notice) } }
        @if let Some(error) = &flash.error { p.flash.error role="alert" { (error) } }
    }
}

pub fn date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub fn role_options(selected: Role) -> Markup {
    html! {
        @for role in Role::ALL {
            option value=(role.as_str()) selected[role == selected] { (role.as_str()) }
        }
    }
}

/// A one-button form, for actions such as "Remove" or "Delete".
pub fn action_button(caller: &Caller, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_field(caller))
            button type="submit" class=(class) { (label) }
        }
    }
}
