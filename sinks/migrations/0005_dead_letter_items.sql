-- Dead letters of items of batch records (issue 13): one Kafka record may hold
-- many values (schemas/batches.py), and each bad item is a dead letter of its
-- own. Keyed by the record alone, two bad items of one record would collapse
-- into one row, so the item joins the sorting key.
--
-- origin_in_batch: 1 when the dead letter is about one item of a batch record,
--   0 when it is about the whole record (a record that is one value, or one
--   that could not be read as a batch at all: not JSON, too large, empty).
-- origin_index: the item's position in the batch record (from 0); 0 when
--   origin_in_batch = 0. So item 0 is (1, 0) and a whole record (0, 0).
-- Neither column can be Nullable (no Nullable sorting keys on 18.16, and only
-- behind a setting today) nor have a DEFAULT (a column added to the sorting
-- key in the same ALTER may not have one): rows from before read (0, 0), a
-- whole record, which is what every one of them was.
-- The same ALTER runs on 18.16 and on current ClickHouse; it rewrites no part
-- (existing rows keep their order under the longer key) and loses no row.
ALTER TABLE dead_letters
    ADD COLUMN origin_in_batch UInt8 AFTER origin_key,
    ADD COLUMN origin_index UInt32 AFTER origin_in_batch,
    MODIFY ORDER BY
        (origin_topic, origin_partition, origin_offset, stage, origin_in_batch, origin_index)
