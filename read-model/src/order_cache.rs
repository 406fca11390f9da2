//! The contract of the Redis order cache, shared by its writer (the projector) and its
//! reader (the query API), so both agree on keys and on the version guard. A key holds
//! one order's document, [`crate::OrderView`] as JSON.

/// The key of an order's cached document: `<prefix>order:<id>`.
pub fn order_cache_key(prefix: &str, order_id: &str) -> String {
    format!("{prefix}order:{order_id}")
}

/// The `SCAN` pattern that matches every cached order of `prefix` (glob characters in
/// the prefix are escaped, so they match only themselves).
pub fn order_cache_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 8);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str("order:*");
    pattern
}

/// Lua: writes `ARGV[2]` (a JSON order whose version is `ARGV[1]`) to `KEYS[1]` with a time
/// to live of `ARGV[3]` ms, unless the key holds that version or a newer one; returns 1
/// when written. One key per call, so it also runs on a Redis cluster. Used for the
/// projector's write-through and the query API's fill on a miss, so neither can replace a
/// newer state with an older one.
pub const WRITE_IF_NEWER: &str = r#"
local current = redis.call('GET', KEYS[1])
if current then
  local ok, doc = pcall(cjson.decode, current)
  if ok and type(doc) == 'table' and tonumber(doc.version) and
     tonumber(doc.version) >= tonumber(ARGV[1]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_pattern_agree() {
        let key = order_cache_key("of:", "ord-1");
        assert_eq!(key, "of:order:ord-1");
        assert!(key.starts_with(order_cache_pattern("of:").trim_end_matches('*')));
        assert_eq!(order_cache_pattern("a*b:"), "a\\*b:order:*");
    }
}
