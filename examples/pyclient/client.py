#!/usr/bin/env python3
"""A client of evstore serve's HTTP API in Python, with the standard library
only (urllib, json): no package to install.

    python3 client.py [URL]        # default $EVSTORE_URL, else http://127.0.0.1:2113
    EVSTORE_TOKEN=... python3 client.py https://events.example.com

It appends an event with an idempotency key, retries the append (which
appends nothing: the key is there), hits a version conflict (409), reads
the stream back (the payload arrives as JSON), and tails @all over
Server-Sent Events while a thread appends, for a few events. The API is in
docs/server.md.
"""

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


class APIError(Exception):
    """An error response: its status and its JSON body."""

    def __init__(self, status, body):
        super().__init__("%d %s: %s" % (status, body.get("code"), body.get("error")))
        self.status = status
        self.body = body


class Conflict(APIError):
    """409: an expected version did not hold (or a condition failed)."""


class Client:
    def __init__(self, url, token=None, timeout=30):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _open(self, method, path, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            try:
                err = json.loads(e.read())
            except ValueError:
                err = {"error": str(e)}
            raise (Conflict if e.code == 409 else APIError)(e.code, err) from None

    def _call(self, method, path, body=None):
        with self._open(method, path, body) as resp:
            return json.loads(resp.read())

    @staticmethod
    def _path(stream):
        return "/api/streams/" + urllib.parse.quote(stream, safe="")

    def append(self, stream, events, expected_version=None, expect_exists=False):
        """Appends events atomically; returns {"version", "appended", ...}.
        appended is 0 for a retry whose events (by "id") were all there."""
        body = {"events": events}
        if expected_version is not None:
            body["expected_version"] = expected_version
        if expect_exists:
            body["expect_exists"] = True
        return self._call("POST", self._path(stream) + "/events", body)

    def read(self, stream, after=0, limit=100, backwards=False, filters=()):
        """A page of events: {"events": [...], "more": bool, ...}."""
        q = [("after", after), ("limit", limit), ("backwards", str(backwards).lower())]
        q += [("filter", f) for f in filters]
        return self._call("GET", self._path(stream) + "/events?" + urllib.parse.urlencode(q))

    def tail(self, stream, after=None, last_event_id=None):
        """Yields (position, event) as they are written, after the position
        after (or last_event_id, for a reconnection), for ever."""
        path = self._path(stream) + "/watch"
        if after is not None:
            path += "?after=%d" % after
        headers = {}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        with self._open("GET", path, headers=headers) as resp:
            event_id, data = None, []
            for raw in resp:  # one line at a time, as the server flushes them
                line = raw.decode().rstrip("\n")
                if line.startswith(":"):
                    continue  # a comment: the opening, or a heartbeat
                if line == "":
                    if data:
                        yield int(event_id), json.loads("\n".join(data))
                    event_id, data = None, []
                    continue
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "id":
                    event_id = value
                elif field == "data":
                    data.append(value)
                elif field == "event" and value == "error":
                    raise APIError(503, {"error": "the stream ended", "code": "closed"})


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("EVSTORE_URL", "http://127.0.0.1:2113")
    api = Client(url, token=os.environ.get("EVSTORE_TOKEN"))
    stream = "order-" + uuid.uuid4().hex[:8]

    # An append with an idempotency key, and the stream new (version 0).
    placed = {"id": "place-" + stream, "type": "OrderPlaced", "data": {"total": 10}, "metadata": {"region": "EMEA"}}
    r = api.append(stream, [placed], expected_version=0)
    assert r["appended"] == 1 and r["version"] == 1, r
    print("appended %d event to %s: version %d, sequence %d" % (r["appended"], stream, r["version"], r["first"]))
    first = r["first"]

    # The retry (a timeout made us unsure): nothing is appended twice.
    r = api.append(stream, [placed], expected_version=0)
    assert r["appended"] == 0 and r["version"] == 1, r
    print("retry: appended %d, version %d" % (r["appended"], r["version"]))

    # A writer that thinks the stream is new: a conflict.
    try:
        api.append(stream, [{"type": "OrderPlaced", "data": {"total": 99}}], expected_version=0)
        sys.exit("no conflict")
    except Conflict as e:
        assert e.body["expected"] == 0 and e.body["actual"] == 1, e.body
        print("conflict: expected %d, actual %d" % (e.body["expected"], e.body["actual"]))

    # The payload comes back as JSON, whoever wrote it.
    page = api.read(stream)
    event = page["events"][0]
    assert event["data"] == {"total": 10}, event
    print("read: %s %s" % (event["type"], json.dumps(event["data"], sort_keys=True)))

    # Tail @all from our first event while another thread appends two more.
    def more():
        time.sleep(0.2)
        api.append(stream, [{"type": "ItemAdded", "data": {"sku": "A7"}}], expect_exists=True)
        api.append(stream, [{"type": "ItemAdded", "data": {"sku": "B2"}}], expected_version=2)

    writer = threading.Thread(target=more)
    writer.start()
    seen = []
    for position, e in api.tail("@all", after=first - 1):
        if e["stream_id"] != stream:
            continue
        seen.append(position)
        print("tail @all: %d %s %s v%d" % (position, e["type"], e["stream_id"], e["version"]))
        if len(seen) == 2:
            break  # hang up after two, and come back with Last-Event-ID
    for position, e in api.tail("@all", last_event_id=seen[-1]):
        if e["stream_id"] != stream:
            continue
        seen.append(position)
        print("tail @all, resumed: %d %s %s v%d" % (position, e["type"], e["stream_id"], e["version"]))
        break
    writer.join()
    assert seen == sorted(set(seen)) and len(seen) == 3, seen
    print("done")


if __name__ == "__main__":
    main()
