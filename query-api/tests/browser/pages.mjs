// Drives the tracking page and the dashboard in headless Chromium while commands move an
// order along, and checks that each state shows without a reload. Run by
// query-api/tests/e2e/pages.rs against a real stack; exits non-zero naming what failed.
//
// Environment: QUERY_URL, COMMAND_URL, CUSTOMER_ID, CUSTOMER_TOKEN, OPERATOR_TOKEN,
// CHROMIUM (the browser), SCREENSHOTS (a directory for tracking-page.png, dashboard.png).
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const QUERY = env("QUERY_URL");
const COMMANDS = env("COMMAND_URL");
const OPERATOR = env("OPERATOR_TOKEN");
const CUSTOMER = env("CUSTOMER_TOKEN");
const WITHIN = 15_000;

async function command(path, body, token = OPERATOR) {
  const response = await fetch(`${COMMANDS}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

async function place(customer, token) {
  const order = await command("/orders", {
    customer_id: customer,
    shipping_address: "1 Main St, Springfield",
    items: [{ product_id: "sku-1", quantity: 2, unit_price: "25.99" }],
  }, token);
  // The page reads the read model: wait until the projector has the order.
  const read = await fetch(`${QUERY}/orders/${order.order_id}?min_version=1&wait_ms=10000`, {
    headers: { authorization: `Bearer ${OPERATOR}` },
  });
  if (!read.ok) throw new Error(`the order was not projected: ${read.status}`);
  return order.order_id;
}

/** Waits until `check(arg)` holds in the page, which must not have been reloaded. */
async function until(page, what, check, arg) {
  try {
    await page.waitForFunction(check, arg, { timeout: WITHIN });
  } catch (error) {
    const body = await page.locator("main").innerText().catch(() => "(no page)");
    throw new Error(`${what}: not shown within ${WITHIN} ms\n--- page ---\n${body}`);
  }
  if (!(await page.evaluate(() => window.__notReloaded === true))) {
    throw new Error(`${what}: the page was reloaded`);
  }
}

const statusIs = ([version, text]) => {
  const status = document.getElementById("status");
  return status.dataset.version === String(version) && status.textContent.includes(text);
};
const factIs = ([id, text]) => document.getElementById(id).textContent === text;
const placedCount = () =>
  Number(document.querySelector('#counts [data-status="placed"] .count').textContent);

async function trackingPage(browser) {
  const id = await place(env("CUSTOMER_ID"), CUSTOMER);
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
  await page.goto(`${QUERY}/track/${encodeURIComponent(id)}#token=${CUSTOMER}`);
  await page.evaluate(() => { window.__notReloaded = true; });
  await until(page, "placed", statusIs, [1, "placed"]);
  if (page.url().includes("token=")) throw new Error("the token stayed in the address bar");

  const steps = [
    ["pack", { warehouse: "wh-east" }, 2, "packed", null],
    ["ship", { carrier: "UPS", tracking_number: "1Z999AA1", estimated_delivery: "2026-12-01" }, 3,
      "shipped", ["carrier", "UPS"]],
    ["location", { location: "Hub Frankfurt" }, 4, "shipped", ["location", "Hub Frankfurt"]],
    ["deliver", {}, 5, "delivered", null],
  ];
  for (const [path, body, version, shown, fact] of steps) {
    await command(`/orders/${encodeURIComponent(id)}/${path}`, body);
    await until(page, `version ${version} (${shown})`, statusIs, [version, shown]);
    if (fact) await until(page, `${fact[0]} ${fact[1]}`, factIs, fact);
  }
  await until(page, "the tracking number", factIs, ["tracking-number", "1Z999AA1"]);
  await until(page, "the estimated delivery", factIs, ["estimated-delivery", "2026-12-01"]);
  await until(page, "every step done",
    () => document.querySelectorAll("#timeline li.done").length === 4);
  await page.screenshot({ path: `${env("SCREENSHOTS")}/tracking-page.png`, fullPage: true });
  await page.close();
  return id;
}

async function dashboard(browser) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
  await page.goto(`${QUERY}/dashboard#token=${OPERATOR}`);
  await page.evaluate(() => { window.__notReloaded = true; });
  await until(page, "the counts", () => document.querySelector(
    '#counts [data-status="placed"] .count').textContent !== "–");
  await until(page, "live", () => document.getElementById("connection").textContent === "live");
  const before = await page.evaluate(placedCount);

  const id = await place("dash-customer", OPERATOR);
  await until(page, "the new order among the latest changes",
    (id) => [...document.querySelectorAll("#latest li")].some((li) => li.dataset.orderId === id), id);
  const placedIs = (n) =>
    Number(document.querySelector('#counts [data-status="placed"] .count').textContent) === n;
  await until(page, "one more placed order", placedIs, before + 1);
  await command(`/orders/${encodeURIComponent(id)}/pack`, { warehouse: "wh-east" });
  await until(page, "its packing among the latest changes", (id) => {
    const newest = document.querySelector("#latest li");
    return newest.dataset.orderId === id && newest.dataset.status === "packed";
  }, id);
  await until(page, "the placed count back", placedIs, before);
  await until(page, "today's revenue", () => {
    const text = document.getElementById("revenue-today").textContent;
    return /^[0-9]+\.[0-9]{2}$/.test(text) && text !== "0.00";
  });
  await page.screenshot({ path: `${env("SCREENSHOTS")}/dashboard.png`, fullPage: true });
  await page.close();
}

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  const tracked = await trackingPage(browser);
  await dashboard(browser);
  console.log(JSON.stringify({ ok: true, tracked }));
} catch (error) {
  console.error(error.message);
  process.exitCode = 1;
} finally {
  await browser.close();
}
