-- What a code step wrote to its console: {"lines": [{level, message, at}], "truncated": N}, kept as step data is.
ALTER TABLE execution_steps ADD COLUMN logs TEXT;
