-- One database per FlowMate service: no service reads another's tables. compose.yaml mounts this file into the
-- postgres image's /docker-entrypoint-initdb.d, which runs it once, when the data volume is first created.
-- A new service with a database adds its line here (and its FLOWMATE_DATABASE_URL in compose.yaml).
CREATE DATABASE identity;
CREATE DATABASE flows;
CREATE DATABASE templates;
CREATE DATABASE executions;
CREATE DATABASE webhooks;
CREATE DATABASE secrets;
