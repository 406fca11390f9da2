-- OrderShipped v2 carries the carrier's estimated delivery date (null for v1 events).
ALTER TABLE orders ADD COLUMN IF NOT EXISTS estimated_delivery date;
