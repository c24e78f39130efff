//! Reports as JSON: pages of visuals over one dataset, slicers, and row-level-security roles.
//! A definition is checked against its dataset's columns before it is saved, and every error
//! names the place and the column or value at fault.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::dataset::{ColumnKind, DatasetInfo};

const MAX_PAGES: usize = 20;
const MAX_VISUALS_PER_PAGE: usize = 30;
const MAX_MEASURES: usize = 10;
const MAX_SLICERS: usize = 10;
const MAX_ROLES: usize = 50;
pub const MAX_VISUAL_ROWS: u32 = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportDefinition {
    /// The id of the dataset every visual reads.
    pub dataset: String,
    pub pages: Vec<Page>,
    /// Row-level security. A report with roles shows each user only the rows their roles
    /// allow; a user holding none of them sees nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RlsRole>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Page {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub slicers: Vec<Slicer>,
    pub visuals: Vec<Visual>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Slicer {
    pub column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum VisualKind {
    Card,
    Bar,
    Line,
    Donut,
    Table,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Visual {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: VisualKind,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<Dimension>,
    pub measures: Vec<Measure>,
    /// At most this many rows (groups) are returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TimeGrain {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl TimeGrain {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeGrain::Day => "day",
            TimeGrain::Week => "week",
            TimeGrain::Month => "month",
            TimeGrain::Quarter => "quarter",
            TimeGrain::Year => "year",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dimension {
    pub column: String,
    /// Groups a date or timestamp column by day, week, month, quarter or year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grain: Option<TimeGrain>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Aggregation {
    Sum,
    Count,
    Avg,
    Min,
    Max,
    CountDistinct,
}

impl Aggregation {
    fn needs_numbers(self) -> bool {
        matches!(self, Aggregation::Sum | Aggregation::Avg)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Measure {
    pub column: String,
    #[serde(rename = "agg")]
    pub aggregation: Aggregation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl Measure {
    pub fn label(&self) -> String {
        self.label.clone().unwrap_or_else(|| {
            let agg = match self.aggregation {
                Aggregation::Sum => "Sum",
                Aggregation::Count => "Count",
                Aggregation::Avg => "Average",
                Aggregation::Min => "Min",
                Aggregation::Max => "Max",
                Aggregation::CountDistinct => "Distinct",
            };
            format!("{agg} of {}", self.column)
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RlsRole {
    pub name: String,
    /// Each rule keeps the rows whose `column` equals the user's `attribute`; a role without
    /// rules sees every row.
    #[serde(default)]
    pub filters: Vec<RlsRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RlsRule {
    pub column: String,
    /// A user attribute name, or `username` for the user's email.
    pub attribute: String,
}

/// A definition that cannot be saved, naming where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DefinitionError {
    pub path: String,
    pub message: String,
}

fn error(path: impl Into<String>, message: impl Into<String>) -> DefinitionError {
    DefinitionError { path: path.into(), message: message.into() }
}

fn check_id(path: &str, id: &str) -> Result<(), DefinitionError> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid { Ok(()) } else { Err(error(path, "must be 1 to 64 letters, digits, '-' or '_'")) }
}

fn check_title(path: &str, title: &str) -> Result<(), DefinitionError> {
    if title.trim().is_empty() || title.chars().count() > 200 {
        return Err(error(path, "must be 1 to 200 characters"));
    }
    Ok(())
}

impl ReportDefinition {
    /// Parses a definition from JSON, naming the first problem found.
    pub fn from_json(value: serde_json::Value) -> Result<Self, DefinitionError> {
        serde_json::from_value(value).map_err(|e| error("definition", e.to_string()))
    }

    pub fn page(&self, id: &str) -> Option<&Page> {
        self.pages.iter().find(|p| p.id == id)
    }

    pub fn has_rls(&self) -> bool {
        !self.roles.is_empty()
    }

    /// Checks every page, visual, slicer and role against the dataset's columns.
    pub fn validate(&self, dataset: &DatasetInfo) -> Result<(), DefinitionError> {
        let column = |path: &str, name: &str| {
            dataset.column(name).ok_or_else(|| {
                error(
                    path,
                    format!("unknown column `{name}`; the dataset has: {}", dataset.column_names()),
                )
            })
        };
        if self.pages.is_empty() || self.pages.len() > MAX_PAGES {
            return Err(error("pages", format!("must hold 1 to {MAX_PAGES} pages")));
        }
        let mut page_ids = HashSet::new();
        for (p, page) in self.pages.iter().enumerate() {
            let at = format!("pages[{p}]");
            check_id(&format!("{at}.id"), &page.id)?;
            if !page_ids.insert(page.id.as_str()) {
                return Err(error(
                    format!("{at}.id"),
                    format!("`{}` is used by another page", page.id),
                ));
            }
            check_title(&format!("{at}.title"), &page.title)?;
            if page.slicers.len() > MAX_SLICERS {
                return Err(error(
                    format!("{at}.slicers"),
                    format!("at most {MAX_SLICERS} slicers"),
                ));
            }
            for (s, slicer) in page.slicers.iter().enumerate() {
                column(&format!("{at}.slicers[{s}].column"), &slicer.column)?;
            }
            if page.visuals.is_empty() || page.visuals.len() > MAX_VISUALS_PER_PAGE {
                return Err(error(
                    format!("{at}.visuals"),
                    format!("must hold 1 to {MAX_VISUALS_PER_PAGE} visuals"),
                ));
            }
            let mut visual_ids = HashSet::new();
            for (v, visual) in page.visuals.iter().enumerate() {
                let at = format!("{at}.visuals[{v}]");
                check_id(&format!("{at}.id"), &visual.id)?;
                if !visual_ids.insert(visual.id.as_str()) {
                    return Err(error(
                        format!("{at}.id"),
                        format!("`{}` is used by another visual", visual.id),
                    ));
                }
                check_title(&format!("{at}.title"), &visual.title)?;
                match (visual.kind, &visual.dimension) {
                    (VisualKind::Card, Some(_)) => {
                        return Err(error(
                            format!("{at}.dimension"),
                            "a card shows totals and takes no dimension",
                        ));
                    }
                    (VisualKind::Bar | VisualKind::Line | VisualKind::Donut, None) => {
                        return Err(error(
                            format!("{at}.dimension"),
                            "is required for this visual type",
                        ));
                    }
                    _ => {}
                }
                if let Some(dimension) = &visual.dimension {
                    let info = column(&format!("{at}.dimension.column"), &dimension.column)?;
                    if dimension.grain.is_some() && !info.kind.is_temporal() {
                        return Err(error(
                            format!("{at}.dimension.grain"),
                            format!("column `{}` is not a date or timestamp", dimension.column),
                        ));
                    }
                }
                if visual.measures.is_empty() || visual.measures.len() > MAX_MEASURES {
                    return Err(error(
                        format!("{at}.measures"),
                        format!("must hold 1 to {MAX_MEASURES} measures"),
                    ));
                }
                if visual.kind == VisualKind::Donut && visual.measures.len() != 1 {
                    return Err(error(
                        format!("{at}.measures"),
                        "a donut shows exactly one measure",
                    ));
                }
                for (m, measure) in visual.measures.iter().enumerate() {
                    let info = column(&format!("{at}.measures[{m}].column"), &measure.column)?;
                    if measure.aggregation.needs_numbers() && !info.kind.is_numeric() {
                        return Err(error(
                            format!("{at}.measures[{m}].agg"),
                            format!("column `{}` is not numeric", measure.column),
                        ));
                    }
                }
                if let Some(limit) = visual.limit
                    && !(1..=MAX_VISUAL_ROWS).contains(&limit)
                {
                    return Err(error(
                        format!("{at}.limit"),
                        format!("must be 1 to {MAX_VISUAL_ROWS}"),
                    ));
                }
            }
        }
        if self.roles.len() > MAX_ROLES {
            return Err(error("roles", format!("at most {MAX_ROLES} roles")));
        }
        let mut role_names = HashSet::new();
        for (r, role) in self.roles.iter().enumerate() {
            let at = format!("roles[{r}]");
            check_title(&format!("{at}.name"), &role.name)?;
            if !role_names.insert(role.name.as_str()) {
                return Err(error(
                    format!("{at}.name"),
                    format!("`{}` is used by another role", role.name),
                ));
            }
            for (f, rule) in role.filters.iter().enumerate() {
                let info = column(&format!("{at}.filters[{f}].column"), &rule.column)?;
                if info.kind == ColumnKind::Other {
                    return Err(error(
                        format!("{at}.filters[{f}].column"),
                        "cannot filter on this column's type",
                    ));
                }
                check_title(&format!("{at}.filters[{f}].attribute"), &rule.attribute)?;
            }
        }
        Ok(())
    }

    /// The columns a viewer may filter on: the page's slicers and its visuals' dimensions
    /// (clicking a bar or a slice filters the others).
    pub fn filterable_columns(&self, page: &Page) -> HashSet<String> {
        let mut columns: HashSet<String> = page.slicers.iter().map(|s| s.column.clone()).collect();
        for visual in &page.visuals {
            if let Some(dimension) = visual.dimension.as_ref().filter(|d| d.grain.is_none()) {
                columns.insert(dimension.column.clone());
            }
        }
        columns
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ColumnInfo;
    use serde_json::json;

    fn dataset() -> DatasetInfo {
        let column = |name: &str, kind| ColumnInfo { name: name.into(), kind };
        DatasetInfo {
            columns: vec![
                column("date", ColumnKind::Date),
                column("region", ColumnKind::Text),
                column("revenue", ColumnKind::Decimal),
                column("units", ColumnKind::Integer),
            ],
            row_count: 10,
        }
    }

    fn definition() -> serde_json::Value {
        json!({
            "dataset": "sales",
            "pages": [{
                "id": "overview", "title": "Overview",
                "slicers": [{ "column": "region" }],
                "visuals": [
                    { "id": "total", "type": "card", "title": "Revenue", "measures": [{ "column": "revenue", "agg": "sum" }] },
                    { "id": "by-region", "type": "bar", "title": "By region", "dimension": { "column": "region" },
                      "measures": [{ "column": "revenue", "agg": "sum" }, { "column": "units", "agg": "count" }] },
                    { "id": "trend", "type": "line", "title": "Trend", "dimension": { "column": "date", "grain": "month" },
                      "measures": [{ "column": "units", "agg": "avg" }] }
                ]
            }],
            "roles": [{ "name": "Own region", "filters": [{ "column": "region", "attribute": "region" }] }]
        })
    }

    fn refused(change: impl FnOnce(&mut serde_json::Value)) -> DefinitionError {
        let mut value = definition();
        change(&mut value);
        match ReportDefinition::from_json(value) {
            Ok(parsed) => parsed.validate(&dataset()).expect_err("should be refused"),
            Err(error) => error,
        }
    }

    #[test]
    fn a_valid_definition_passes_and_round_trips() {
        let parsed = ReportDefinition::from_json(definition()).unwrap();
        parsed.validate(&dataset()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), definition());
        assert!(parsed.has_rls());
        let page = parsed.page("overview").unwrap();
        let filterable = parsed.filterable_columns(page);
        assert!(filterable.contains("region") && !filterable.contains("date"));
    }

    #[test]
    fn unknown_columns_are_named_with_their_place() {
        let error =
            refused(|d| d["pages"][0]["visuals"][1]["measures"][0]["column"] = json!("revenu"));
        assert_eq!(error.path, "pages[0].visuals[1].measures[0].column");
        assert!(error.message.contains("`revenu`") && error.message.contains("revenue"), "{error}");
        let error = refused(|d| d["pages"][0]["slicers"][0]["column"] = json!("country"));
        assert_eq!(error.path, "pages[0].slicers[0].column");
        let error = refused(|d| d["roles"][0]["filters"][0]["column"] = json!("zone"));
        assert_eq!(error.path, "roles[0].filters[0].column");
        let error = refused(|d| d["pages"][0]["visuals"][2]["dimension"]["column"] = json!("day"));
        assert!(error.message.contains("`day`"));
    }

    #[test]
    fn unknown_measures_types_and_fields_are_refused() {
        let error =
            refused(|d| d["pages"][0]["visuals"][0]["measures"][0]["agg"] = json!("median"));
        assert!(error.message.contains("median"), "{error}");
        let error = refused(|d| d["pages"][0]["visuals"][0]["type"] = json!("gauge"));
        assert!(error.message.contains("gauge"), "{error}");
        let error = refused(|d| d["pages"][0]["visuals"][0]["colour"] = json!("red"));
        assert!(error.message.contains("colour"), "{error}");
    }

    #[test]
    fn measures_and_grains_must_fit_the_column_kind() {
        let error =
            refused(|d| d["pages"][0]["visuals"][1]["measures"][0]["column"] = json!("region"));
        assert_eq!(error.path, "pages[0].visuals[1].measures[0].agg");
        let error = refused(|d| d["pages"][0]["visuals"][1]["dimension"]["grain"] = json!("month"));
        assert_eq!(error.path, "pages[0].visuals[1].dimension.grain");
        let error =
            refused(|d| d["pages"][0]["visuals"][0]["dimension"] = json!({ "column": "region" }));
        assert_eq!(error.path, "pages[0].visuals[0].dimension");
        let error = refused(|d| {
            d["pages"][0]["visuals"][1]
                .as_object_mut()
                .unwrap()
                .remove("dimension")
                .map(|_| ())
                .unwrap()
        });
        assert_eq!(error.path, "pages[0].visuals[1].dimension");
    }

    #[test]
    fn ids_must_be_unique_and_plain() {
        let error = refused(|d| d["pages"][0]["visuals"][1]["id"] = json!("total"));
        assert_eq!(error.path, "pages[0].visuals[1].id");
        let error = refused(|d| d["pages"][0]["id"] = json!("../etc"));
        assert_eq!(error.path, "pages[0].id");
        let error = refused(|d| d["pages"] = json!([]));
        assert_eq!(error.path, "pages");
    }
}
