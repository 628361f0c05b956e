-- A running execution's lease: renewed by every checkpoint of its holder. An execution whose lease ran out without
-- it finishing or parking (its trigger was dead-lettered, or its holder vanished without a redelivery) is claimed
-- again by the timers and continued from its checkpoint.
ALTER TABLE executions ADD COLUMN lease_until TEXT;
CREATE INDEX executions_lease ON executions (lease_until) WHERE lease_until IS NOT NULL;
