-- OrderRejected (fulfilment) says why, in words for the customer.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS reject_reason text;
