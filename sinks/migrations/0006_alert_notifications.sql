-- Alert notifications the receiver got from Alertmanager (touchpoints alert-receiver):
-- who was told what, when, and what it resolved to. One row per alert per
-- notification.
--
-- Engine: ReplacingMergeTree(received_at). Alertmanager retries a webhook it
-- could not deliver, and the receiver's spool replays rows ClickHouse missed,
-- so the same notification can be written several times. notification_key is
-- a hash of the payload's group key, status and alerts (fingerprint, status,
-- start, end): a retry has the same key, so the copies collapse and FINAL (or
-- argMax(..., received_at)) shows the latest attempt, with its forward status.
-- Sorting key: (notification_key, fingerprint), both fixed by the payload.
-- Partition: by month of the alert's start, also fixed by the key, so the
-- copies of one notification always share a part family.
-- Labels: two parallel arrays (no Map type on the local 18.16 server).
-- Impact: customers and journeys hurt at the alert's touchpoint and location
-- since its start (sinks/impact_queries.py); impact_known = 0 when ClickHouse
-- could not be read at the time (the counts are then 0, not measured).
CREATE TABLE IF NOT EXISTS alert_notifications
(
    notification_key String,
    fingerprint String,
    received_at DateTime64(3, 'UTC'),
    receiver LowCardinality(String),
    group_key String,
    notification_status LowCardinality(String),
    alert_status LowCardinality(String),
    alertname LowCardinality(String),
    severity LowCardinality(String),
    touchpoint LowCardinality(String),
    location LowCardinality(String),
    label_names Array(String),
    label_values Array(String),
    summary String,
    starts_at DateTime64(3, 'UTC'),
    ends_at Nullable(DateTime64(3, 'UTC')),
    impact_known UInt8,
    customers_hurt UInt32,
    journeys_hurt UInt32,
    customers_sample Array(String),
    told String,
    forward_status LowCardinality(String),
    forward_detail String,
    recorded_from LowCardinality(String)
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(starts_at)
ORDER BY (notification_key, fingerprint)
