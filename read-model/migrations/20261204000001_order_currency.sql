-- OrderPlaced v2 names the currency of the order's amounts ("USD" for v1 events).
ALTER TABLE orders ADD COLUMN IF NOT EXISTS currency text NOT NULL DEFAULT 'USD';
