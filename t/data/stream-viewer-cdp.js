// Drive an open page of stream-serve's viewer over the Chrome DevTools
// Protocol, one step per argument, printing one line per eval step.
// usage: node --experimental-websocket stream-viewer-cdp.js DEBUGPORT URL STEP...
//   EXPR               evaluate EXPR in the page (awaiting a promise), print its value
//   wait:EXPR          evaluate EXPR until it is true (20 s at most), print nothing
//   goto:URL           load URL in the page and wait until it has loaded
//   viewport:W:H       emulate a W x H CSS-pixel screen (a phone below 700 px)
//   screenshot:FILE    save what the screen shows as a PNG
const fs = require('fs');
const [port, url, ...steps] = process.argv.slice(2);

(async () => {
  const pages = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const page = pages.find((p) => p.type === 'page' && p.url === url);
  if (!page) throw new Error(`no page at ${url}`);
  const ws = new WebSocket(page.webSocketDebuggerUrl);
  const pending = new Map();
  let id = 0;
  ws.onmessage = (m) => {
    const d = JSON.parse(m.data);
    if (pending.has(d.id)) { pending.get(d.id)(d); pending.delete(d.id); }
  };
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  const call = (method, params) => new Promise((resolve, reject) => {
    const i = ++id;
    pending.set(i, (d) => (d.error ? reject(new Error(`${method}: ${d.error.message}`)) : resolve(d.result)));
    ws.send(JSON.stringify({ id: i, method, params }));
  });
  const evaluate = async (expression) => {
    const r = await call('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.exception ? r.exceptionDetails.exception.description : r.exceptionDetails.text}`);
    return r.result.value;
  };
  for (const s of steps) {
    let m;
    if ((m = /^wait:([\s\S]*)$/.exec(s))) {
      const end = Date.now() + 20000;
      while (!(await evaluate(m[1]))) {
        if (Date.now() > end) throw new Error(`still false after 20 s: ${m[1]}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } else if ((m = /^goto:(.+)$/.exec(s))) {
      const { frameId } = await call('Page.navigate', { url: m[1] });
      const end = Date.now() + 20000;
      for (;;) {   // the old document may still answer at first
        const r = await evaluate('location.href + " " + document.readyState').catch(() => '');
        if (r === `${m[1]} complete`) break;
        if (Date.now() > end) throw new Error(`${m[1]} (frame ${frameId}) did not load`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } else if ((m = /^viewport:(\d+):(\d+)$/.exec(s))) {
      const width = Number(m[1]), height = Number(m[2]);
      await call('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: width < 700 });
      await new Promise((r) => setTimeout(r, 300));   // let the page lay out again
    } else if ((m = /^screenshot:(.+)$/.exec(s))) {
      const r = await call('Page.captureScreenshot', { format: 'png' });
      fs.writeFileSync(m[1], Buffer.from(r.data, 'base64'));
    } else {
      const v = await evaluate(s);
      console.log(typeof v === 'string' ? v : JSON.stringify(v));
    }
  }
  ws.close();
})().catch((e) => { console.error(e.message); process.exit(1); });
