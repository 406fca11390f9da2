// The tracking page of one order (/track/{id}): its document, then every new version
// from GET /orders/{id}/events, shown without a reload.
import { askForToken, follow, get, token, when } from "/assets/orderflow.js";

const STEPS = ["placed", "packed", "shipped", "delivered"];
const $ = (id) => document.getElementById(id);
const orderId = decodeURIComponent(location.pathname.split("/").pop());

/** Shows the order's document (any version). */
function show(order) {
  const status = $("status");
  // A cancelled or rejected order says why; fulfilment's reason is for the customer.
  const ended = { cancelled: ["Cancelled", order.cancel_reason], rejected: ["Rejected", order.reject_reason] };
  const [word, reason] = ended[order.status] || [order.status, null];
  status.textContent = reason ? `${word}: ${reason}` : word;
  status.dataset.status = order.status;
  status.dataset.version = order.version;
  $("location").textContent = order.location || "–";
  $("carrier").textContent = order.carrier || "–";
  $("tracking-number").textContent = order.tracking_number || "–";
  $("estimated-delivery").textContent = order.estimated_delivery || "–";
  // Before it is packed, an order is at its first step, however fulfilment has decided.
  const early = ["cancelled", "rejected", "pending", "confirmed"].includes(order.status);
  const reached = STEPS.indexOf(early ? "placed" : order.status);
  for (const step of $("timeline").children) {
    const index = STEPS.indexOf(step.dataset.step);
    step.classList.toggle("done", index <= reached);
    if (index === reached) step.setAttribute("aria-current", "step");
    else step.removeAttribute("aria-current");
    const time = step.querySelector("time");
    if (index === reached && !time.textContent) {
      time.dateTime = order.updated_at;
      time.textContent = when(order.updated_at);
    }
  }
  const change = document.createElement("li");
  change.textContent = `${when(order.updated_at)} · version ${order.version} · ${order.status}` +
    (order.location ? ` · ${order.location}` : "");
  $("changes").prepend(change);
}

/** The times of the steps already taken, from the history. */
async function stepTimes(bearer) {
  const page = await get(`/orders/${encodeURIComponent(orderId)}/history?limit=1000`, bearer);
  const steps = { OrderPlaced: "placed", OrderPacked: "packed", OrderShipped: "shipped", OrderDelivered: "delivered" };
  for (const event of page.events) {
    const step = document.querySelector(`#timeline [data-step="${steps[event.type]}"] time`);
    if (step) {
      step.dateTime = event.occurred_at;
      step.textContent = when(event.occurred_at);
    }
  }
}

async function main() {
  $("order-id").textContent = orderId;
  document.title = `Order ${orderId} · orderflow`;
  const bearer = token() || (await askForToken($("token-form")));
  try {
    await stepTimes(bearer);
  } catch (error) {
    $("error").textContent = `This order cannot be shown: ${error.message}`;
    $("error").hidden = false;
    return;
  }
  const stream = `/orders/${encodeURIComponent(orderId)}/events`;
  follow(stream, bearer, (event) => {
    if (event.event === "order") show(JSON.parse(event.data));
  }, (state) => {
    $("connection").textContent = state;
  });
}

main();
