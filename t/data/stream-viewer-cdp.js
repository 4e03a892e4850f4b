// Drive an open page of stream-serve's viewer over the Chrome DevTools
// Protocol: evaluate each expression in the page and print its value.
// usage: node --experimental-websocket stream-viewer-cdp.js DEBUGPORT URL EXPR...
const [port, url, ...exprs] = process.argv.slice(2);

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
  const evaluate = (expression) => new Promise((resolve) => {
    const i = ++id;
    pending.set(i, (d) => resolve(d.result && d.result.result ? d.result.result.value : d));
    ws.send(JSON.stringify({ id: i, method: 'Runtime.evaluate',
      params: { expression, returnByValue: true, awaitPromise: true } }));
  });
  for (const e of exprs) console.log(await evaluate(e));
  ws.close();
})().catch((e) => { console.error(e.message); process.exit(1); });
