-- Input the pipeline could not use, kept whole with the reason and its origin.
--
-- Engine: ReplacingMergeTree keyed by the origin record and stage: the same bad
-- record dead-lettered twice (a redelivery) is one row as FINAL queries see it.
-- raw holds the original bytes (String is a byte string in ClickHouse), cut to
-- the size limit for oversized input (raw_size keeps the real size).
-- Partition: by month of the origin record's Kafka timestamp, which a
-- redelivery shares (the time of dead-lettering would not), so duplicates
-- always meet in one partition.
CREATE TABLE IF NOT EXISTS dead_letters
(
    origin_topic LowCardinality(String),
    origin_partition UInt16,
    origin_offset UInt64,
    origin_timestamp DateTime64(3, 'UTC'),
    origin_key String,
    stage LowCardinality(String),
    reason LowCardinality(String),
    detail String,
    source String,
    event_id String,
    raw String,
    raw_size UInt32,
    raw_truncated UInt8,
    dead_lettered_at DateTime64(3, 'UTC'),
    kafka_topic LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(origin_timestamp)
ORDER BY (origin_topic, origin_partition, origin_offset, stage)
