-- Sums over many orders can outgrow any fixed precision (an hour of large orders, a
-- product's revenue over years); a batch must never fail on a valid event because of it.
ALTER TABLE stats_hourly ALTER COLUMN revenue TYPE numeric;
ALTER TABLE stats_products ALTER COLUMN revenue TYPE numeric;
