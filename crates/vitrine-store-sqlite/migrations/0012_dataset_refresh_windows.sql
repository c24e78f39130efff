-- Imported datasets can refresh inside weekly windows (like a capacity's schedule): the
-- windows as JSON (`[{"day","start","end"}]`) and the time zone they are read in.
ALTER TABLE datasets ADD COLUMN refresh_windows TEXT;
ALTER TABLE datasets ADD COLUMN refresh_time_zone TEXT;
