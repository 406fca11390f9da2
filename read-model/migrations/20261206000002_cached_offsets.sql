-- Every record of a partition below cached_offset has its order written through to Redis
-- (ADR 0010). It trails next_offset by the batches whose cache writes were not confirmed
-- yet; on assignment the projector reads the log again from here and writes those orders
-- through from Postgres, so a crash between a commit and its cache write leaves no stale
-- document behind. NULL (a read model from before this column) reads as next_offset.
ALTER TABLE projection_offsets ADD COLUMN IF NOT EXISTS cached_offset bigint;
