#!/usr/bin/env python3
"""An OpenFaaS function written for the vcenter-connector's message, as its
users wrote them: the tagging handler of embano1/pytagfn (pytag-fn/handler.py
@1b07524, the example in vcenter-connector's docs/example.md, and VEBA
v0.1.0's examples/python/tagging) reads managedObjectReference's Value and
Type to tag the object; VEBA v0.1.0's PowerCLI tagging script reads
objectName. The vSphere REST calls are left out: the handler prints the
request body it would send (the tag association's object_id) together with
what the PowerCLI script would look up, one JSON line per invocation.

Usage: handler.py < body   (the HTTP body the function received)
"""
import json
import sys


class FaaSResponse:
    def __init__(self, status, message):
        self.status = status
        self.message = message


def handle(req):
    # Validate input
    try:
        j = json.loads(req)
    except ValueError as err:
        res = FaaSResponse('400', 'invalid JSON {0}'.format(err))
        print(json.dumps(vars(res)))
        return
    try:
        ref = (j['managedObjectReference'])
    except KeyError as err:
        res = FaaSResponse('400', 'JSON does not contain ManagedObjectReference {0}'.format(err))
        print(json.dumps(vars(res)))
        return
    # Convert MoRef to an object VAPI REST tagging endpoint requires
    obj = {
        'object_id': {
            'id': ref['Value'],
            'type': ref['Type']
        }
    }
    # the PowerCLI example: Get-VM $json.objectName | New-TagAssignment
    print(json.dumps({'topic': j['topic'], 'tag': obj, 'get_vm': j.get('objectName'),
                      'user': j.get('userName'), 'at': j['createdTime']}, sort_keys=True))


if __name__ == '__main__':
    handle(sys.stdin.read())
