#!/usr/bin/env python3
"""The adapter: session_sdk.Sdk driven over the adapter protocol (docs/adapter-protocol.md).

One process is one app process. The harness writes one JSON request per line on stdin and
reads one reply per line on stdout; stderr is free-form logging. Standard library only.

    python3 adapters/python/adapter.py [--bug parallel-get-token] [--bug offline-signs-out]
                                       [--crash-after N]

`--bug` switches on a classic bug the gate must catch; `--crash-after N` exits with status 3
on the N-th request without answering (the harness's tests use it: a crash is never offered
for acceptance).

Copy this folder to start an adapter for your own SDK: keep the loop (hello, start, step,
shutdown, the observation), replace session_sdk.py with calls into your SDK, and keep every
line flushed (`print(..., flush=True)`): a hello that stays in a buffer looks like a hang.
"""

import argparse
import json
import sys

from session_sdk import BUGS, Sdk

SDK_NAME = "py-session-sdk"
SDK_VERSION = "0.1.0"

# Events the app handles; process and server events are the harness's own.
APP_EVENTS = {
    "advance", "app_state", "network", "sign_in", "complete_task", "get_token", "api_call",
    "navigate", "session_end", "session_remove", "sign_out", "set_active",
}
# The device's own events (docs/adapter-protocol.md §3): this SDK's storage cannot fail.
DEVICE_EVENTS = {
    "storage_fault", "lock_device", "unlock_device", "reboot", "background_wake",
    "restore_backup", "device_sleep", "clock_skew", "app_state_fault",
}


def write(message):
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Adapter:
    def __init__(self, bugs):
        self.bugs = bugs
        self.sdk = None
        self.happenings = []

    def report(self, what, **fields):
        self.happenings.append(dict(what=what, at=self.sdk_now(), **fields))

    def sdk_now(self):
        return self.sdk.now if self.sdk is not None else self.start_now

    def observe(self):
        sdk = self.sdk
        obs = dict(
            now_ms=sdk.now,
            view=sdk.view,
            open_calls=len(sdk.calls),
            in_flight=sdk.in_flight + sum(1 for _ in sdk.paused),
            happenings=self.happenings,
        )
        self.happenings = []
        return obs

    def handle(self, request):
        cmd = request.get("cmd")
        if cmd == "start":
            if request["settings"].get("resource_cache"):
                return error(request, "unsupported", "this SDK has no resource cache")
            self.start_now = request["now_ms"]
            self.sdk = Sdk(request, self.report, self.bugs)
            self.sdk.run_until(self.sdk.now)
            return dict(id=request["id"], ok=True, obs=self.observe(), next_call=self.sdk.next_call)
        if cmd == "step":
            if self.sdk is None:
                return error(request, "bad_request", "`step` before `start`")
            event = request.get("event") or {}
            name = event.get("event")
            if name == "network" and event.get("state") == "hanging":
                return error(request, "unsupported", "`network: hanging` needs requests that hang until a timeout, which this SDK's network does not simulate")
            if name in DEVICE_EVENTS:
                return error(request, "unsupported", f"event `{name}` needs a device this SDK does not model")
            if name == "get_token" and event.get("template") is not None:
                return error(request, "unsupported", "this SDK has no JWT templates (`get_token` with `template`)")
            if name not in APP_EVENTS:
                return error(request, "bad_request", f"event `{name}` is not the adapter's")
            self.sdk.next_call = request["call_base"]
            self.apply(event)
            return dict(id=request["id"], ok=True, obs=self.observe(), next_call=self.sdk.next_call)
        if cmd == "shutdown":
            return dict(id=request["id"], ok=True)
        return error(request, "bad_request", f"unknown cmd `{cmd}`")

    def apply(self, event):
        sdk, name = self.sdk, event["event"]
        if name == "advance":
            sdk.run_until(sdk.now + event["ms"])
            return
        if name == "app_state":
            sdk.set_app_state(event["state"])
        elif name == "network":
            sdk.network = event["state"]
        elif not sdk.js_runs():
            return  # a user cannot tap a backgrounded app
        elif name == "sign_in":
            sdk.sign_in()
        elif name == "get_token":
            sdk.get_token(bool(event.get("skip_cache")))
        elif name == "api_call":
            sdk.api_call(event["path"])
        elif name == "navigate":
            sdk.navigate(event["path"])
        elif name == "sign_out":
            sdk.sign_out()
        elif name in ("session_end", "session_remove"):
            sdk.end_session(name)
        elif name == "set_active":
            sdk.set_active()
        elif name == "complete_task":
            sdk.complete_task()
        sdk.run_until(sdk.now)
        sdk.render()


def error(request, kind, message):
    return dict(id=request.get("id", 0), ok=False, error=dict(kind=kind, message=message))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bug", action="append", default=[], choices=BUGS)
    parser.add_argument("--crash-after", type=int, default=0, metavar="N")
    args = parser.parse_args()
    requests = 0
    write(dict(hello="session-harness-adapter", protocol=1, sdk=SDK_NAME, version=SDK_VERSION,
               entry="adapters/python/session_sdk.py"))
    adapter = Adapter(args.bug)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as e:
            write(error({}, "bad_request", f"not JSON: {e}"))
            continue
        requests += 1
        if requests == args.crash_after:
            sys.stderr.write(f"crashing at request {requests} (--crash-after)\n")
            sys.exit(3)
        try:
            reply = adapter.handle(request)
        except Exception as e:  # the adapter's own failure: say so, with the stack on stderr
            import traceback

            traceback.print_exc()
            reply = error(request, "internal", f"{type(e).__name__}: {e}")
        write(reply)
        if request.get("cmd") == "shutdown":
            return


if __name__ == "__main__":
    main()
