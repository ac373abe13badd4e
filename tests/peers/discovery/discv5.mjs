// A @chainsafe/discv5 node for peerwire's discv5 interop tests.
//
// Usage: node discv5.mjs --port UDP [--tcp TCP] [--bootnode enr:...]... [--duration SECONDS]
//
// Listens on 127.0.0.1:UDP, announces 127.0.0.1, UDP and TCP in its record, adds the bootnodes,
// then runs a random lookup every second. Prints one JSON line per event on stdout:
//   {"event":"ready","enr":"enr:...","nodeId":"<hex>"}
//   {"event":"discovered","nodeId":"<hex>","enr":"enr:..."}   (a record a lookup returned)
//   {"event":"added","nodeId":"<hex>"}                         (a node entered the table)
//   {"event":"table","nodeIds":["<hex>",...]}                  (after each lookup)
// and exits after --duration seconds (default 120) or when stdin closes.

import { randomBytes } from "node:crypto";
import { Discv5 } from "@chainsafe/discv5";
import { SignableENR } from "@chainsafe/enr";
import { privateKeyFromRaw } from "@libp2p/crypto/keys";
import { multiaddr } from "@multiformats/multiaddr";

const args = process.argv.slice(2);
const bootnodes = [];
let port = 0;
let tcp;
let duration = 120;
for (let i = 0; i < args.length; i++) {
  const value = args[i + 1];
  switch (args[i]) {
    case "--port": port = Number(value); i++; break;
    case "--tcp": tcp = Number(value); i++; break;
    case "--bootnode": bootnodes.push(value); i++; break;
    case "--duration": duration = Number(value); i++; break;
    default: throw new Error(`unknown argument ${args[i]}`);
  }
}
if (!port) throw new Error("--port is required");

const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

// A random valid secp256k1 secret (below the group order with overwhelming probability).
const secret = randomBytes(32);
const privateKey = privateKeyFromRaw(secret);
const enr = SignableENR.createV4(secret);
enr.ip = "127.0.0.1";
enr.udp = port;
if (tcp !== undefined) enr.tcp = tcp;

const discv5 = Discv5.create({
  enr,
  privateKey,
  bindAddrs: { ip4: multiaddr(`/ip4/127.0.0.1/udp/${port}`) },
  // The record's address is fixed: no updates from PONG votes.
  config: { enrUpdate: false, requestTimeout: 1000, lookupTimeout: 5000 },
});
discv5.on("discovered", (found) => print({ event: "discovered", nodeId: found.nodeId, enr: found.encodeTxt() }));
discv5.on("enrAdded", (added) => print({ event: "added", nodeId: added.nodeId }));

await discv5.start();
for (const boot of bootnodes) discv5.addEnr(boot);
print({ event: "ready", enr: discv5.enr.encodeTxt(), nodeId: discv5.enr.nodeId });

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await discv5.stop();
  process.exit(0);
};
process.stdin.on("end", stop);
process.stdin.resume();
setTimeout(stop, duration * 1000);

while (!stopping) {
  try {
    await discv5.findRandomNode();
  } catch (e) {
    print({ event: "error", message: String(e) });
  }
  print({ event: "table", nodeIds: discv5.kadValues().map((e) => e.nodeId) });
  await new Promise((resolve) => setTimeout(resolve, 1000));
}
