// Send CloudEvents to webhook-source as the CloudEvents JavaScript SDK encodes
// them (HTTP.binary and HTTP.structured), printing each reply's status.
// usage: node webhook-sdk-emit.js URL
const { CloudEvent, HTTP } = require('cloudevents');

const url = process.argv[2];
const events = [
  new CloudEvent({ id: 'sdk-1', source: 'https://vc.example.com/sdk',
    type: 'com.vmware.vsphere.VmPoweredOnEvent.v0', subject: 'VmPoweredOnEvent',
    time: '2026-11-23T09:00:00.000Z', datacontenttype: 'application/json',
    eventkey: '1234', data: { Key: 1234, FullFormattedMessage: 'vm-1 on  "host"' } }),
  new CloudEvent({ id: 'sdk-2', source: '/horizon', type: 'x.y', subject: 'café 100%',
    time: '2026-11-23T09:00:01Z', datacontenttype: 'text/plain', data: 'plain text' }),
];

(async () => {
  for (const [mode, encode] of [['binary', HTTP.binary], ['structured', HTTP.structured]]) {
    for (const ev of events) {
      const msg = encode(ev);
      const res = await fetch(url, { method: 'POST', headers: msg.headers, body: msg.body });
      console.log(`${mode} ${ev.id} ${res.status}`);
    }
  }
})().catch((e) => { console.error(e); process.exit(1); });
