// vitstream dashboard: one WebSocket, one card per stream. Plain JS, no build step.
// Messages may arrive far faster than a screen refreshes, so they only update `state`;
// the DOM is redrawn at most once per animation frame, and only for streams that changed.

(() => {
  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  const wanted = (params.get('streams') || '*')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const STALE_MS = 5000;
  const MAX_EVENTS = 100;
  const TIMELINE_MS = 5 * 60_000;

  /** @type {Map<string, {prediction?: any, stats?: any, thumbnail?: string, dirty: boolean, lastAt: number, el?: HTMLElement}>} */
  const streams = new Map();
  let engine = null;
  let missedTotal = 0;
  let eventCount = 0;
  let renderQueued = false;

  const $ = (id) => document.getElementById(id);
  const grid = $('streams');
  const cardTemplate = $('card-template');
  const rowTemplate = $('row-template');

  function streamState(id) {
    let s = streams.get(id);
    if (!s) {
      s = { dirty: true, lastAt: 0 };
      streams.set(id, s);
    }
    return s;
  }

  // ---- connection ------------------------------------------------------------------------

  let ws = null;
  let attempt = 0;
  let everOpened = false;
  let retryTimer = null;
  // Why the last attempt failed, while no connection has ever opened; kept on the "reconnecting" line too, so
  // the advice (e.g. a wrong token) does not vanish when the next try starts.
  let neverOpenedHint = '';

  function socketUrl() {
    const u = new URL('ws', location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    u.search = '';
    if (token) u.searchParams.set('token', token);
    return u.toString();
  }

  function setConn(state, text) {
    const el = $('conn');
    el.dataset.state = state;
    $('conn-text').textContent = text;
  }

  function connect() {
    retryTimer = null;
    setConn(
      'connecting',
      attempt === 0 ? 'connecting…' : `reconnecting… (try ${attempt + 1})${neverOpenedHint}`,
    );
    const sock = new WebSocket(socketUrl());
    ws = sock;
    let opened = false;
    sock.onopen = () => {
      opened = true;
      everOpened = true;
      neverOpenedHint = '';
      attempt = 0;
      setConn('live', 'live');
      sock.send(JSON.stringify({ type: 'subscribe', streams: wanted }));
    };
    sock.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      handle(msg);
    };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      // Backoff with jitter: 0.5 s, 1 s, 2 s ... capped at 10 s, so a restarted server is not stampeded.
      const delay = Math.min(10000, 500 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() * 0.5);
      attempt++;
      let why = ev.reason ? `: ${ev.reason}` : '';
      if (!opened && !everOpened && token === null)
        why = ' (if the server needs a token, add ?token=… to this URL)';
      else if (!opened && !everOpened) why = ' (check the token in this URL)';
      if (!everOpened) neverOpenedHint = why;
      setConn('down', `disconnected${why} — retry in ${Math.round(delay / 1000)} s`);
      for (const s of streams.values()) s.dirty = true;
      scheduleRender();
      retryTimer = setTimeout(connect, delay);
    };
    sock.onerror = () => {
      // onclose follows and schedules the retry.
    };
  }

  // Reconnect at once when the page comes back to the foreground or the network returns.
  function retryNow() {
    if (retryTimer !== null) {
      clearTimeout(retryTimer);
      connect();
    }
  }
  window.addEventListener('online', retryNow);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') retryNow();
  });

  // ---- messages ----------------------------------------------------------------------------

  function handle(msg) {
    switch (msg.type) {
      case 'hello':
      case 'streams':
        if (Array.isArray(msg.streams)) {
          // The list is the server's whole set: streams removed at run time lose their card.
          const listed = new Set(msg.streams);
          for (const [id, s] of streams) {
            if (listed.has(id)) continue;
            s.el?.remove();
            streams.delete(id);
          }
          for (const id of msg.streams) if (wants(id)) streamState(id);
        }
        break;
      case 'prediction': {
        const s = streamState(msg.streamId);
        // A replayed prediction (sent on subscribe) is what the stream showed last, maybe long ago:
        // it never replaces a newer one, and its age (not its arrival) decides staleness.
        if (msg.replayed && s.prediction && s.prediction.frame >= msg.frame) break;
        const first = !s.prediction;
        s.prediction = msg;
        if (msg.thumbnail) s.thumbnail = msg.thumbnail;
        s.lastAt = msg.replayed ? Math.min(Date.now(), msg.receivedAtMs ?? 0) : Date.now();
        s.dirty = true;
        if (!msg.replayed || first)
          timelineOf(s)?.add({ time: msg.receivedAtMs ?? s.lastAt, ...msg.top?.[0] });
        break;
      }
      case 'stats':
        for (const [id, st] of Object.entries(msg.streams || {})) {
          const s = streamState(id);
          s.stats = st;
          s.dirty = true;
        }
        if (msg.engine) engine = msg.engine;
        break;
      case 'event':
        addEvent(msg);
        break;
      case 'missed':
        missedTotal += msg.count;
        break;
      case 'error':
        addEvent({ kind: 'server-error', level: 'error', message: msg.message, atMs: Date.now() });
        break;
      default:
        return;
    }
    scheduleRender();
  }

  // The last minutes of top-1 classes per stream (timeline.js); made with the first prediction and
  // mounted into the card when the card exists.
  function timelineOf(s) {
    s.timeline ??= window.vitstreamTimeline?.createTimeline({ mode: 'clock', windowMs: TIMELINE_MS });
    if (s.timeline && s.el && !s.timeline.element.isConnected)
      s.el.querySelector('.timeline-slot')?.append(s.timeline.element);
    return s.timeline;
  }

  function wants(id) {
    return wanted.includes('*') || wanted.includes(id);
  }

  function addEvent(ev) {
    // The card says why its stream is down (the last error or warning) until frames flow again.
    if (ev.streamId && wants(ev.streamId)) {
      const s = streamState(ev.streamId);
      if (ev.level === 'error' || ev.level === 'warn') {
        s.problem = ev.message;
        s.problemLevel = ev.level;
      } else if (ev.kind === 'recovered') s.problem = undefined;
      s.dirty = true;
    }
    const li = document.createElement('li');
    li.className = `event level-${ev.level || 'info'}`;
    const time = document.createElement('time');
    const at = new Date(ev.atMs || Date.now());
    time.dateTime = at.toISOString();
    time.textContent = at.toLocaleTimeString();
    const what = document.createElement('span');
    what.className = 'event-text';
    what.textContent = `${ev.streamId ? `${ev.streamId} · ` : ''}${ev.kind}: ${ev.message}`;
    li.append(time, what);
    const list = $('events');
    list.prepend(li);
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
    eventCount++;
    $('events-count').textContent = String(eventCount);
  }

  // ---- rendering ---------------------------------------------------------------------------

  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(render);
  }

  const fmt = {
    fps: (v) => (typeof v === 'number' ? `${v.toFixed(v < 10 ? 1 : 0)} fps` : '–'),
    ms: (v) =>
      typeof v === 'number' ? (v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(1)} s`) : '–',
    int: (v) => (typeof v === 'number' ? Math.round(v).toLocaleString() : '–'),
    pct: (v) => `${(v * 100).toFixed(v >= 0.995 || v < 0.1 ? 1 : 0)}%`,
  };

  function render() {
    renderQueued = false;
    const ids = [...streams.keys()].sort();
    $('empty').hidden = ids.length > 0;
    $('sum-streams').textContent = String(ids.length);
    $('sum-engine').textContent =
      engine && typeof engine.utilization === 'number' ? `${fmt.pct(engine.utilization)} busy` : '–';
    $('sum-batch').textContent =
      engine && typeof engine.batchLatencyMs === 'number'
        ? `${engine.batchSize ?? '?'} × ${fmt.ms(engine.batchLatencyMs)}`
        : '–';
    $('sum-missed-box').hidden = missedTotal === 0;
    $('sum-missed').textContent = fmt.int(missedTotal);

    let prev = null;
    for (const id of ids) {
      const s = streams.get(id);
      if (!s.el) {
        s.el = createCard(id);
        s.dirty = true;
      }
      // Keep cards in id order without re-appending the ones already in place.
      const expected = prev ? prev.nextElementSibling : grid.firstElementChild;
      if (expected !== s.el) grid.insertBefore(s.el, expected);
      prev = s.el;
      if (s.dirty) updateCard(s);
      timelineOf(s);
      s.dirty = false;
    }
  }

  function createCard(id) {
    const el = cardTemplate.content.firstElementChild.cloneNode(true);
    el.dataset.stream = id;
    el.querySelector('.stream-id').textContent = id;
    el.querySelector('.stream-id').title = id;
    return el;
  }

  function updateCard(s) {
    const el = s.el;
    const p = s.prediction;
    const st = s.stats || {};

    const stale = !ws || (s.lastAt > 0 && Date.now() - s.lastAt > STALE_MS);
    const stateName = !ws ? 'offline' : st.state || (p ? (stale ? 'stale' : 'live') : 'waiting');
    const badge = el.querySelector('.state');
    badge.textContent = stateName;
    badge.dataset.state = stateName;
    el.classList.toggle('is-stale', stale);
    const problem = el.querySelector('.problem');
    const showProblem = Boolean(s.problem) && stateName !== 'live';
    problem.hidden = !showProblem;
    problem.dataset.level = s.problemLevel || 'error';
    if (showProblem && problem.textContent !== s.problem) {
      problem.textContent = s.problem;
      problem.title = s.problem;
    }

    if (s.thumbnail) {
      const img = el.querySelector('.thumb img');
      if (img.getAttribute('src') !== s.thumbnail) img.src = s.thumbnail;
      img.hidden = false;
      el.querySelector('.thumb-empty').hidden = true;
    }

    if (p && Array.isArray(p.top)) {
      const list = el.querySelector('.top');
      while (list.children.length < p.top.length)
        list.append(rowTemplate.content.firstElementChild.cloneNode(true));
      while (list.children.length > p.top.length) list.lastElementChild.remove();
      p.top.forEach((t, i) => {
        const row = list.children[i];
        const label = row.querySelector('.label');
        label.textContent = t.label;
        label.title = `${t.label} (class ${t.index})`;
        row.querySelector('.score').textContent = fmt.pct(t.score);
        row.querySelector('.fill').style.width = `${Math.max(0, Math.min(1, t.score)) * 100}%`;
      });
    }

    // A stream that is over has totals, not rates: "0.0 fps" would read as a fault.
    const over = st.state === 'ended' || st.state === 'error';
    el.querySelector('.s-fps-in').textContent = over ? '–' : fmt.fps(st.fpsIn);
    el.querySelector('.s-fps-cls').textContent = over ? '–' : fmt.fps(st.fpsClassified);
    el.querySelector('.s-total').textContent = fmt.int(st.classified);
    el.querySelector('.s-latency').textContent = fmt.ms(
      typeof st.latencyMs === 'number' ? st.latencyMs : p?.latencyMs,
    );
    el.querySelector('.s-dropped').textContent = fmt.int(st.dropped);
    el.querySelector('.s-frame').textContent = p ? fmt.int(p.frame) : '–';
  }

  // Cards go stale when their stream falls silent; re-check them even if no message arrives.
  setInterval(() => {
    for (const s of streams.values()) if (s.lastAt > 0) s.dirty = true;
    scheduleRender();
  }, 1000);

  connect();
})();
