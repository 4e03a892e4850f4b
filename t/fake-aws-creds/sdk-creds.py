#!/usr/bin/env python3
"""sdk-creds: botocore's own credential chain against the fakes.

Usage: sdk-creds.py [--events URL]
The environment says where credentials are (as for sink-eventbridge):
AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_CONTAINER_CREDENTIALS_FULL_URI,
AWS_WEB_IDENTITY_TOKEN_FILE, AWS_CONFIG_FILE, ...; FAKE_STS_URL is the fake
STS (given to botocore as AWS_ENDPOINT_URL_STS where botocore knows that
variable, else as the STS client's endpoint_url: Debian's 1.29 predates it).
Prints one JSON line: {"method", "akid", "token", "expiry"} from the
credentials botocore resolved (never the secret), or {"error", "code"}.
With --events, also sends one PutEvents with them through botocore's
EventBridge client to fake-eventbridge and adds {"put": result}.
"""
import json
import os
import sys

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError


def session():
    s = botocore.session.get_session()
    sts = os.environ.get("FAKE_STS_URL")
    if sts:
        try:
            known = "endpoint_url" in botocore.configprovider.BOTOCORE_DEFAUT_SESSION_VARIABLES
        except AttributeError:
            known = False
        if known:
            os.environ["AWS_ENDPOINT_URL_STS"] = sts
        else:
            create = s.create_client

            def create_client(name, *a, **kw):
                if name == "sts":
                    kw.setdefault("endpoint_url", sts)
                return create(name, *a, **kw)
            s.create_client = create_client
    return s


def main():
    events = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "--events" else None
    s = session()
    out = {}
    try:
        creds = s.get_credentials()
        if creds is None:
            print(json.dumps({"error": "NoCredentials", "code": None}))
            return
        frozen = creds.get_frozen_credentials()
        expiry = getattr(creds, "_expiry_time", None)
        out = {"method": creds.method, "akid": frozen.access_key,
               "token": frozen.token is not None,
               "expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ") if expiry else None}
        if events:
            eb = s.create_client("events", region_name="us-east-1",
                                 endpoint_url=events)
            r = eb.put_events(Entries=[{
                "Source": "sdk-creds", "DetailType": "check",
                "Detail": json.dumps({"id": "sdk-" + frozen.access_key})}])
            out["put"] = r["FailedEntryCount"]
    except ClientError as e:
        out = {"error": "ClientError", "code": e.response["Error"]["Code"],
               "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
    except BotoCoreError as e:
        out = {"error": type(e).__name__, "code": None}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
