-- Which log this read model folded (ADR 0010): Kafka's topic id and the partition count.
-- A topic deleted and created again under the same name has another id, and a changed
-- partition count moves orders between partitions: the projector refuses both rather than
-- fold a different log on top of this one.
CREATE TABLE IF NOT EXISTS projection_log (
    projection text NOT NULL,
    topic      text NOT NULL,
    topic_id   text NOT NULL,
    partitions int  NOT NULL,
    PRIMARY KEY (projection, topic)
);
