#!/usr/bin/env python3
"""Generate N realistic raw event lines (vcpipe-formats(5), format 1) on stdout.

Shapes follow govmomi 0.24 json.Marshal of vim25 events: PascalCase fields,
every field present, managed object references as {"Type","Value"}. Classes,
users and VM names vary; about one line in five carries non-ASCII text.
Deterministic (fixed seed) so runs compare.
"""
import json
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
rnd = random.Random(42)
VC = "https://vc01.example.com/sdk"
UUID = "5c2c6f8e-8d4b-4c1a-9a57-3f0f1b2e9d10"
USERS = ["VSPHERE.LOCAL\\Administrator", "CORP\\jörg.müller", "svc-backup@corp.example",
         "CORP\\o'brien", "CORP\\“quoted” user"]
NAMES = ["web-01", "db-prod-02", "Ünïcödé-vm", "build agent 7", "日本語-vm", "app \"quoted\""]


def moref(t, v):
    return {"Type": t, "Value": v}


def base(key, cls, t):
    vm = rnd.choice(NAMES) + "-" + str(rnd.randint(1, 999))
    return {
        "Key": key, "ChainId": key, "CreatedTime": t,
        "UserName": rnd.choice(USERS),
        "Datacenter": {"Name": "DC0", "Datacenter": moref("Datacenter", "datacenter-2")},
        "ComputeResource": {"Name": "cluster-a", "ComputeResource": moref("ClusterComputeResource", "domain-c7")},
        "Host": {"Name": "esx%02d.example.com" % rnd.randint(1, 40), "Host": moref("HostSystem", "host-%d" % rnd.randint(10, 99))},
        "Vm": {"Name": vm, "Vm": moref("VirtualMachine", "vm-%d" % rnd.randint(100, 9999))},
        "Ds": None, "Net": None, "Dvs": None,
        "FullFormattedMessage": "%s on %s in DC0 is %s" % (vm, "esx01.example.com", cls),
        "ChangeTag": "",
    }


def event(i):
    key = 100000 + i
    t = "2026-11-23T09:%02d:%02d.%06dZ" % (i // 60000 % 60, i // 1000 % 60, rnd.randint(0, 999999))
    r = rnd.random()
    if r < 0.6:
        cls = rnd.choice(["VmPoweredOnEvent", "VmPoweredOffEvent", "VmSuspendedEvent",
                          "VmStartingEvent", "VmStoppingEvent", "VmResettingEvent"])
        cat, d = "event", base(key, cls, t)
        d["Template"] = False
    elif r < 0.75:
        cls, cat = "UserLoginSessionEvent", "event"
        d = base(key, cls, t)
        d.update({"IpAddress": "10.0.%d.%d" % (rnd.randint(0, 255), rnd.randint(1, 254)),
                  "UserAgent": "pyvmomi Python/3.11", "Locale": "en", "SessionId": "52%030x" % rnd.getrandbits(120)})
    elif r < 0.85:
        cls, cat = "VmReconfiguredEvent", "event"
        d = base(key, cls, t)
        d["ConfigSpec"] = {"ChangeVersion": "", "Name": "", "NumCPUs": rnd.choice([2, 4, 8]),
                           "MemoryMB": rnd.choice([2048, 4096, 8192]),
                           "DeviceChange": [{"Operation": "edit", "FileOperation": "",
                                             "Device": {"Key": 2000 + j, "DeviceInfo": {"Label": "Hard disk %d" % j, "Summary": "%d KB" % (1048576 * j)}}}
                                            for j in range(1, rnd.randint(2, 5))],
                           "Annotation": rnd.choice(["", "owner: jörg", "line1\nline2\ttab"])}
        d["ConfigChanges"] = {"Modified": "config.hardware.numCPU", "Added": "", "Deleted": ""}
    elif r < 0.93:
        cls, cat = "com.vmware.vc.HA.ClusterFailoverActionCompletedEvent", "eventex"
        d = base(key, "EventEx", t)
        d.update({"EventTypeId": cls, "Severity": "info", "Message": "",
                  "Arguments": [{"Key": "vmName", "Value": rnd.choice(NAMES)}], "ObjectId": "domain-c7",
                  "ObjectType": "ClusterComputeResource", "ObjectName": "cluster-a", "Fault": None})
    elif r < 0.97:
        cls, cat = "com.vmware.vcIntegrity.ScanStart", "extendedevent"
        d = base(key, "ExtendedEvent", t)
        d.update({"EventTypeId": cls, "ManagedObject": moref("HostSystem", "host-12"),
                  "Data": [{"Key": "message", "Value": "Scan started"}]})
    else:
        cls, cat = "AlarmStatusChangedEvent", "event"
        d = base(key, cls, t)
        d.update({"Alarm": {"Name": "Host CPU usage", "Alarm": moref("Alarm", "alarm-7")},
                  "Source": {"Name": "DC0", "Entity": moref("Datacenter", "datacenter-2")},
                  "Entity": {"Name": "esx01", "Entity": moref("HostSystem", "host-12")},
                  "From": "green", "To": rnd.choice(["yellow", "red"])})
    return {"vcenter": VC, "instanceUuid": UUID, "apiVersion": "8.0.2.0", "class": cls,
            "category": cat, "key": key, "createdTime": t, "data": d}


out = sys.stdout
for i in range(n):
    out.write(json.dumps(event(i), ensure_ascii=False, separators=(",", ":")) + "\n")
