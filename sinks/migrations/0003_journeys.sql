-- Journey snapshots, identity links and merges: what stitching publishes.
--
-- journeys: one row per (journey_id, version). ReplacingMergeTree(version)
-- keeps the highest version of each journey at merge time; until then readers
-- take the latest with argMax(<column>, version) grouped by journey_id (see
-- docs/journeys.md), and drop journeys whose latest row is retired (absorbed by
-- a merge or re-cut by a late event; superseded_by names where its first step
-- went). Journey ids are fixed by (canonical key, first event), so every
-- version of one id shares canonical_key and started_at. No time partition: a
-- retired row must land in the same part family as the versions it replaces.
-- Steps are parallel arrays in event-time order (step_scores: the interaction
-- score, nan where a step had none). score/experience/rules_version and the
-- score_driver_* arrays are the journey score and what moved it (empty for
-- retired rows and for journeys published without scoring rules).
CREATE TABLE IF NOT EXISTS journeys
(
    journey_id String,
    version UInt64,
    canonical_key String,
    retired UInt8,
    superseded_by String,
    started_at DateTime64(3, 'UTC'),
    last_at DateTime64(3, 'UTC'),
    closed UInt8,
    close_reason LowCardinality(String),
    stage LowCardinality(String),
    channels Array(String),
    channel_switches UInt32,
    repeat_contacts UInt32,
    open_issue UInt8,
    open_issue_kind LowCardinality(String),
    late_steps UInt32,
    step_count UInt32,
    step_event_ids Array(UUID),
    step_times Array(DateTime64(3, 'UTC')),
    step_sources Array(String),
    step_touchpoints Array(String),
    step_locations Array(String),
    step_friction Array(UInt8),
    step_signals Array(String),
    step_late Array(UInt8),
    step_scores Array(Float64),
    score Float64,
    experience LowCardinality(String),
    rules_version LowCardinality(String),
    interaction_mean Float64,
    score_driver_signals Array(String),
    score_driver_names Array(String),
    score_driver_points Array(Float64),
    updated_at DateTime64(3, 'UTC'),
    kafka_topic LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY journey_id;

-- identity_links: each identifier's canonical key as of each event that moved
-- it. A redelivered link collapses on (identifier, event_id); the current key
-- of an identifier is argMax(canonical_key, linked_at), then followed through
-- merges (a merge re-keys a whole component but only the identifiers on the
-- merging event get a new row).
CREATE TABLE IF NOT EXISTS identity_links
(
    identifier String,
    canonical_key String,
    status LowCardinality(String),
    event_id UUID,
    occurred_at DateTime64(3, 'UTC'),
    linked_at DateTime64(3, 'UTC'),
    kafka_topic LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree()
ORDER BY (identifier, event_id);

-- merges: the audit trail of keys that became one, one row per merge as
-- queries see it (a redelivered merge collapses on its sorting key).
CREATE TABLE IF NOT EXISTS merges
(
    from_key String,
    into_key String,
    cause_event_id UUID,
    occurred_at DateTime64(3, 'UTC'),
    merged_at DateTime64(3, 'UTC'),
    kafka_topic LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree()
ORDER BY (from_key, into_key, cause_event_id)
