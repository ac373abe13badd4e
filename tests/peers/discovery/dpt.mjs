// An @ethereumjs/devp2p DPT (discovery v4) on 127.0.0.1, bootstrapped from one enode, for
// peerwire's discv4 interop tests.
//
// Usage: node dpt.mjs enode://<128 hex>@127.0.0.1:<port>[?discport=<udp>] <udp port to bind>
//
// Prints JSON lines on stdout:
//   {"event":"ready","id":"<128 hex>","port":<udp port>}        once bound
//   {"event":"peer","id":"<128 hex>","address":"…","udpPort":…,"tcpPort":…}  per table addition
// Errors go to stderr as text. Exits when stdin closes (so a test that dies takes it along).
import { DPT } from '@ethereumjs/devp2p'
import { bytesToUnprefixedHex, hexToBytes } from '@ethereumjs/util'

const [enode, portArg] = process.argv.slice(2)
const match = /^enode:\/\/([0-9a-f]{128})@([0-9.]+):(\d+)(?:\?discport=(\d+))?$/.exec(enode ?? '')
const port = Number(portArg)
if (!match || !Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write('usage: node dpt.mjs enode://<id>@<ip>:<port>[?discport=<udp>] <udp port>\n')
  process.exit(2)
}
const [, bootId, bootIp, bootTcp, bootUdp] = match

const privateKey = crypto.getRandomValues(new Uint8Array(32))
const dpt = new DPT(privateKey, {
  endpoint: { address: '127.0.0.1', udpPort: port, tcpPort: port },
  refreshInterval: 2000,
  timeout: 2000,
  shouldFindNeighbours: true,
  shouldGetDnsPeers: false,
})

const print = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`)
dpt.events.on('error', (err) => process.stderr.write(`dpt error: ${err?.message ?? err}\n`))
dpt.events.on('peer:added', (peer) => {
  print({
    event: 'peer',
    id: peer.id ? bytesToUnprefixedHex(peer.id) : null,
    address: peer.address,
    udpPort: peer.udpPort,
    tcpPort: peer.tcpPort ?? null,
  })
})
dpt.events.once('listening', async () => {
  print({ event: 'ready', id: bytesToUnprefixedHex(dpt.id), port })
  await dpt.bootstrap({
    id: hexToBytes(`0x${bootId}`),
    address: bootIp,
    udpPort: Number(bootUdp ?? bootTcp),
    tcpPort: Number(bootTcp),
  })
})
dpt.bind(port, '127.0.0.1')

process.stdin.on('end', () => {
  dpt.destroy()
  process.exit(0)
})
process.stdin.resume()
