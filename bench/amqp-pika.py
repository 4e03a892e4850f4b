#!/usr/bin/python3
"""bench/amqp-pika.py: the plain-client peer of bench/amqp.sh (python3-pika),
perf-test style: the same work as sink-amqp and amqp-source, with nothing of
vcpipe's in between.

  amqp-pika.py URL declare QUEUE...       durable classic queues, purged
  amqp-pika.py URL publish QUEUE WINDOW [binary]
                                          stdin's lines as persistent messages
                                          to the default exchange, publisher
                                          confirms, WINDOW unconfirmed at most;
                                          binary: each event as sink-amqp
                                          publishes it (Knative's layout: the
                                          attributes as headers, the data as
                                          the body), the same work for the
                                          broker
  amqp-pika.py URL consume QUEUE N PREFETCH
                                          N messages, each body written to
                                          stdout, then acknowledged
URL is amqp://HOST:PORT (guest, as the test node allows from loopback).
"""
import collections
import datetime
import json
import sys

import pika


def params(url):
    return pika.URLParameters(url + "/%2F?heartbeat=0")


def declare(url, queues):
    conn = pika.BlockingConnection(params(url))
    ch = conn.channel()
    for q in queues:
        ch.queue_declare(q, durable=True)
        ch.queue_purge(q)
    conn.close()


def knative(line):
    """A structured event line as Knative's RabbitMQ broker lays it out."""
    ev = json.loads(line)
    data = ev.pop("data", None)
    ct = ev.pop("datacontenttype", "application/json")
    headers = {k: v for k, v in ev.items()}
    headers["content-type"] = ct
    ts = datetime.datetime.fromisoformat(ev["time"][:19]).replace(
        tzinfo=datetime.timezone.utc)
    props = pika.BasicProperties(delivery_mode=2, message_id=ev["id"],
                                 timestamp=int(ts.timestamp()),
                                 content_type=ct, headers=headers)
    body = json.dumps(data, separators=(",", ":")).encode()
    return props, body


def publish(url, queue, window, mode):
    """SelectConnection: publish up to window, refill on each (multiple) ack."""
    lines = [l.rstrip(b"\n") for l in sys.stdin.buffer]
    props = pika.BasicProperties(delivery_mode=2,
                                 content_type="application/cloudevents+json")
    if mode == "binary":
        lines = [knative(l) for l in lines]
    else:
        lines = [(props, l) for l in lines]
    state = {"next": 0, "tag": 0, "acked": 0, "nacked": 0}
    pending = collections.deque()
    ch = None

    def fill():
        while state["next"] < len(lines) and len(pending) < window:
            p, body = lines[state["next"]]
            ch.basic_publish("", queue, body, p, mandatory=mode == "binary")
            state["next"] += 1
            state["tag"] += 1
            pending.append(state["tag"])

    def on_confirm(frame):
        m = frame.method
        ack = isinstance(m, pika.spec.Basic.Ack)
        while pending and (pending[0] <= m.delivery_tag if m.multiple
                           else pending[0] == m.delivery_tag):
            pending.popleft()
            state["acked" if ack else "nacked"] += 1
        if not m.multiple and m.delivery_tag in pending:
            pending.remove(m.delivery_tag)
            state["acked" if ack else "nacked"] += 1
        if state["acked"] + state["nacked"] == len(lines):
            conn.close()
        else:
            fill()

    def on_channel(c):
        nonlocal ch
        ch = c
        ch.confirm_delivery(on_confirm, callback=lambda _f: fill())

    conn = pika.SelectConnection(
        params(url),
        on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
        on_open_error_callback=lambda c, e: (c.ioloop.stop(), sys.exit(
            "pika: %s" % e)),
        on_close_callback=lambda c, _r: c.ioloop.stop())
    conn.ioloop.start()
    if state["nacked"] or state["acked"] != len(lines):
        sys.exit("pika: %d acked, %d nacked of %d" %
                 (state["acked"], state["nacked"], len(lines)))


def consume(url, queue, n, prefetch):
    conn = pika.BlockingConnection(params(url))
    ch = conn.channel()
    ch.basic_qos(prefetch_count=prefetch)
    out = sys.stdout.buffer
    got = 0
    for method, _props, body in ch.consume(queue):
        out.write(body + b"\n")
        ch.basic_ack(method.delivery_tag)
        got += 1
        if got == n:
            break
    out.flush()
    ch.cancel()
    conn.close()


def main():
    url, cmd = sys.argv[1], sys.argv[2]
    if cmd == "declare":
        declare(url, sys.argv[3:])
    elif cmd == "publish":
        publish(url, sys.argv[3], int(sys.argv[4]),
                sys.argv[5] if len(sys.argv) > 5 else "structured")
    elif cmd == "consume":
        consume(url, sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
