-- A report imported from Power BI: where it lives there (workspace, report, dataset, embed URL)
-- and whether its embed tokens need an effective identity, as JSON; NULL for Vitrine's own.
ALTER TABLE reports ADD COLUMN powerbi TEXT;
