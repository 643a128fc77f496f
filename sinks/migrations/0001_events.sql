-- Normalised touchpoint events, one row per event_id as queries see it.
--
-- Engine: ReplacingMergeTree. The pipeline is at-least-once up to here, so the
-- same event can be inserted twice (a worker crash before its commit, a writer
-- retry). Rows with the same sorting key collapse at merge time; readers use
-- FINAL (or argMax) to see exactly one row per event right away.
-- Sorting key: every column in it is fixed by event_id, so duplicates share it;
-- (source, touchpoint, occurred_at) first serves per-touchpoint time queries.
-- Partition: by month of event time; small enough to drop old months cheaply.
-- Lineage: the tp.events record each row came from, and when it was written.
CREATE TABLE IF NOT EXISTS events
(
    event_id UUID,
    occurred_at DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    source LowCardinality(String),
    touchpoint LowCardinality(String),
    location LowCardinality(String),
    schema_version UInt16,
    customer_id String,
    loyalty_id String,
    anonymous_id String,
    device_id String,
    session_id String,
    phone_hash String,
    email_hash String,
    friction UInt8,
    wait_seconds Nullable(Float64),
    payload String,
    kafka_topic LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (source, touchpoint, occurred_at, event_id)
