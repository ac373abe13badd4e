// An @ethereumjs/devp2p RLPx listener on 127.0.0.1 that serves the "peertest" chain (chain.mjs)
// over eth/68.
//
// Usage: node server.mjs [PORT]      (default 30303)
// Env:   NODE_KEY (32-byte hex, default 0x01 repeated), CHAIN_LEN, GENESIS_EXTRA, NEXT_FORK,
//        NODELAY (0 keeps Nagle's algorithm on), DEBUG (library wire log, e.g. "ethjs,devp2p:eth").
//
// When listening it prints ONE JSON line on stdout:
//   {"enode","chainId","genesisHash","head","headHash","td","forkHash","forkNext"}
// Everything else goes to stderr. It answers GetBlockHeaders, GetBlockBodies, GetReceipts and
// GetPooledTransactions (always empty) with the eth/66+ request id echoed. A malformed request
// disconnects the peer with SUBPROTOCOL_ERROR. A listen error exits with status 1; SIGINT and
// SIGTERM stop the node and exit 0.

import { ETH, EthMessageCodes, DISCONNECT_REASON, RLPx } from '@ethereumjs/devp2p'
import {
  bigIntToBytes,
  bytesToBigInt,
  bytesToHex,
  bytesToUnprefixedHex,
  hexToBytes,
  intToBytes,
  utf8ToBytes,
} from '@ethereumjs/util'

import { buildChain, rawBody } from './chain.mjs'

/** Serving limits, as geth's: at most this many items per reply. */
const MAX_HEADERS = 1024
const MAX_BODIES = 1024
const MAX_RECEIPTS = 1024

const log = (...args) => console.error(new Date().toISOString(), '[server]', ...args)

const portArg = process.argv[2] ?? '30303'
const port = Number(portArg)
if (!/^\d+$/.test(portArg) || port < 1 || port > 65535) {
  console.error(`usage: node server.mjs [PORT]  (bad port: ${portArg})`)
  process.exit(2)
}
const nodeKeyHex = process.env.NODE_KEY ?? `0x${'01'.repeat(32)}`
let nodeKey
try {
  nodeKey = hexToBytes(nodeKeyHex.startsWith('0x') ? nodeKeyHex : `0x${nodeKeyHex}`)
} catch {
  nodeKey = new Uint8Array(0)
}
if (nodeKey.length !== 32) {
  console.error(`NODE_KEY must be 32 bytes of hex, got ${nodeKeyHex}`)
  process.exit(2)
}

const chain = await buildChain()
const { common, blocks, receipts, byHash, summary } = chain
log(`chain built: ${summary.head + 1} blocks, genesis ${summary.genesisHash}, head ${summary.headHash}`)

const rlpx = new RLPx(nodeKey, {
  capabilities: [ETH.eth68],
  common,
  listenPort: port,
  maxPeers: 25,
  clientId: utf8ToBytes('peertest-ethjs/v10'),
})

if (process.env.NODELAY !== '0') {
  // The library writes a frame's header and body separately: without TCP_NODELAY every round
  // trip waits for delayed ACKs (~40-90 ms per message on loopback).
  rlpx._server.on('connection', (socket) => socket.setNoDelay(true))
}

/** Looks up a header origin: a 32-byte hash or a number. Returns a block number or -1. */
function originNumber(origin) {
  if (!(origin instanceof Uint8Array)) throw new Error('origin is not a byte string')
  if (origin.length === 32) return byHash.get(bytesToHex(origin)) ?? -1
  if (origin.length > 8) throw new Error('origin number too long')
  const n = bytesToBigInt(origin)
  return n <= BigInt(summary.head) ? Number(n) : -1
}

const asInt = (bytes, what) => {
  if (!(bytes instanceof Uint8Array) || bytes.length > 8) throw new Error(`bad ${what}`)
  return bytesToBigInt(bytes)
}

const asList = (value, what) => {
  if (!Array.isArray(value)) throw new Error(`${what} is not a list`)
  return value
}

function serveHeaders(query) {
  const [origin, limitB, skipB, reverseB] = asList(query, 'header query')
  const limit = asInt(limitB, 'limit')
  const skip = asInt(skipB, 'skip')
  const reverse = asInt(reverseB, 'reverse') !== 0n
  const count = Number(limit > BigInt(MAX_HEADERS) ? BigInt(MAX_HEADERS) : limit)
  const step = skip + 1n
  const out = []
  let n = BigInt(originNumber(origin))
  while (n >= 0n && n <= BigInt(summary.head) && out.length < count) {
    out.push(blocks[Number(n)].header.raw())
    n = reverse ? n - step : n + step
  }
  return out
}

function serveBodies(hashes) {
  const out = []
  for (const hash of asList(hashes, 'hashes').slice(0, MAX_BODIES)) {
    const n = hash instanceof Uint8Array && hash.length === 32 ? byHash.get(bytesToHex(hash)) : undefined
    if (n !== undefined) out.push(rawBody(blocks[n])) // unknown hashes are skipped, as geth does
  }
  return out
}

function serveReceipts(hashes) {
  const out = []
  for (const hash of asList(hashes, 'hashes').slice(0, MAX_RECEIPTS)) {
    const n = hash instanceof Uint8Array && hash.length === 32 ? byHash.get(bytesToHex(hash)) : undefined
    if (n !== undefined) out.push(receipts[n])
  }
  return out
}

function onPeer(peer) {
  const hello = peer.getHelloMessage()
  const who = `${bytesToUnprefixedHex(peer.getId()).slice(0, 16)}… (${hello?.clientId})`
  log(
    `peer added: ${who} p2p v${hello?.protocolVersion} caps ${(hello?.capabilities ?? [])
      .map((c) => `${c.name}/${c.version}`)
      .join(',')}`,
  )
  const eth = peer.getProtocols().find((p) => p instanceof ETH)
  if (eth === undefined) {
    log(`peer ${who} shares no eth version: disconnecting`)
    peer.disconnect(DISCONNECT_REASON.USELESS_PEER)
    return
  }
  eth.events.on('status', (status) => {
    log(
      `remote status from ${who}: network ${bytesToBigInt(status.chainId)} td ${bytesToBigInt(status.td)} best ${bytesToHex(status.bestHash)} genesis ${bytesToHex(status.genesisHash)} fork ${status.forkId ? `${bytesToHex(status.forkId[0])}/${bytesToBigInt(status.forkId[1])}` : '-'}`,
    )
  })
  eth.events.on('message', (code, payload) => {
    if (code === EthMessageCodes.STATUS) return // the library also emits Status as a message
    try {
      const [reqId, body] = asList(payload, 'request')
      asInt(reqId, 'request id')
      switch (code) {
        case EthMessageCodes.GET_BLOCK_HEADERS: {
          const headers = serveHeaders(body)
          log(`${who}: GetBlockHeaders #${bytesToBigInt(reqId)} -> ${headers.length} headers`)
          eth.sendMessage(EthMessageCodes.BLOCK_HEADERS, [reqId, headers])
          break
        }
        case EthMessageCodes.GET_BLOCK_BODIES: {
          const bodies = serveBodies(body)
          log(`${who}: GetBlockBodies #${bytesToBigInt(reqId)} -> ${bodies.length} bodies`)
          eth.sendMessage(EthMessageCodes.BLOCK_BODIES, [reqId, bodies])
          break
        }
        case EthMessageCodes.GET_RECEIPTS: {
          const rs = serveReceipts(body)
          log(`${who}: GetReceipts #${bytesToBigInt(reqId)} -> ${rs.length} receipt lists`)
          eth.sendMessage(EthMessageCodes.RECEIPTS, [reqId, rs])
          break
        }
        case EthMessageCodes.GET_POOLED_TRANSACTIONS:
          asList(body, 'hashes')
          eth.sendMessage(EthMessageCodes.POOLED_TRANSACTIONS, [reqId, []])
          break
        default:
          log(`${who}: ignoring message 0x${code.toString(16)}`)
      }
    } catch (err) {
      log(`${who}: malformed message 0x${code.toString(16)}: ${err.message}; disconnecting`)
      peer.disconnect(DISCONNECT_REASON.SUBPROTOCOL_ERROR)
    }
  })
  eth.sendStatus({
    td: bigIntToBytes(BigInt(summary.td)),
    bestHash: hexToBytes(summary.headHash),
    genesisHash: hexToBytes(summary.genesisHash),
    latestBlock: intToBytes(summary.head),
  })
}

rlpx.events.on('peer:added', (peer) => {
  try {
    onPeer(peer)
  } catch (err) {
    log(`peer setup failed: ${err.message}`)
    peer.disconnect(DISCONNECT_REASON.SUBPROTOCOL_ERROR)
  }
})
rlpx.events.on('peer:removed', (peer, reason, byUs) => {
  const id = peer.getId()
  log(
    `peer removed: ${id ? bytesToUnprefixedHex(id).slice(0, 16) : '?'} reason 0x${Number(reason ?? 0).toString(16)} by ${byUs ? 'us' : 'them'}`,
  )
})
rlpx.events.on('peer:error', (peer, err) => log(`peer error: ${err?.message ?? err}`))
rlpx.events.on('error', (err) => {
  log(`listen error: ${err?.message ?? err}`)
  process.exit(1)
})
rlpx.events.on('listening', () => {
  const info = {
    enode: `enode://${bytesToUnprefixedHex(rlpx.id)}@127.0.0.1:${port}`,
    ...summary,
  }
  process.stdout.write(`${JSON.stringify(info)}\n`)
  log(`listening on 127.0.0.1:${port}`)
})

const stop = (signal) => {
  log(`${signal}: stopping`)
  try {
    rlpx.destroy()
  } finally {
    process.exit(0)
  }
}
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))

rlpx.listen(port, '127.0.0.1')
