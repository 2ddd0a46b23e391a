"""Python client for kgd, the knowledge-graph query daemon.

kgd serves a knowledge graph over ZeroMQ with msgpack messages; the wire
protocol is docs/protocol.md. This package needs only Debian's
python3-zmq and python3-msgpack.

    import kgd

    with kgd.Client("tcp://127.0.0.1:7411") as c:
        print(c.ping())                                  # {'pong': True, 'version': '0.1.0'}
        for r in c.relations(relation="tariffs-on")["relations"]:
            print(r["subject"], "->", r["object"], r["qualifiers"].get("origin"))
        c.add(relations=[{"subject": "United States", "relation": "tariffs-on",
                          "object": "steel", "qualifiers": {"origin": "Canada"}}])

    for change in kgd.Feed("tcp://127.0.0.1:7412", topics=["tariffs-on"]):
        print(change.seq, change.op, change.relation)

Every method returns the reply's ``result`` (plain dicts, lists and
strings) or raises a :class:`KgdError` subclass chosen by the reply's
stable error code (:class:`NotFound`, :class:`InvalidRequest`, ...).
"""

import itertools
import time

import msgpack
import zmq

__all__ = [
    "DEFAULT_ENDPOINT", "DEFAULT_FEED", "Client", "Feed", "Change",
    "KgdError", "ParseError", "InvalidRequest", "Unsupported", "NotFound",
    "LimitExceeded", "Timeout", "NoReply", "IOError_", "Busy", "OutOfMemory",
    "InternalError", "ProtocolError", "error_class",
]

DEFAULT_ENDPOINT = "tcp://127.0.0.1:7411"
DEFAULT_FEED = "tcp://127.0.0.1:7412"


# ---- errors -------------------------------------------------------------------

class KgdError(Exception):
    """An error reply from kgd (or a client-side failure).

    Attributes: ``code`` (the protocol's stable code, e.g. ``"not_found"``),
    ``message`` (human readable, may change between versions) and
    ``reply`` (the whole reply map, or None for client-side errors).
    """

    code = None

    def __init__(self, message, code=None, reply=None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.reply = reply

    def __str__(self):
        return "%s: %s" % (self.code, self.message) if self.code else self.message


class ParseError(KgdError):
    """``parse``: the request was not one valid msgpack map; a graph file
    is broken (reload)."""
    code = "parse"


class InvalidRequest(KgdError):
    """``invalid``: a missing, unknown or wrongly typed argument, a bad date."""
    code = "invalid"


class Unsupported(KgdError):
    """``unsupported``: unknown op or format, snapshot without a data dir."""
    code = "unsupported"


class NotFound(KgdError):
    """``not_found``: a named entity (or relation to remove) does not exist."""
    code = "not_found"


class LimitExceeded(KgdError):
    """``limit``: the request exceeds a configured limit."""
    code = "limit"


class Timeout(KgdError):
    """``timeout``: the query ran past the server's query_timeout_ms."""
    code = "timeout"


class NoReply(Timeout):
    """No reply within the client's timeout (client side; the server may be
    down, busy, or the request may still run). Also a :class:`Timeout`."""
    code = "timeout"


class IOError_(KgdError):
    """``io``: the journal could not be written; nothing was applied."""
    code = "io"


class Busy(KgdError):
    """``busy``: a reload is already running."""
    code = "busy"


class OutOfMemory(KgdError):
    """``nomem``: the server ran out of memory."""
    code = "nomem"


class InternalError(KgdError):
    """``internal`` (or a code this client does not know): a server bug."""
    code = "internal"


class ProtocolError(KgdError):
    """The reply is not a protocol reply (client side)."""
    code = "protocol"


_ERRORS = {cls.code: cls for cls in (ParseError, InvalidRequest, Unsupported, NotFound,
                                     LimitExceeded, Timeout, IOError_, Busy, OutOfMemory,
                                     InternalError)}


def error_class(code):
    """The KgdError subclass for a protocol error code (InternalError for
    codes this client does not know)."""
    return _ERRORS.get(code, InternalError)


def _raise_for(reply):
    err = reply.get("error")
    if not isinstance(err, dict):
        raise ProtocolError("reply has ok: false but no error map", reply=reply)
    code = err.get("code")
    message = err.get("message") or str(code)
    raise error_class(code)(message, code=code, reply=reply)


# ---- the request/reply client --------------------------------------------------

def _args(**kw):
    """Request arguments without the ones left at None (the server's
    default then applies; unknown arguments are errors there)."""
    return {k: v for k, v in kw.items() if v is not None}


class Client:
    """A connection to kgd's request socket.

    ``endpoint`` is a ZeroMQ endpoint (``tcp://HOST:PORT``, ``ipc://PATH``;
    a bare ``HOST:PORT`` means tcp). ``timeout`` is how long to wait for
    each reply, in seconds (None: forever). The client uses a DEALER socket
    and gives every request an integer ``id``, so it may keep many requests
    in flight (:meth:`send`, :meth:`recv`, :meth:`pipeline`) and is never
    confused by a late reply after a timeout. A Client is not thread-safe;
    use one per thread (they may share a zmq.Context).

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, endpoint=DEFAULT_ENDPOINT, timeout=5.0, context=None):
        if "://" not in endpoint:
            endpoint = "tcp://" + endpoint
        self.endpoint = endpoint
        self.timeout = timeout
        self._ctx = context or zmq.Context.instance()
        self._ids = itertools.count(1)
        self._pending = {}  # id -> reply received while waiting for another
        self._inflight = {}  # ids in flight, oldest first
        self._sock = None
        self._open()

    def _open(self):
        if self._sock is not None:
            self._sock.close(linger=0)
        s = self._ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(self.endpoint)
        self._sock = s
        self._pending.clear()
        self._inflight.clear()

    def close(self):
        """Close the socket; requests in flight are abandoned."""
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # -- low level --------------------------------------------------------------

    def send(self, op, **args):
        """Send one request without waiting; returns its id. Collect the
        answer with :meth:`recv` or :meth:`result`."""
        if self._sock is None:
            raise KgdError("client is closed", code="closed")
        rid = next(self._ids)
        body = dict(args)
        body["op"] = op
        body["id"] = rid
        self._sock.send_multipart([b"", msgpack.packb(body, use_bin_type=True)])
        self._inflight[rid] = True
        return rid

    def send_raw(self, body):
        """Send bytes as a request body as they are (for tests and tools);
        the reply is read with :meth:`recv_reply`."""
        self._sock.send_multipart([b"", body])

    def recv_reply(self, timeout=-1):
        """The next whole reply map, whatever its id. Raises NoReply."""
        t = self.timeout if timeout == -1 else timeout
        if not self._sock.poll(None if t is None else int(t * 1000)):
            raise NoReply("no reply from %s within %ss" % (self.endpoint, t))
        frames = self._sock.recv_multipart()
        try:
            reply = msgpack.unpackb(frames[-1], raw=False)
        except Exception as e:  # noqa: BLE001 - any decoding failure
            raise ProtocolError("reply is not msgpack: %s" % e)
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise ProtocolError("reply is not a protocol reply: %r" % (reply,))
        return reply

    def recv(self, timeout=-1):
        """The next reply to one of this client's requests as
        ``(id, reply)`` (the whole reply map, errors not raised).
        ``timeout`` in seconds (default: the client's); raises NoReply."""
        if self._pending:
            rid = next(iter(self._pending))
            return rid, self._pending.pop(rid)
        return self._recv_one(self.timeout if timeout == -1 else timeout)

    def result(self, rid, timeout=-1):
        """Wait for the reply to request ``rid`` and return its result
        (raising its error). Replies to other requests are kept for later."""
        if rid in self._pending:
            return self._unwrap(self._pending.pop(rid))
        t = self.timeout if timeout == -1 else timeout
        deadline = None if t is None else time.monotonic() + t
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                got, reply = self._recv_one(left)
            except NoReply:
                # Start over: nothing queued for a dead server is sent
                # later, no late reply is mistaken for a new one.
                self._open()
                raise
            if got == rid:
                return self._unwrap(reply)
            self._pending[got] = reply

    def _recv_one(self, timeout):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            reply = self.recv_reply(left)
            rid = reply.get("id")
            if rid in self._inflight:
                del self._inflight[rid]
                return rid, reply
            if rid is None and self._inflight:
                # A request the server could not decode (or too big to
                # decode): replies come in request order, so the oldest.
                rid = next(iter(self._inflight))
                del self._inflight[rid]
                return rid, reply
            # A late reply to an abandoned request: drop it.

    @staticmethod
    def _unwrap(reply):
        if reply.get("ok"):
            if "result" not in reply:
                raise ProtocolError("reply has ok: true but no result", reply=reply)
            return reply["result"]
        _raise_for(reply)

    def call(self, op, **args):
        """Send one request and return its result (or raise its error)."""
        return self.result(self.send(op, **args))

    def pipeline(self, requests, timeout=-1):
        """Send every request (dicts with "op" and arguments) before reading
        any reply; return their replies as a list in request order (whole
        reply maps, errors included, not raised)."""
        ids = []
        for r in requests:
            r = dict(r)
            op = r.pop("op")
            ids.append(self.send(op, **r))
        want = set(ids)
        got = {}
        for rid in ids:
            if rid in self._pending:
                got[rid] = self._pending.pop(rid)
        t = self.timeout if timeout == -1 else timeout
        deadline = None if t is None else time.monotonic() + t
        while len(got) < len(want):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                rid, reply = self._recv_one(left)
            except NoReply:
                self._open()
                raise
            if rid in want:
                got[rid] = reply
            else:
                self._pending[rid] = reply
        return [got[i] for i in ids]

    # -- one method per op ----------------------------------------------------------

    def ping(self):
        """``{"pong": True, "version": "..."}``."""
        return self.call("ping")

    def stats(self):
        """Counts by kind, memory, uptime, requests, journal state."""
        return self.call("stats")

    def feed_endpoint(self):
        """Where this daemon publishes its changes (``stats``' ``feed``);
        a wildcard bind address (``tcp://0.0.0.0:7412``) is taken on the
        host this client reached the daemon on."""
        feed = self.stats().get("feed")
        if not isinstance(feed, str) or "://" not in feed:
            raise ProtocolError("the daemon does not say where its change feed is")
        for wild in ("tcp://0.0.0.0:", "tcp://*:", "tcp://[::]:"):
            if feed.startswith(wild) and self.endpoint.startswith("tcp://"):
                host = self.endpoint[len("tcp://"):].rsplit(":", 1)[0]
                return "tcp://%s:%s" % (host, feed[len(wild):])
        return feed

    def feed(self, topics=None):
        """A :class:`Feed` on this daemon's change feed (feed_endpoint())."""
        return Feed(self.feed_endpoint(), topics=topics, context=self._ctx)

    def entity(self, name, as_of=None):
        """One entity by id or alias (case-insensitive), with its relation
        counts by kind (``out``, ``in``). Raises NotFound."""
        return self.call("entity", **_args(name=name, as_of=as_of))

    def entities(self, kind=None, prefix=None, limit=None, offset=None, as_of=None):
        """``{"entities": [{"id", "kind"}...], "total", "truncated"}``,
        sorted by id; ``prefix`` matches the id or an alias."""
        return self.call("entities", **_args(kind=kind, prefix=prefix, limit=limit,
                                             offset=offset, as_of=as_of))

    def relations(self, subject=None, relation=None, object=None, where=None,
                  as_of=None, limit=None):
        """``{"relations": [...], "truncated"}``. ``where`` maps qualifier
        keys to required values (None: the key must be present)."""
        return self.call("relations", **_args(subject=subject, relation=relation,
                                              object=object, where=where,
                                              as_of=as_of, limit=limit))

    def neighbors(self, entity, direction=None, relations=None, depth=None,
                  as_of=None, limit=None, detail=None):
        """Breadth-first neighbours: ``{"neighbors": [{"entity", "kind",
        "depth", "from", "via"}...], "truncated"}``. ``direction`` is
        ``out`` (server default), ``in`` or ``both``. ``detail="brief"``
        gives ``{"entity", "kind", "depth", "from", "relation",
        "direction"}`` per neighbour, ``detail="ids"`` only their ids."""
        return self.call("neighbors", **_args(entity=entity, direction=direction,
                                              relations=relations, depth=depth,
                                              as_of=as_of, limit=limit,
                                              detail=detail))

    def path(self, from_, to, relations=None, max_length=None, direction=None,
             all=None, as_of=None, limit=None):
        """Shortest path(s): ``{"paths": [[relation...]...], "length",
        "truncated"}``; no path gives ``paths == []``."""
        return self.call("path", **_args(**{"from": from_}, to=to, relations=relations,
                                         max_length=max_length, direction=direction,
                                         all=all, as_of=as_of, limit=limit))

    def match(self, patterns, as_of=None, limit=None):
        """Conjunctive triple patterns, e.g. ``[["?a", "tariffs-on", "?p",
        {"origin": "?b"}], ["?a", "exports-to", "?b"]]``: ``{"variables",
        "rows", "truncated", "plan"}``."""
        return self.call("match", **_args(patterns=patterns, as_of=as_of, limit=limit))

    def subgraph(self, seeds, depth=None, relations=None, direction=None,
                 format=None, as_of=None, limit=None):
        """The neighbourhood of ``seeds`` (a name or a list): entities and
        relations, or with ``format`` ("dot", "tsv", "json") ``{"format",
        "text"}``."""
        if isinstance(seeds, str):
            seeds = [seeds]
        return self.call("subgraph", **_args(seeds=seeds, depth=depth, relations=relations,
                                             direction=direction, format=format,
                                             as_of=as_of, limit=limit))

    def export(self, format=None, as_of=None):
        """The whole graph: ``{"format", "text"}`` (dot by default), or
        entities and relations with ``format="graph"``."""
        return self.call("export", **_args(format=format, as_of=as_of))

    def add(self, entities=None, relations=None):
        """Add entities (maps with "id", optional "kind", "aliases",
        "attributes") and relations (maps with "subject", "relation",
        "object", optional "qualifiers", "provenance", "evidence",
        "source"), all or nothing. Returns the counts and ``seq``."""
        return self.call("add", **_args(entities=entities, relations=relations))

    def remove(self, entities=None, relations=None):
        """Remove entities (ids) and relations (subject, relation, object
        and optional qualifiers that must all match), all or nothing;
        raises NotFound when one does not exist."""
        return self.call("remove", **_args(entities=entities, relations=relations))

    def extract(self, text, source=None, date=None, commit=None):
        """Run the server's article extractor on ``text``; with
        ``commit=True`` the facts are also added."""
        return self.call("extract", **_args(text=text, source=source, date=date,
                                            commit=commit))

    def snapshot(self):
        """Write a snapshot in the server's data directory (``path``,
        ``bytes``, ``seq``)."""
        return self.call("snapshot")

    def reload(self):
        """Make the server read its graph files again; returns the new
        entity and relation counts."""
        return self.call("reload")


# ---- the change feed ----------------------------------------------------------------

class Change:
    """One published change: ``topic`` (relation kind or "entity"),
    ``seq``, ``op`` ("add" or "remove") and ``relation`` or ``entity``
    (the other is None); ``body`` is the whole message."""

    __slots__ = ("topic", "seq", "op", "relation", "entity", "body")

    def __init__(self, topic, body):
        self.topic = topic
        self.body = body
        self.seq = body.get("seq")
        self.op = body.get("op")
        self.relation = body.get("relation")
        self.entity = body.get("entity")

    def __repr__(self):
        what = self.relation if self.relation is not None else self.entity
        return "Change(topic=%r, seq=%r, op=%r, %r)" % (self.topic, self.seq, self.op, what)


class Feed:
    """A subscription to kgd's change feed (a SUB socket).

    ``topics`` are relation kinds and/or "entity" (ZeroMQ prefix match;
    None or [] = everything). Iterate to get :class:`Change` objects, or
    call :meth:`recv` with a timeout. ZeroMQ subscriptions take a moment
    to reach the server: changes made right after the Feed is created may
    be missed (and a slow reader misses messages too: watch ``seq``).
    """

    def __init__(self, endpoint=DEFAULT_FEED, topics=None, context=None):
        if "://" not in endpoint:
            endpoint = "tcp://" + endpoint
        self.endpoint = endpoint
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(endpoint)
        for t in (topics or [""]):
            self.subscribe(t)

    def subscribe(self, topic):
        """Also receive changes whose topic starts with ``topic``."""
        self._sock.setsockopt(zmq.SUBSCRIBE, topic.encode())

    def unsubscribe(self, topic):
        self._sock.setsockopt(zmq.UNSUBSCRIBE, topic.encode())

    def recv(self, timeout=None):
        """The next change, or None after ``timeout`` seconds (None: wait
        forever). Messages that are not ``[topic, msgpack map]`` are
        skipped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self._sock.poll(None if left is None else int(left * 1000)):
                return None
            frames = self._sock.recv_multipart()
            if len(frames) != 2:
                continue
            try:
                body = msgpack.unpackb(frames[1], raw=False)
            except Exception:  # noqa: BLE001
                continue
            if isinstance(body, dict):
                return Change(frames[0].decode("utf-8", "replace"), body)

    def __iter__(self):
        while True:
            yield self.recv()

    def close(self):
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
