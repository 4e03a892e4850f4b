#!/usr/bin/env node
// HTTPS receiver offering HTTP/2 (ALPN h2) and HTTP/1.1, for sink-http's
// protocol test. Node's built-in http2 module only.
// usage: node h2.js CERT KEY LOG PORTFILE
// Appends one JSON line per request to LOG:
//   {"proto":"2.0","conn":"127.0.0.1:PORT","headers":{...},"body":"..."}
// where conn is the client end of the TCP connection the request came on.
'use strict';
const fs = require('fs');
const http2 = require('http2');
const [cert, key, log, portFile] = process.argv.slice(2);
const server = http2.createSecureServer({
  cert: fs.readFileSync(cert), key: fs.readFileSync(key), allowHTTP1: true,
}, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (!k.startsWith(':')) headers[k.toLowerCase()] = v;
    }
    const sock = req.stream ? req.stream.session.socket : req.socket;
    fs.appendFileSync(log, JSON.stringify({
      proto: req.httpVersion, conn: `${sock.remoteAddress}:${sock.remotePort}`,
      method: req.method, path: req.url, headers,
      body: Buffer.concat(chunks).toString('utf8'),
    }) + '\n');
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
});
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile + '.tmp', String(server.address().port) + '\n');
  fs.renameSync(portFile + '.tmp', portFile);
});
process.on('SIGTERM', () => process.exit(0));
