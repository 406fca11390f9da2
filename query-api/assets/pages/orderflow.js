// orderflow's pages: the bearer token, calls to the query API, and its live streams.
// No framework and no build step: the browser's fetch streams the Server-Sent Events, so
// the token goes in the Authorization header (EventSource cannot send one) and never in
// a URL that servers log.

const TOKEN_KEY = "orderflow.token";

/** The token: from the URL fragment (`#token=...`, never sent to a server), kept for the tab. */
export function token() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get("token");
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Asks for a token when the page has none; resolves once one is set. */
export function askForToken(form) {
  form.hidden = false;
  return new Promise((resolve) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = new FormData(form).get("token").trim();
      if (value) {
        sessionStorage.setItem(TOKEN_KEY, value);
        form.hidden = true;
        resolve(value);
      }
    });
  });
}

/** GETs `path` of the query API as JSON; throws with the problem's detail. */
export async function get(path, bearer) {
  const response = await fetch(path, { headers: { authorization: `Bearer ${bearer}` } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.detail || `${response.status} ${response.statusText}`);
  }
  return body;
}

/**
 * Follows the stream at `path`, calling `onEvent({event, id, data})` for each event and
 * `onState(text)` as the connection changes. Reconnects after an `end` event or a lost
 * connection, with the last id it saw, so no version is missed or seen twice.
 */
export async function follow(path, bearer, onEvent, onState) {
  let lastId = null;
  for (let attempt = 0; ; attempt++) {
    try {
      const headers = { authorization: `Bearer ${bearer}`, accept: "text/event-stream" };
      if (lastId !== null) headers["last-event-id"] = lastId;
      const response = await fetch(path, { headers });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        onState(`not live: ${body.detail || response.status}`);
        if (response.status === 401 || response.status === 403 || response.status === 404) return;
      } else {
        onState("live");
        attempt = 0;
        for await (const event of parse(response.body)) {
          if (event.id !== null) lastId = event.id;
          onEvent(event);
        }
      }
    } catch (error) {
      onState("reconnecting");
    }
    // A closed stream (shutdown, generation switch, slow reader) or a failed connect.
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * 2 ** attempt, 15000)));
  }
}

/** The events of an SSE body, as the HTML standard parses them. */
async function* parse(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replaceAll("\r\n", "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = { event: "message", id: null, data: null };
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.event = text;
        else if (field === "id") event.id = text;
        else if (field === "data") event.data = event.data === null ? text : `${event.data}\n${text}`;
      }
      if (event.data !== null) yield event;
    }
  }
}

/** A timestamp as the reader's local date and time. */
export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}
