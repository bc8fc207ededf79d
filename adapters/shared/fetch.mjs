// fetch.mjs: the device's network, for both Node adapters (docs/adapter-protocol.md §4–§5).
// Owns the `fetch` the SDK sees, the app shell's backend requests, request numbering and tags,
// latency, offline, and the request happenings. One `Network` per launch.
//
// FAPI: the real HTTP exchange with the emulator happens at once (the emulator applies the
// request at its `x-harness-virtual-time`, the send instant); the answer is held on the
// virtual clock for the latency (`x-harness-latency-ms`, else the setting), reported as
// `request_done` when it reaches the device (a network job, which runs in the background too),
// and handed to JS by a fake timer at that instant (which the background holds).
// Backend: the request travels for `backend_latency_ms`, then the server judges it at the
// arrival instant (as the harness model does), `backend_hit` is reported, and the status
// reaches JS by a fake timer at once.
//
// The real exchange uses node:http, not Node's fetch: undici reads the global timer functions
// the fake clock replaces, and its keep-alive timers would then run on virtual time.
//
// What differs per adapter is passed in: the clock (clock.mjs), how a time is written, and
// the network error, which must be of the SDK's realm (clerk-js's launch realm; the main realm
// for clerk-expo). Node built-ins only: adapters/shared/ has no node_modules of its own.

import http from 'node:http';

export const VIRTUAL_TIME_HEADER = 'x-harness-virtual-time';
export const REQUEST_TAG_HEADER = 'x-harness-request';
export const LATENCY_HEADER = 'x-harness-latency-ms';

/**
 * One real HTTP exchange: resolves `{status, statusText, headers: [[name, value]…], body}`,
 * or rejects on a transport failure (a dropped connection). `agent` is the launch's own:
 * no socket outlives the launch that opened it.
 */
function exchange(agent, url, method, headers, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, headers, agent }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('error', reject);
      response.on('aborted', () => reject(new Error('response aborted')));
      response.on('end', () => {
        const pairs = [];
        for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) {
          pairs.push([response.rawHeaders[i], response.rawHeaders[i + 1]]);
        }
        resolve({
          status: response.statusCode,
          statusText: response.statusMessage ?? '',
          headers: pairs,
          body: Buffer.concat(chunks),
        });
      });
    });
    request.on('error', reject);
    if (body && body.length > 0) request.write(body);
    request.end();
  });
}

/** A fetch `Response` from a real exchange (null body where the status forbids one). */
function toResponse(answer) {
  const nullBody = [101, 204, 205, 304].includes(answer.status);
  const headers = new Headers();
  for (const [name, value] of answer.headers) {
    try {
      headers.append(name, value);
    } catch {
      // A header a Response may not carry: JS would not see it either.
    }
  }
  return new Response(nullBody ? null : answer.body, {
    status: answer.status,
    statusText: answer.statusText,
    headers,
  });
}

export class Network {
  /**
   * @param {object} o
   * @param {import('./clock.mjs').VirtualClock} o.clock
   * @param {number} o.run the harness's process counter (request tags)
   * @param {{fapi_latency_ms:number, backend_latency_ms:number}} o.settings
   * @param {(what: string, fields: object) => void} o.report appends a happening
   * @param {() => (number|undefined)} o.currentCall the call the running code serves
   * @param {(status: number) => void} o.onDelivered a FAPI answer reached JS (status 0: none)
   * @param {(unixMs: number) => number} o.headerTime an instant of the fake clock as the
   *   emulator's `x-harness-virtual-time` counts it (ms since the harness epoch)
   * @param {(unixMs: number) => number} o.reportedTime the same instant as happenings count it
   * @param {() => Error} o.networkError React Native's fetch error for an unreachable network
   *   (`TypeError("Network request failed")`), made in the SDK's realm
   */
  constructor({ clock, run, settings, report, currentCall, onDelivered, headerTime, reportedTime, networkError }) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    this.networkError = networkError;
    this.headerTime = headerTime;
    this.reportedTime = reportedTime;
    this.clock = clock;
    this.run = run;
    this.settings = settings;
    this.report = report;
    this.currentCall = currentCall;
    this.onDelivered = onDelivered;
    this.offline = false;
    this.nextReq = 1;
    /** FAPI requests sent and not yet handed to JS, and backend requests not yet arrived. */
    this.inFlight = 0;
  }

  /** Closes the launch's sockets (the launch has ended). */
  close() {
    this.agent.destroy();
  }

  tag(req) {
    return `${this.run}/${req}`;
  }

  /** The `fetch` the SDK calls. */
  fetch = (input, init) => {
    const req = this.nextReq++;
    const now = this.clock.now();
    const call = this.currentCall();
    let request;
    try {
      request = new Request(input, init);
    } catch (e) {
      return Promise.reject(e);
    }
    const sent = { req, method: request.method, url: request.url };
    if (call !== undefined) sent.call = call;
    this.report('request_sent', sent);
    this.inFlight += 1;
    return new Promise((resolve, reject) => {
      const deliver = (value, failed) => {
        this.inFlight -= 1;
        this.onDelivered(failed ? 0 : value.status);
        if (failed) reject(value);
        else resolve(value);
      };
      if (this.offline) {
        // Never leaves the device: fails at once (a JS job at this instant).
        this.report('request_done', { req, network_error: true });
        this.clock.jsAt(now, () => deliver(this.networkError(), true));
        return;
      }
      const headers = {};
      for (const [name, value] of request.headers) headers[name] = value;
      headers[VIRTUAL_TIME_HEADER] = String(this.headerTime(now));
      headers[REQUEST_TAG_HEADER] = this.tag(req);
      // After the native calls JS made before it (§11), so the server applies them in order.
      const native = this.clock.nativeIo.size > 0 ? Promise.allSettled([...this.clock.nativeIo]) : null;
      const body = native ? native.then(() => request.arrayBuffer()) : request.arrayBuffer();
      const real = body.then((bytes) => exchange(this.agent, request.url, request.method, headers, Buffer.from(bytes)));
      this.clock.trackIo(real);
      real.then(
        (answer) => {
          // Back at the same virtual instant (the clock waits for real I/O).
          const header = Number.parseInt(
            answer.headers.find(([n]) => n.toLowerCase() === LATENCY_HEADER)?.[1] ?? '',
            10,
          );
          const latency = Number.isFinite(header) && header >= 0 ? header : this.settings.fapi_latency_ms;
          this.clock.netAt(now + latency, req, () => {
            this.report('request_done', { req, status: answer.status });
            const arrived = this.clock.now();
            this.clock.jsAt(arrived, () => deliver(toResponse(answer), false));
          });
        },
        (error) => {
          process.stderr.write(`request ${this.tag(req)} ${request.method} ${request.url} failed: ${error?.message ?? error}\n`);
          this.clock.netAt(now + this.settings.fapi_latency_ms, req, () => {
            this.report('request_done', { req, network_error: true });
            const arrived = this.clock.now();
            this.clock.jsAt(arrived, () => deliver(this.networkError(), true));
          });
        },
      );
    });
  };

  /**
   * The app shell's request to its backend: resolves the HTTP status (0 for a network error)
   * when the answer reaches JS. Reported as `backend_hit`, not as `request_sent`/`request_done`
   * (those are the SDK's FAPI requests).
   */
  backend(url, { call, attempt, jwt }) {
    const sentAt = this.clock.now();
    if (this.offline) {
      return new Promise((resolve) => this.clock.jsAt(sentAt, () => resolve(0)));
    }
    const req = this.nextReq++;
    this.inFlight += 1;
    return new Promise((resolve) => {
      const arrival = sentAt + this.settings.backend_latency_ms;
      this.clock.netAt(arrival, req, () => {
        // The server judges the token when the request reaches it.
        const headers = {
          [VIRTUAL_TIME_HEADER]: String(this.headerTime(arrival)),
          [REQUEST_TAG_HEADER]: this.tag(req),
        };
        if (jwt) headers.authorization = `Bearer ${jwt}`;
        const real = exchange(this.agent, url, 'GET', headers, null);
        this.clock.trackIo(real);
        real.then(
          (answer) => {
            this.inFlight -= 1;
            this.report('backend_hit', { call, attempt, sent_at: this.reportedTime(sentAt), jwt: jwt ?? null, status: answer.status });
            this.clock.jsAt(this.clock.now(), () => resolve(answer.status));
          },
          (error) => {
            this.inFlight -= 1;
            process.stderr.write(`backend request ${this.tag(req)} ${url} failed: ${error?.message ?? error}\n`);
            this.clock.jsAt(this.clock.now(), () => resolve(0));
          },
        );
      });
    });
  }
}
