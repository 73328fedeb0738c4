-- A login session may carry fewer scopes than the person's role (a device authorization that asked for `scope`).
-- NULL means "whatever the role allows"; otherwise the tokens of the session carry the intersection of the two,
-- evaluated on every look-up so a role downgraded later narrows them further.
ALTER TABLE auth_sessions ADD COLUMN scopes text[];
ALTER TABLE device_codes ADD CONSTRAINT device_codes_scope_length CHECK (scope IS NULL OR length(scope) <= 1000);
