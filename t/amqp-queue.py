#!/usr/bin/python3
"""t/amqp-queue.py: queues for tests and man-page examples, through
python3-pika (a client that is not vcpipe's).

  amqp-queue.py URL declare QUEUE [EXCHANGE:KEY [TYPE]]
      a durable classic queue (TYPE of the exchange: topic by default);
      with EXCHANGE:KEY the exchange (durable) and the binding too
  amqp-queue.py URL count QUEUE
      prints the messages ready in QUEUE
URL is amqp://HOST:PORT[/VHOST] with guest, which RabbitMQ takes from
loopback.
"""
import sys

import pika


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    url, cmd, queue = sys.argv[1:4]
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    if cmd == "declare":
        ch.queue_declare(queue, durable=True)
        if len(sys.argv) > 4:
            ex, _, key = sys.argv[4].partition(":")
            etype = sys.argv[5] if len(sys.argv) > 5 else "topic"
            ch.exchange_declare(ex, etype, durable=True)
            ch.queue_bind(queue, ex, key)
    elif cmd == "count":
        print(ch.queue_declare(queue, passive=True).method.message_count)
    else:
        sys.exit(__doc__)
    conn.close()


if __name__ == "__main__":
    main()
