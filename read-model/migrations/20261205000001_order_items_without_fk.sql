-- The projector writes an order and its items in the same transaction, from one fold, so
-- the foreign key never caught anything; its per-row trigger check cost more than the
-- rest of the items insert (about 30 ms of a 2,000-event batch, docs/performance.md).
ALTER TABLE order_items DROP CONSTRAINT IF EXISTS order_items_order_id_fkey;
