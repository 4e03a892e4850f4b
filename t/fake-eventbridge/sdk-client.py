#!/usr/bin/env python3
"""sdk-client: drive fake-eventbridge with botocore's own EventBridge client.

Proves the fake speaks the protocol the AWS SDK speaks (JSON 1.1 requests,
responses and error shapes botocore parses) and that its signature check
agrees with botocore's signer.  Usage: sdk-client.py URL AKID SECRET
(the secret is read from the environment variable FAKE_SECRET when
SECRET is "-").  Prints one line per call.
"""
import os
import sys

import botocore.session
from botocore.exceptions import ClientError


def client(url, akid, secret, token=None):
    return botocore.session.get_session().create_client(
        "events", region_name="us-east-1", endpoint_url=url,
        aws_access_key_id=akid, aws_secret_access_key=secret,
        aws_session_token=token)


def call(name, fn):
    try:
        print(name, fn())
    except ClientError as e:
        print(name, "error", e.response["Error"]["Code"],
              e.response["ResponseMetadata"]["HTTPStatusCode"])


def main():
    url, akid, secret = sys.argv[1:4]
    if secret == "-":
        secret = os.environ["FAKE_SECRET"]
    c = client(url, akid, secret)
    call("put_events", lambda: (lambda r: "%d %s" % (
        r["FailedEntryCount"],
        ",".join(e.get("ErrorCode") or "ok" for e in r["Entries"])))(
        c.put_events(Entries=[
            {"Source": "s", "DetailType": "d", "Detail": "{\"a\":1}"},
            {"Source": "s", "DetailType": "d", "Detail": "[1]"},
            {"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": "vc"}])))
    call("describe_rule", lambda: c.describe_rule(Name="vm-power", EventBusName="vc")["Name"])
    call("describe_rule_missing", lambda: c.describe_rule(Name="nosuch"))
    call("put_events_11", lambda: c.put_events(Entries=[
        {"Source": "s", "DetailType": "d", "Detail": "{}"}] * 11))
    call("wrong_secret", lambda: client(url, akid, "wrong").put_events(
        Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}]))


if __name__ == "__main__":
    main()
