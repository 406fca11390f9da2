// The operators' dashboard (/dashboard): counts by status, today's revenue and the latest
// changes, refreshed whenever GET /events reports a change.
import { askForToken, follow, get, token, when } from "/assets/orderflow.js";

const LATEST = 20;
const $ = (id) => document.getElementById(id);

/** Cents of a two-place decimal string, exactly (money is never a float). */
function cents(amount) {
  const [units, fraction = "0"] = amount.split(".");
  const sign = units.startsWith("-") ? -1n : 1n;
  return sign * (BigInt(units.replace("-", "")) * 100n + BigInt(fraction.padEnd(2, "0")));
}

function money(total) {
  const sign = total < 0n ? "-" : "";
  const abs = total < 0n ? -total : total;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

async function refresh(bearer) {
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const from = encodeURIComponent(midnight.toISOString());
  const [stats, hours] = await Promise.all([
    get("/stats/orders", bearer),
    get(`/stats/revenue/hourly?from=${from}`, bearer),
  ]);
  for (const item of $("counts").children) {
    item.querySelector(".count").textContent = stats.by_status[item.dataset.status] ?? 0;
  }
  const revenue = hours.reduce((sum, hour) => sum + cents(hour.revenue), 0n);
  $("revenue-today").textContent = money(revenue);
  $("orders-today").textContent = hours.reduce((sum, hour) => sum + hour.order_count, 0);
}

function latest(order) {
  const item = document.createElement("li");
  item.dataset.orderId = order.order_id;
  item.dataset.status = order.status;
  const link = document.createElement("a");
  link.href = `/track/${encodeURIComponent(order.order_id)}`;
  link.textContent = order.order_id;
  item.append(link, ` · ${order.status} · ${order.customer_id} · ${when(order.updated_at)}`);
  const list = $("latest");
  list.prepend(item);
  while (list.children.length > LATEST) list.lastElementChild.remove();
}

async function main() {
  const bearer = token() || (await askForToken($("token-form")));
  try {
    await refresh(bearer);
  } catch (error) {
    $("error").textContent = `The dashboard cannot be shown: ${error.message}`;
    $("error").hidden = false;
    return;
  }
  // Changes come in bursts: one refresh per burst.
  let pending = null;
  follow("/events", bearer, (event) => {
    if (event.event !== "order") return;
    latest(JSON.parse(event.data));
    clearTimeout(pending);
    pending = setTimeout(() => refresh(bearer).catch(() => {}), 300);
  }, (state) => {
    $("connection").textContent = state;
    // `/events` is live only: after a reconnect the counts and revenue are read again, so
    // what changed while the stream was away is not missed.
    if (state === "live") refresh(bearer).catch(() => {});
  });
}

main();
