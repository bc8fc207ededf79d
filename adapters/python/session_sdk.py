"""A small session SDK for an app signed in with Clerk, written for the documented contract.

It is the SDK an SDK author would write from the article "How to Handle Session Expiry in a
React Native App with Clerk" and docs/adapter-protocol.md: standard library only, one
thread, no wall clock. Everything that takes time is a job on one agenda ordered by
(virtual instant, sequence number); the adapter (adapter.py) moves the clock.

What it does (the `documented` profile's rules):
- load: GET /v1/environment and GET /v1/client; a network error on a GET is retried after
  100 ms, 700 ms, 1.4 s; a failed load is retried on the getToken schedule, then settles as
  loaded and signed out, keeping the credentials, and keeps reloading in the background
  (3 s, then 2 s x 2^n after a network error or 10 s x 2^n after an answer, capped at 30 s)
  until the client loads;
- tokens: one token request per session at a time, shared by every caller (single flight);
  a cached token is returned while valid, and within 15 s of expiry it is returned and
  refreshed in the background (stale-while-revalidate); a refresh every 45 s while signed in;
- getToken throws `network_error` at once while offline, retries 5xx, 429 (at least
  Retry-After) and network errors at 3 s x 1.55^n up to 50 s, 8 times, never other 4xx;
- the client token is kept only when it is the newest one seen; an answer to a request sent
  before a sign-out, or before the current session became current, is ignored (a load in
  flight across a sign-out loads signed out), and setActive does nothing during a sign-out;
- the app shell: route guard, returnTo, foreground refresh, and an API wrapper with one
  shared refresh after a 401 (fetched once more if the fetch it joined predates the 401) and
  one retry.

Classic bugs, switchable for the gate to catch (`Bugs`):
- `parallel-get-token`: concurrent getToken calls each send their own token request;
- `offline-signs-out`: a network error while offline is treated as signed out.
"""

import base64
import heapq
import http.client
import json
import urllib.parse

EPOCH_UNIX_MS = 1_767_225_600_000
SWR_WINDOW_MS = 15_000
REFRESH_INTERVAL_MS = 45_000
RETRIES_MAX = 8
RECOVERY_FIRST_MS = 3000
GET_TRIES_MAX = 4
TEST_USER = ("user@example.test", "correct-horse-battery-staple")
CLIENT_JWT_KEY = "__clerk_client_jwt"
BUGS = ("parallel-get-token", "offline-signs-out")


def retry_delay_ms(n):
    """3 s x 1.55^n, floored once, capped at 50 s (exact integers, as the contract says)."""
    num, den = 3000, 1
    for _ in range(n):
        num *= 1550
        den *= 1000
        if num // den >= 50_000:
            return 50_000
    return min(num // den, 50_000)


def recovery_delay_ms(n, network):
    """The background reload's wait after failure n: 2 s (network) or 10 s, doubled, <= 30 s."""
    return min((2000 if network else 10_000) << min(n, 4), 30_000)


def get_retry_delay_ms(k):
    return 100 if k == 0 else min(700 << min(k - 1, 16), 5000)


class Token:
    """A session JWT, decoded (the SDK trusts the emulator; the harness verifies)."""

    def __init__(self, jwt):
        self.jwt = jwt
        head, payload = jwt.split(".")[:2]
        header = json.loads(_b64(head))
        claims = json.loads(_b64(payload))
        self.sid = claims["sid"]
        self.exp_ms = claims["exp"] * 1000
        self.serial = int(header.get("oiat", 0))

    def remaining_ms(self, now):
        return self.exp_ms - (EPOCH_UNIX_MS + now)


def _b64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def client_token_parts(text):
    """`ct.<client>.<epoch>.<version>.<mac>` -> (client, epoch, version), or None."""
    parts = (text or "").split(".")
    if len(parts) != 5 or parts[0] != "ct":
        return None
    try:
        return int(parts[1]), int(parts[2]), int(parts[3])
    except ValueError:
        return None


def number(text):
    digits = "".join(c for c in str(text) if c.isdigit())
    return int(digits) if digits else None


class Failure(Exception):
    def __init__(self, status, code, retry_after_ms=None):
        super().__init__(code)
        self.status, self.code, self.retry_after_ms = status, code, retry_after_ms

    def final(self):
        return 400 <= self.status < 500 and self.status != 429


NETWORK = Failure(0, "network_error")


class Sdk:
    """One app process: the SDK, its app shell, and the agenda of its jobs."""

    def __init__(self, start, report, bugs=()):
        self.report = report  # report(what, **fields): one happening
        self.bugs = set(bugs)
        self.now = start["now_ms"]
        self.run = start["run"]
        self.next_call = start["call_base"]
        self.fapi = urllib.parse.urlsplit(start["fapi_url"])
        self.backend_url = start["backend_url"]
        s = start["settings"]
        self.secure_store = s["token_cache"] == "secure_store"
        self.treat_pending_as_signed_out = s["treat_pending_as_signed_out"]
        self.fapi_latency, self.backend_latency = s["fapi_latency_ms"], s["backend_latency_ms"]
        self.storage = dict(start["storage"]) if self.secure_store else {}
        self.app_state, self.network = start["app_state"], start["network"]
        self.agenda, self.seq, self.paused = [], 0, []
        self.next_req, self.in_flight = 1, 0
        self.calls = {}  # call id -> dict(kind, skip_cache, retries, api, attempt)
        self.loaded = False
        self.load_call = None
        self.load_attempt = 0
        self.load_retries = 0
        self.load_parts = [None, None]
        self.slot = "undefined"  # "undefined", None, or a session dict(id, status, task)
        self.transitive_from_session = False
        self.client = None
        self.memory_token = None
        self.cache = None  # Token
        self.cache_gen = 0
        self.recurring_gen = 0
        self.fetch = None  # (req, sid, waiters list)
        self.unauth = None
        self.signout_epoch = 0
        self.user_signing_out = False
        self.preferred = None
        self.path, self.return_to = "/home", None
        self.refreshing, self.queue = None, []
        self.refused, self.refetched = 0, False  # the freshest token a backend refused
        self.view = None
        self.render()
        self.start_load()

    # --- the agenda ------------------------------------------------------------------
    def at(self, when, job, js=True):
        self.seq += 1
        heapq.heappush(self.agenda, (when, self.seq, js, job))

    def js_runs(self):
        return self.app_state != "background"

    def run_until(self, target):
        while self.agenda and self.agenda[0][0] <= target:
            when, _, js, job = heapq.heappop(self.agenda)
            self.now = max(self.now, when)
            if js and not self.js_runs():
                self.paused.append((when, job))
                continue
            job()
            self.render()
        self.now = max(self.now, target)

    def set_app_state(self, state):
        before, self.app_state = self.app_state, state
        if before == state:
            return
        if before == "background":
            held, self.paused = self.paused, []
            for _, job in held:
                job()
                self.render()
        if state == "active" and before != "active" and self.view["is_signed_in"] is True:
            call = self.start_call("foreground_refresh", skip_cache=True)
            self.token_begin(call)

    # --- calls -----------------------------------------------------------------------
    def start_call(self, kind, skip_cache=False):
        call = self.next_call
        self.next_call += 1
        self.calls[call] = dict(kind=kind, skip_cache=skip_cache, retries=0, api="token")
        self.report("call_started", call=call, kind=kind)
        return call

    def settle(self, call, result):
        c = self.calls.pop(call, None)
        if c is None:
            return
        if c["kind"] in ("sign_out", "session_end", "session_remove"):
            self.user_signing_out = False
        self.report("call_settled", call=call, kind=c["kind"], result=result)

    # --- FAPI over HTTP --------------------------------------------------------------
    def send(self, method, path, on_reply, call=None, form=None):
        req = self.next_req
        self.next_req += 1
        url = f"{self.fapi.scheme}://{self.fapi.netloc}{path}"
        sent = dict(req=req, method=method, url=url)
        if call is not None:
            sent["call"] = call
        self.report("request_sent", **sent)
        token_sent = self.held_client_token()
        epoch = self.signout_epoch
        self.in_flight += 1

        def deliver(reply):
            self.in_flight -= 1
            self.delivered(reply, token_sent, epoch, method, on_reply)

        if self.network == "offline":
            self.report("request_done", req=req, network_error=True)
            self.at(self.now, lambda: deliver(None))
            return req
        answer = self.exchange(method, path, req, token_sent, form)
        latency = self.fapi_latency if answer is None else answer[3]

        def arrive():
            if answer is None:
                self.report("request_done", req=req, network_error=True)
            else:
                self.report("request_done", req=req, status=answer[0])
            self.at(self.now, lambda: deliver(answer))

        self.at(self.now + latency, arrive, js=False)
        return req

    def exchange(self, method, path, req, token, form):
        """The real HTTP exchange, at once; the answer reaches JS after the latency."""
        headers = {
            "x-harness-virtual-time": str(self.now),
            "x-harness-request": f"{self.run}/{req}",
        }
        if token:
            headers["authorization"] = token
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["content-type"] = "application/x-www-form-urlencoded"
        sep = "&" if "?" in path else "?"
        conn = http.client.HTTPConnection(self.fapi.hostname, self.fapi.port, timeout=30)
        try:
            conn.request(method, f"{path}{sep}_is_native=1", body=body, headers=headers)
            resp = conn.getresponse()
            text = resp.read()
            latency = resp.getheader("x-harness-latency-ms")
            latency = int(latency) if latency and latency.isdigit() else self.fapi_latency
            data = json.loads(text) if text else {}
            return resp.status, dict(resp.getheaders()), data, latency
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            conn.close()

    def delivered(self, answer, token_sent, epoch, method, on_reply):
        stale = epoch != self.signout_epoch
        if answer is not None:
            status, headers, data, _ = answer
            rotated = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
            if rotated and not stale:
                self.store_client_token(rotated, token_sent == self.held_client_token())
            if status == 401 and on_reply != self.unauth_answer and not self.user_signing_out:
                self.handle_unauthenticated()
            if method != "GET" and 200 <= status < 300 and data.get("client"):
                self.apply_client(data["client"], epoch)
        on_reply(answer, epoch)

    @staticmethod
    def failure(answer):
        if answer is None:
            return NETWORK
        status, headers, data, _ = answer
        code = "unexpected_response"
        errors = data.get("errors") if isinstance(data, dict) else None
        if errors:
            code = errors[0].get("code", code)
        after = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        after_ms = int(after) * 1000 if after and after.isdigit() else None
        return Failure(status, code, after_ms)

    @staticmethod
    def ok(answer):
        return answer is not None and 200 <= answer[0] < 300

    # --- storage ---------------------------------------------------------------------
    def held_client_token(self):
        if self.secure_store:
            return self.storage.get(CLIENT_JWT_KEY)
        return self.memory_token

    def store_client_token(self, token, authoritative):
        held = client_token_parts(self.held_client_token())
        new = client_token_parts(token)
        if held and new:
            older = held[0] == new[0] and (held[1], held[2]) >= (new[1], new[2])
            if older or (held[0] != new[0] and not authoritative):
                return
        self.memory_token = token
        if self.secure_store and self.storage.get(CLIENT_JWT_KEY) != token:
            self.storage[CLIENT_JWT_KEY] = token
            self.report("storage_written", key=CLIENT_JWT_KEY, value=token)

    def delete_client_token(self):
        self.memory_token = None
        if self.storage.pop(CLIENT_JWT_KEY, None) is not None:
            self.report("storage_deleted", key=CLIENT_JWT_KEY)

    # --- load ------------------------------------------------------------------------
    def start_load(self):
        self.load_call = self.start_call("load")
        if self.secure_store:
            self.report("storage_read", key=CLIENT_JWT_KEY)
        self.send_load()

    def send_load(self):
        self.load_attempt += 1
        self.load_parts = [None, None]
        attempt = self.load_attempt
        for client, path in ((False, "/v1/environment"), (True, "/v1/client")):
            self.send_load_get(client, path, attempt, 1)

    def send_load_get(self, client, path, attempt, tries):
        self.send(
            "GET",
            path,
            lambda a, e, c=client, t=tries: self.load_answer(c, path, attempt, t, a, e),
            call=self.load_call,
        )

    def load_answer(self, client, path, attempt, tries, answer, epoch):
        if attempt != self.load_attempt or self.loaded:
            return
        if self.ok(answer):
            body = answer[2]
            if client:
                # The client half keeps the sign-out epoch its own GET was sent under: the
                # load's client is judged by it, not by whichever half answered last.
                self.load_parts[1] = (body.get("response") or {"sessions": []}, epoch)
            else:
                self.load_parts[0] = body
            if self.load_parts[0] is not None and self.load_parts[1] is not None:
                view, client_epoch = self.load_parts[1]
                if client_epoch != self.signout_epoch:
                    # The user signed out while the load was in flight: its client is from
                    # before the sign-out, so the app loads signed out.
                    self.slot = None
                else:
                    self.apply_client(view, self.signout_epoch)
                self.finish_load({"result": "ok"})
        elif answer is None and tries < GET_TRIES_MAX:

            def again():
                if attempt == self.load_attempt and not self.loaded:
                    self.send_load_get(client, path, attempt, tries + 1)

            self.at(self.now + get_retry_delay_ms(tries - 1), again)
        else:
            failure = self.failure(answer)
            self.load_attempt += 1
            if self.load_retries < RETRIES_MAX and not failure.final():
                delay = retry_delay_ms(self.load_retries)
                self.load_retries += 1
                again_attempt = self.load_attempt

                def retry():
                    if again_attempt == self.load_attempt:
                        self.send_load()

                self.at(self.now + delay, retry)
            else:
                self.slot = None
                self.finish_load(
                    {"result": "error", "status": failure.status, "code": failure.code}
                )
                # Signed out for now, not for good: reload in the background until it works.
                self.schedule_recovery(0, RECOVERY_FIRST_MS)

    def schedule_recovery(self, n, delay):
        def reload():
            self.load_attempt += 1
            self.load_parts = [None, None]
            attempt = self.load_attempt
            for client, path in ((False, "/v1/environment"), (True, "/v1/client")):
                self.send(
                    "GET",
                    path,
                    lambda a, e, c=client: self.recovery_answer(c, attempt, n, a, e),
                )

        self.at(self.now + delay, reload)

    def recovery_answer(self, client, attempt, n, answer, epoch):
        if attempt != self.load_attempt:
            return
        if self.ok(answer):
            body = answer[2]
            if client:
                self.load_parts[1] = (body.get("response") or {"sessions": []}, epoch)
            else:
                self.load_parts[0] = body
            if self.load_parts[0] is not None and self.load_parts[1] is not None:
                view, client_epoch = self.load_parts[1]
                self.apply_client(view, client_epoch)
        else:
            self.load_attempt += 1
            self.schedule_recovery(n + 1, recovery_delay_ms(n, answer is None))

    def finish_load(self, result):
        self.loaded = True
        if self.slot == "undefined":
            self.slot = None
        if self.load_call is not None:
            call, self.load_call = self.load_call, None
            self.settle(call, result)
        self.render()
        waiting, self.load_waiters = getattr(self, "load_waiters", []), []
        for call in waiting:
            c = self.calls.get(call)
            if c and c["kind"] == "sign_in":
                self.send_sign_in(call)
            elif c:
                self.token_begin(call)

    def wait_for_load(self, call):
        self.load_waiters = getattr(self, "load_waiters", [])
        self.load_waiters.append(call)

    # --- the client and the session --------------------------------------------------
    def apply_client(self, view, epoch):
        if epoch != self.signout_epoch:
            return
        held = client_token_parts(self.held_client_token())
        if held and number(view.get("id")) not in (None, held[0]):
            return
        self.client = view
        sessions = view.get("sessions") or []

        def signed_in(sid):
            return next(
                (s for s in sessions if s["id"] == sid and s["status"] in ("active", "pending")),
                None,
            )

        current = self.slot["id"] if isinstance(self.slot, dict) else None
        chosen = (self.preferred and signed_in(self.preferred)) or (current and signed_in(current))
        if not chosen:
            last = view.get("last_active_session_id")
            chosen = (last and signed_in(last)) or next(
                (s for s in sessions if s["status"] in ("active", "pending")), None
            )
        nxt = None
        if chosen:
            tasks = chosen.get("tasks") or []
            nxt = dict(id=chosen["id"], status=chosen["status"], task=tasks[0]["key"] if tasks else None)
        cause = "user" if self.user_signing_out else "client_payload"
        if not self.loaded and nxt is None:
            self.slot = None
        else:
            self.set_slot(nxt, cause)
        token = chosen and chosen.get("last_active_token")
        if token and token.get("jwt"):
            self.set_cached(Token(token["jwt"]))

    def set_slot(self, nxt, cause):
        before = self.slot
        was_in = isinstance(before, dict) or (before == "undefined" and self.transitive_from_session)
        if nxt != "undefined":
            self.transitive_from_session = False
        now_in = isinstance(nxt, dict)
        if isinstance(before, dict) and now_in:
            changed = before["id"] != nxt["id"]
        else:
            changed = was_in != now_in
        self.slot = nxt
        if changed:
            self.clear_token_cache()
            self.recurring_gen += 1
        if was_in and nxt is None:
            self.report("signed_out", cause=cause, server_revoke=False)
            if cause == "user":
                self.return_to, self.path = None, "/home"
            else:
                self.return_to = self.path
            self.user_signing_out = False
        if now_in and changed:
            self.arm_recurring()
            # A payload from a request sent before this session became current cannot speak
            # for it: it is stale, like one from before a sign-out.
            self.signout_epoch += 1
        self.preferred = None
        if self.loaded:
            self.render()

    def handle_unauthenticated(self):
        if not isinstance(self.slot, dict) or self.unauth is not None:
            return
        self.unauth = self.send("GET", "/v1/client", self.unauth_answer)

    def unauth_answer(self, answer, epoch):
        self.unauth = None
        if self.ok(answer) and answer[2].get("response"):
            self.apply_client(answer[2]["response"], epoch)

    # --- tokens ----------------------------------------------------------------------
    def session_id(self):
        return self.slot["id"] if isinstance(self.slot, dict) else None

    def token_begin(self, call):
        c = self.calls.get(call)
        if c is None:
            return
        if c["kind"] != "api_call" and not self.loaded:
            return self.wait_for_load(call)
        sid = self.session_id()
        if sid is None:
            return self.token_done(call, None)
        if self.network == "offline":
            if "offline-signs-out" in self.bugs:
                # The classic bug: no network reads as no session.
                self.set_slot(None, "client_payload")
                return self.token_done(call, None)
            return self.token_done(call, NETWORK)
        fresh = self.cache if self.cache and self.cache.sid == sid else None
        parallel = "parallel-get-token" in self.bugs
        if not c["skip_cache"] and fresh:
            remaining = fresh.remaining_ms(self.now)
            if remaining > 0:
                if remaining <= SWR_WINDOW_MS:
                    self.background_refresh(sid)
                return self.token_done(call, fresh)
        if self.fetch and self.fetch[1] == sid and not parallel:
            self.fetch[2].append(call)
            return
        waiters = [call]
        req = self.send(
            "POST",
            f"/v1/client/sessions/{sid}/tokens",
            lambda a, e: self.fetch_answer(req, waiters, a),
            call=call,
            form={},
        )
        self.fetch = (req, sid, waiters)

    def background_refresh(self, sid):
        if self.fetch and self.fetch[1] == sid:
            return
        waiters = []
        req = self.send(
            "POST",
            f"/v1/client/sessions/{sid}/tokens",
            lambda a, e: self.fetch_answer(req, waiters, a),
            form={},
        )
        self.fetch = (req, sid, waiters)

    def fetch_answer(self, req, waiters, answer):
        if self.fetch and self.fetch[0] == req:
            self.fetch = None
        token, failure = None, None
        if self.ok(answer) and answer[2].get("jwt"):
            token = Token(answer[2]["jwt"])
            if token.sid == self.session_id():
                self.set_cached(token)
        else:
            failure = self.failure(answer)
        for call in waiters:
            if failure is not None:
                self.token_failed(call, failure)
            elif token.remaining_ms(self.now) <= 0:
                self.token_begin(call)  # delivered expired (held in the background): fetch again
            else:
                self.token_done(call, token)

    def set_cached(self, token):
        if self.cache and self.cache.serial >= token.serial:
            return
        self.cache_gen += 1
        self.cache = token if token.remaining_ms(self.now) > 0 else None

    def clear_token_cache(self):
        self.cache = None
        self.cache_gen += 1

    def arm_recurring(self):
        self.recurring_gen += 1
        gen = self.recurring_gen

        def tick():
            if gen == self.recurring_gen:
                if isinstance(self.slot, dict):
                    self.background_refresh(self.slot["id"])
                self.arm_recurring()

        self.at(self.now + REFRESH_INTERVAL_MS, tick)

    def token_failed(self, call, failure):
        c = self.calls.get(call)
        if c is None:
            return
        if failure.final() or c["retries"] >= RETRIES_MAX:
            return self.token_done(call, failure)
        delay = retry_delay_ms(c["retries"])
        if failure.retry_after_ms is not None:
            delay = max(delay, failure.retry_after_ms)
        c["retries"] += 1
        fields = dict(call=call, delay_ms=delay)
        if failure.retry_after_ms is not None:
            fields["retry_after_ms"] = failure.retry_after_ms
        self.report("retry_scheduled", **fields)
        self.at(self.now + delay, lambda: call in self.calls and self.token_begin(call))

    def token_done(self, call, outcome):
        c = self.calls.get(call)
        if c is None:
            return
        if c["kind"] == "api_call":
            return self.api_token(call, outcome)
        self.settle(call, result_of(outcome))

    # --- user actions ----------------------------------------------------------------
    def sign_in(self):
        call = self.start_call("sign_in")
        if not self.loaded:
            return self.wait_for_load(call)
        self.send_sign_in(call)

    def send_sign_in(self, call):
        form = dict(strategy="password", identifier=TEST_USER[0], password=TEST_USER[1])
        self.send(
            "POST", "/v1/client/sign_ins", lambda a, e: self.sign_in_answer(call, a), call, form
        )

    def sign_in_answer(self, call, answer):
        if not self.ok(answer):
            return self.call_failed(call, answer)
        sid = (answer[2].get("response") or {}).get("created_session_id")
        self.preferred = sid
        self.calls[call]["target"] = sid
        self.send(
            "POST",
            f"/v1/client/sessions/{sid}/touch",
            lambda a, e: self.plain_answer(call, a),
            call,
            {},
        )

    def plain_answer(self, call, answer):
        if call not in self.calls:
            return
        if not self.ok(answer):
            return self.call_failed(call, answer)
        self.settle(call, {"result": "ok"})

    def call_failed(self, call, answer):
        c = self.calls.get(call)
        if c is None:
            return
        failure = self.failure(answer)
        if c["kind"] == "sign_out":
            self.delete_client_token()
            self.client = None
            self.set_slot(None, "user")
        elif c["kind"] in ("session_end", "session_remove"):
            self.user_signing_out = False
        elif c["kind"] == "set_active":
            self.preferred = None
        self.settle(call, {"result": "error", "status": failure.status, "code": failure.code})

    def sign_out(self):
        call = self.start_call("sign_out")
        self.user_signing_out = True
        self.signout_epoch += 1
        if isinstance(self.slot, dict):
            self.slot = "undefined"
            self.transitive_from_session = True
        self.clear_token_cache()

        def answered(answer, epoch):
            if not self.ok(answer):
                return self.call_failed(call, answer)
            self.set_slot(None, "user")
            self.settle(call, {"result": "ok"})

        self.send("POST", "/v1/client/sessions?_method=DELETE", answered, call, {})

    def end_session(self, kind):
        call = self.start_call(kind)
        if not isinstance(self.slot, dict):
            return self.settle(call, {"result": "ok"})
        self.clear_token_cache()
        self.user_signing_out = True
        self.signout_epoch += 1
        action = "end" if kind == "session_end" else "remove"
        sid = self.slot["id"]
        self.send(
            "POST",
            f"/v1/client/sessions/{sid}/{action}",
            lambda a, e: self.plain_answer(call, a),
            call,
            {},
        )

    def set_active(self):
        call = self.start_call("set_active")
        if self.user_signing_out:
            # Nothing may bring the session back while the user signs out.
            return self.settle(call, {"result": "ok"})
        current = self.session_id()
        sessions = (self.client or {}).get("sessions") or []
        other = next(
            (
                s["id"]
                for s in sessions
                if s["status"] in ("active", "pending") and s["id"] != current
            ),
            None,
        )
        sid = other or current
        if sid is None:
            return self.settle(call, {"result": "ok"})
        self.preferred = sid
        self.send(
            "POST",
            f"/v1/client/sessions/{sid}/touch",
            lambda a, e: self.plain_answer(call, a),
            call,
            {},
        )

    def complete_task(self):
        call = self.start_call("complete_task")
        s = self.slot
        if not (isinstance(s, dict) and s.get("task")):
            return self.settle(call, {"result": "ok"})
        self.send(
            "POST",
            f"/v1/client/sessions/{s['id']}/tasks/{s['task']}/resolve",
            lambda a, e: self.plain_answer(call, a),
            call,
            {},
        )

    def get_token(self, skip_cache):
        call = self.start_call("get_token", skip_cache=skip_cache)
        self.token_begin(call)

    def navigate(self, path):
        signed_in = self.view["is_signed_in"]
        if signed_in is True:
            self.path = path
        elif signed_in is False:
            self.return_to = path
        else:
            self.path = self.return_to = path

    # --- the API wrapper -------------------------------------------------------------
    def api_call(self, path):
        call = self.start_call("api_call")
        self.calls[call]["path"] = path
        self.token_begin(call)

    def api_token(self, call, outcome):
        c = self.calls[call]
        if c["api"] == "token":
            if isinstance(outcome, Failure):
                return self.settle(call, result_of(outcome))
            return self.send_backend(call, 1, outcome)
        if c["api"] == "refreshing":
            if (
                not self.refetched
                and isinstance(outcome, Token)
                and outcome.serial <= self.refused
            ):
                # The refresh joined a fetch sent before the 401 and brought back a token no
                # fresher than one the backend refused: fetch once more.
                self.refetched = True
                return self.token_begin(call)
            self.refreshing = None
            queue, self.queue = self.queue, []
            for waiting in queue + [call]:
                if isinstance(outcome, Token):
                    self.send_backend(waiting, 2, outcome)
                elif outcome is None:
                    self.settle(waiting, {"result": "error", "status": 401, "code": "session expired"})
                else:
                    self.settle(waiting, result_of(outcome))

    def send_backend(self, call, attempt, token):
        c = self.calls.get(call)
        if c is None:
            return
        c["api"], c["attempt"] = "backend", attempt
        c["sent"] = token.serial if token else None
        sent_at = self.now
        if self.network == "offline":
            return self.at(sent_at, lambda: self.backend_reply(call, 0))
        req = self.next_req
        self.next_req += 1
        self.in_flight += 1

        def arrive():
            self.in_flight -= 1
            status = self.backend_exchange(c["path"], req, token)
            self.report(
                "backend_hit",
                call=call,
                attempt=attempt,
                sent_at=sent_at,
                jwt=token.jwt if token else None,
                status=status,
            )
            self.at(self.now, lambda: self.backend_reply(call, status))

        self.at(sent_at + self.backend_latency, arrive, js=False)

    def backend_exchange(self, path, req, token):
        url = urllib.parse.urlsplit(self.backend_url + path)
        headers = {"x-harness-virtual-time": str(self.now), "x-harness-request": f"{self.run}/{req}"}
        if token:
            headers["authorization"] = f"Bearer {token.jwt}"
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        try:
            conn.request("GET", url.path + (f"?{url.query}" if url.query else ""), headers=headers)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        except (OSError, http.client.HTTPException):
            return 0
        finally:
            conn.close()

    def backend_reply(self, call, status):
        c = self.calls.get(call)
        if c is None or c["api"] != "backend":
            return
        if 200 <= status < 300:
            self.settle(call, {"result": "ok"})
        elif status == 401 and c["attempt"] == 1:
            if self.refreshing is None:
                self.refused, self.refetched = 0, False
            self.refused = max(self.refused, c.get("sent") or 0)
            if self.refreshing is not None:
                c["api"] = "queued"
                self.queue.append(call)
            else:
                c.update(api="refreshing", skip_cache=True, retries=0)
                self.refreshing = call
                self.token_begin(call)
        elif status == 0:
            self.settle(call, {"result": "error", "status": 0, "code": "network_error"})
        else:
            self.settle(call, {"result": "error", "status": status, "code": "api_error"})

    # --- the route guard -------------------------------------------------------------
    def auth_view(self):
        loaded = self.loaded and self.slot != "undefined"
        session = self.slot if isinstance(self.slot, dict) else None
        if not loaded:
            signed_in = None
        else:
            signed_in = bool(session) and (
                session["status"] == "active"
                or (session["status"] == "pending" and not self.treat_pending_as_signed_out)
            )
        if not loaded:
            route = {"screen": "loading"}
        elif session and session["status"] == "pending":
            route = {"screen": "task", "key": session.get("task") or "choose-organization"}
        elif session:
            route = {"screen": "protected", "path": self.path}
        else:
            route = {"screen": "sign_in"}
            if self.return_to is not None:
                route["return_to"] = self.return_to
        shown = None
        if session:
            shown = {"id": session["id"], "status": session["status"]}
            if session.get("task"):
                shown["task"] = session["task"]
        return {"route": route, "is_loaded": loaded, "is_signed_in": signed_in, "session": shown}

    def render(self):
        view = self.auth_view()
        if view != self.view:
            if view["is_signed_in"] is True and (self.view or {}).get("is_signed_in") is not True:
                if self.return_to is not None:
                    self.path, self.return_to = self.return_to, None
                view = self.auth_view()
            self.view = view
            self.report("rendered", view=view)


def result_of(outcome):
    if outcome is None:
        return {"result": "null"}
    if isinstance(outcome, Token):
        return {"result": "token", "jwt": outcome.jwt}
    return {"result": "error", "status": outcome.status, "code": outcome.code}
