-- Interaction scores (tp.scores) and stream-detected degradations (tp.degradations).
--
-- interaction_scores: one row per event_id as queries see it.
-- Engine: ReplacingMergeTree(scored_at). Ingest is at-least-once, so an event
-- can be scored twice (a redelivery); every column in the sorting key is fixed
-- by event_id, so the copies collapse at merge time, keeping the latest
-- scoring. Read with FINAL (or argMax) to see one row per event right away.
-- Sorting key: (touchpoint, location, occurred_at) first serves "how did this
-- touchpoint score over time", the dashboards' and runbooks' query.
-- Drivers: three parallel arrays (signal, name, points), in the order the
-- scorer sorted them (largest impact first); plain arrays also work on the old
-- local server. Survey columns are empty/NULL for events that are not surveys;
-- survey_about_event_id pairs an answer with the score it grades.
-- Partition: by month of event time, like events.
CREATE TABLE IF NOT EXISTS interaction_scores
(
    event_id UUID,
    occurred_at DateTime64(3, 'UTC'),
    scored_at DateTime64(3, 'UTC'),
    source LowCardinality(String),
    touchpoint LowCardinality(String),
    location LowCardinality(String),
    customer_key String,
    score Float64,
    experience LowCardinality(String),
    rules_version LowCardinality(String),
    driver_signals Array(String),
    driver_names Array(String),
    driver_points Array(Float64),
    sla_met Nullable(UInt8),
    survey_about_touchpoint String,
    survey_about_event_id String,
    survey_csat Nullable(UInt8),
    survey_nps Nullable(UInt8),
    survey_ces Nullable(UInt8),
    kafka_topic LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(scored_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (touchpoint, location, occurred_at, event_id);

-- degradations: one row per touchpoint, location and event-time window.
-- Engine: ReplacingMergeTree(detected_at); degradation_id is derived from the
-- sorting key, so a re-detection after a replay is the same row (FINAL keeps
-- the latest detection).
-- Impact: customers_affected distinct customers had a bad experience there in
-- the window (a lower bound when customers_capped = 1); events_affected bad events.
-- Partition: by month of the window.
CREATE TABLE IF NOT EXISTS degradations
(
    degradation_id UUID,
    touchpoint LowCardinality(String),
    location LowCardinality(String),
    window_start DateTime64(3, 'UTC'),
    window_end DateTime64(3, 'UTC'),
    detected_at DateTime64(3, 'UTC'),
    signals Array(String),
    events UInt32,
    events_affected UInt32,
    customers_affected UInt32,
    customers_capped UInt8,
    bad_ratio Float64,
    baseline_bad_ratio Float64,
    mean_score Float64,
    baseline_score Float64,
    baseline_windows UInt32,
    kafka_topic LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(detected_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (touchpoint, location, window_start);
