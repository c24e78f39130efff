-- A capacity backed by Azure (Power BI Embedded or Fabric): its kind, subscription, resource
-- group and name, as JSON; NULL for the built-in engine's and simulated ones.
ALTER TABLE capacities ADD COLUMN azure TEXT;
