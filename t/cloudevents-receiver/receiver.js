// receiver.js PORTFILE: a CloudEvents receiver built on the npm SDK.
//
// Every request is parsed with HTTP.toEvent and then validated (toEvent
// builds events with strict=false, so validate() is what applies the spec's
// rules). One JSON line per request goes to stdout:
//   {"ok":true,"mode":"binary"|"structured","event":{...},"raw_time":"..."}
//   {"ok":false,"error":"..."}
// and the HTTP status is 200 or 400.
//
// The SDK (10.0.0) does not percent-decode ce-* header values although the
// HTTP binding requires it, so in binary mode this receiver decodes the
// string attributes itself (decodeURIComponent: it also throws on a
// malformed escape) before reporting them. The SDK also rewrites time as
// Date.toISOString() (millisecond precision), so the time as sent is
// reported separately as raw_time.
"use strict";
const fs = require("fs");
const http = require("http");
const { HTTP } = require("cloudevents");

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    let out;
    try {
      const ct = req.headers["content-type"] || "";
      const mode = ct.startsWith("application/cloudevents+json") ? "structured" : "binary";
      const ev = HTTP.toEvent({ headers: req.headers, body });
      ev.validate();
      const attrs = JSON.parse(JSON.stringify(ev));
      let rawTime;
      if (mode === "binary") {
        for (const k of Object.keys(attrs)) {
          if (k !== "data" && k !== "datacontenttype" && k !== "time" && typeof attrs[k] === "string") {
            attrs[k] = decodeURIComponent(attrs[k]);
          }
        }
        rawTime = req.headers["ce-time"] !== undefined ? decodeURIComponent(req.headers["ce-time"]) : undefined;
      } else {
        rawTime = JSON.parse(body).time;
      }
      out = { ok: true, mode, event: attrs, raw_time: rawTime };
      res.writeHead(200);
    } catch (e) {
      out = { ok: false, error: String(e && e.message ? e.message : e) + (e && e.errors ? " " + JSON.stringify(e.errors) : "") };
      res.writeHead(400);
    }
    process.stdout.write(JSON.stringify(out) + "\n");
    res.end();
  });
});
server.listen(0, "127.0.0.1", () => {
  fs.writeFileSync(process.argv[2] + ".tmp", String(server.address().port));
  fs.renameSync(process.argv[2] + ".tmp", process.argv[2]);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
