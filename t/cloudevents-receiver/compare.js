// compare.js EXPECTED RECEIVED: field-by-field check of what the SDK receiver
// saw (RECEIVED, receiver.js output) against the structured CloudEvents
// ce-encode wrote (EXPECTED), line by line. Binary mode carries every
// extension as a string, so there expected extension values are compared as
// strings. Prints "ok N" / "not ok N - why" lines; exits 1 on any mismatch.
"use strict";
const fs = require("fs");
const assert = require("assert");
const lines = (f) => fs.readFileSync(f, "utf8").split("\n").filter((l) => l !== "");
const exp = lines(process.argv[2]).map((l) => JSON.parse(l));
const got = lines(process.argv[3]).map((l) => JSON.parse(l));
const core = new Set(["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data", "data_base64"]);
let bad = 0;
if (exp.length !== got.length) {
  console.log(`not ok - ${exp.length} events sent, ${got.length} received`);
  process.exit(1);
}
exp.forEach((e, i) => {
  const r = got[i];
  try {
    assert.ok(r.ok, `receiver rejected it: ${r.error}`);
    const ev = r.event;
    const want = {};
    for (const [k, v] of Object.entries(e)) {
      if (k === "time") continue;
      want[k] = r.mode === "binary" && !core.has(k) ? String(v) : v;
    }
    // binary mode: JSON data needs a Content-Type, which is datacontenttype
    // (the JSON format implies application/json when it is absent)
    if (r.mode === "binary" && "data" in e && !("datacontenttype" in e)) want.datacontenttype = "application/json";
    const have = { ...ev };
    delete have.time;
    // an event without data: the SDK reports an empty binary body as ""
    if (!("data" in e) && have.data === "") delete have.data;
    assert.deepStrictEqual(have, want);
    if ("time" in e) {
      assert.strictEqual(r.raw_time, e.time, "time as sent");
      assert.strictEqual(ev.time, new Date(e.time).toISOString(), "time as the SDK parsed it");
    }
    console.log(`ok ${i + 1} - ${r.mode} ${e.id}`);
  } catch (err) {
    bad++;
    console.log(`not ok ${i + 1} - ${r.mode} ${e.id}: ${err.message.split("\n").join(" | ")}`);
  }
});
process.exit(bad ? 1 : 0);
