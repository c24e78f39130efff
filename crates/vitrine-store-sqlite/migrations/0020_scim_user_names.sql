-- SCIM looks a userName up without regard to (ASCII) case: one row, by index.
CREATE INDEX scim_users_by_lower_user_name ON scim_users(org_id, lower(user_name));
