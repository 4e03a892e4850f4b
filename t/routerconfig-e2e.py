#!/usr/bin/env python3
"""routerconfig-e2e.py: a published RouterConfig (t/data/routerconfigs)
pointed at the test's simulator and fakes, everything else as published.

usage: routerconfig-e2e.py FIXTURE OUT PEERS.json
PEERS: {"vc": URL, "vcuser", "vcpass", "ca": FILE, "receiver": URL,
        "gateway": URL, "gwuser", "gwpass", "horizon": URL, "hzdomain",
        "hzuser", "hzpass", "akid", "secret", "hook": HOST:PORT,
        "metrics": HOST:PORT, "state": DIR}
Prints {"provider": type, "processor": type, "path": webhook path or null,
        "hookauth": [user, password] or null, "region", "bus", "rule"}.
Comments are dropped (PyYAML does not keep them); keys, values and their
types stay as the file has them.
"""
import json
import sys
from urllib.parse import urlsplit

import yaml

src, out, peers = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
cfg = yaml.safe_load(open(src))
prov, proc = cfg["eventProvider"], cfg["eventProcessor"]
info = {"provider": prov["type"], "processor": proc["type"], "path": None,
        "hookauth": None}

if prov["type"] in ("vcenter", "vcsim"):
    vc = prov[prov["type"]]
    vc["address"] = peers["vc"]
    vc["auth"]["basicAuth"].update(username=peers["vcuser"],
                                   password=peers["vcpass"])
    if not vc.get("insecureSSL"):
        # the simulator's certificate: trusted as the router trusts one
        cfg.setdefault("certificates", {})["rootCAs"] = [peers["ca"]]
    if vc.get("checkpoint"):
        vc["checkpointDir"] = peers["state"]
elif prov["type"] == "webhook":
    wh = prov["webhook"]
    wh["bindAddress"] = peers["hook"]
    info["path"] = wh.get("path")
    ba = (wh.get("auth") or {}).get("basicAuth")
    if ba:
        info["hookauth"] = [ba["username"], ba["password"]]
elif prov["type"] == "horizon":
    hz = prov["horizon"]
    hz["address"] = peers["horizon"]
    hz["insecureSSL"] = True
    hz["auth"]["activeDirectoryAuth"].update(
        domain=peers["hzdomain"], username=peers["hzuser"],
        password=peers["hzpass"])

if proc["type"] == "knative":
    dest = proc["knative"]["destination"]
    if "uri" in dest:
        u = urlsplit(peers["receiver"])
        dest["uri"] = {"scheme": u.scheme, "host": u.netloc,
                       "path": dest["uri"].get("path", "")}
    # a ref is kept: the fake API server knows the objects it names
elif proc["type"] == "openfaas":
    of = proc["openfaas"]
    of["address"] = peers["gateway"]
    if of.get("auth"):
        of["auth"]["basicAuth"].update(username=peers["gwuser"],
                                       password=peers["gwpass"])
elif proc["type"] == "aws_event_bridge":
    eb = proc["awsEventBridge"]
    info.update(region=eb["region"], bus=eb["eventBus"],
                rule=eb["ruleARN"].rsplit("/", 1)[-1])
    if eb["auth"].get("awsAccessKeyAuth"):
        eb["auth"]["awsAccessKeyAuth"].update(accessKey=peers["akid"],
                                              secretKey=peers["secret"])

if "metricsProvider" in cfg:
    cfg["metricsProvider"]["default"]["bindAddress"] = peers["metrics"]

with open(out, "w") as f:
    yaml.safe_dump(cfg, f, sort_keys=False)
print(json.dumps(info))
