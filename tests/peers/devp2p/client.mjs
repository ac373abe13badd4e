// An @ethereumjs/devp2p dialer that fetches headers, bodies and receipts over eth/68 and verifies
// them with @ethereumjs/block and @ethereumjs/tx code.
//
// Usage: node client.mjs enode://<128 hex>@host:port      (a malformed argument exits with 2)
//
// Two modes:
// - default ("peertest"): the remote serves the chain of chain.mjs (same CHAIN_LEN, GENESIS_EXTRA,
//   NEXT_FORK); everything fetched is also compared hash by hash with the locally built chain.
// - GENESIS_FROM_STATUS=1 ("remote"): the remote serves some other chain. A first, short
//   connection reads the remote's Status (network id, genesis hash); the real connection then uses
//   a Common with that chain id and genesis and every hardfork up to HARDFORK (default "london")
//   active at block 0, so its fork id is CRC32(genesis). Instead of the probe, CHAIN_ID and
//   GENESIS_HASH may be given directly.
//
// Other env: HARDFORK, CLIENT_TIMEOUT_MS (overall deadline, default 15000), REQUEST_TIMEOUT_MS
// (default 5000), MAX_HEADERS (how many headers from genesis to check, default 20000),
// MAX_BODIES (default 128), CHECK_RECEIPTS (0 disables the receipt check), NODELAY (0 keeps Nagle).
//
// Checks: Status (network id, genesis and fork id are validated by the library; the remote head
// header must hash to the announced best hash); headers 0..head by number in batches of up to
// 1024, each decoded with createBlockHeaderFromBytesArray under the chain's Common, numbers
// consecutive, parent hashes linked, header 0 hashing to the genesis hash; by hash, reverse, skip 9;
// by number, forward, skip 2; by hash forward; bodies (an unknown hash in the request must be
// skipped) with transactions decoded by createTxFromBlockBodyData, transaction roots, ommers hash
// and withdrawals root matching the headers; receipts whose trie roots match the headers.
//
// Prints progress on stderr and ONE JSON line on stdout; exits 0 only if every check passed.

import { randomBytes } from 'node:crypto'

import { createBlockHeaderFromBytesArray, genTransactionsTrieRoot } from '@ethereumjs/block'
import { DISCONNECT_REASON, ETH, EthMessageCodes, RLPx } from '@ethereumjs/devp2p'
import { RLP } from '@ethereumjs/rlp'
import { createTxFromBlockBodyData } from '@ethereumjs/tx'
import {
  bigIntToBytes,
  bytesToBigInt,
  bytesToHex,
  equalsBytes,
  hexToBytes,
  intToBytes,
  utf8ToBytes,
} from '@ethereumjs/util'
import { keccak256 } from 'ethereum-cryptography/keccak.js'

import { buildChain, makeCommon, orderedTrieRoot, parseEnode, receiptTrieValue } from './chain.mjs'

const started = Date.now()
const log = (...args) => console.error(`+${Date.now() - started}ms [client]`, ...args)
const env = process.env

const remote = parseEnode(process.argv[2])
if (remote === null) {
  console.error('usage: node client.mjs enode://<128 hex>@host:port')
  process.stdout.write(`${JSON.stringify({ ok: false, error: 'malformed enode argument' })}\n`)
  process.exit(2)
}

const num = (value, fallback) => {
  const n = Number(value ?? fallback)
  if (!Number.isFinite(n) || n < 0) throw new Error(`bad number: ${value}`)
  return n
}
const CLIENT_TIMEOUT_MS = num(env.CLIENT_TIMEOUT_MS, 15000)
const REQUEST_TIMEOUT_MS = num(env.REQUEST_TIMEOUT_MS, 5000)
const MAX_HEADERS = num(env.MAX_HEADERS, 20000)
const MAX_BODIES = num(env.MAX_BODIES, 128)
const CHECK_RECEIPTS = env.CHECK_RECEIPTS !== '0'
const HARDFORK = env.HARDFORK ?? 'london'
const SERVE_LIMIT = 1024

let finished = false
const live = new Set()
function finish(result, code) {
  if (finished) return
  finished = true
  for (const r of live) {
    try {
      r.destroy()
    } catch {
      // already destroyed
    }
  }
  process.stdout.write(`${JSON.stringify({ ...result, elapsedMs: Date.now() - started })}\n`)
  // Give the Disconnect a moment to leave, then exit.
  setTimeout(() => process.exit(code), 50)
}
function fail(message) {
  log(`FAILED: ${message}`)
  finish({ ok: false, error: message }, 1)
}
setTimeout(() => fail(`overall timeout of ${CLIENT_TIMEOUT_MS} ms`), CLIENT_TIMEOUT_MS).unref()

class CheckError extends Error {}

/** A canonical RLP integer: 0 is the empty string (intToBytes(0) would give a non-canonical 0x00 byte). */
const uint = (n) => (n === 0 ? new Uint8Array() : intToBytes(n))
function check(condition, message) {
  if (!condition) throw new CheckError(message)
}

/**
 * Dials the remote with `common` and resolves { rlpx, peer, eth } once the Hello is done.
 * Any peer error or removal before `detach()` fails the run.
 */
function dial(common) {
  return new Promise((resolve, reject) => {
    const rlpx = new RLPx(randomBytes(32), {
      capabilities: [ETH.eth68],
      common,
      maxPeers: 1,
      clientId: utf8ToBytes('peertest-client/v10'),
    })
    live.add(rlpx)
    const state = { attached: true, onGone: reject }
    rlpx.events.on('peer:added', (peer) => {
      if (env.NODELAY !== '0') peer._socket.setNoDelay(true)
      const eth = peer.getProtocols().find((p) => p instanceof ETH)
      if (eth === undefined) {
        reject(new Error('the remote shares no eth/68 capability'))
        return
      }
      resolve({ rlpx, peer, eth, state })
    })
    rlpx.events.on('peer:removed', (_peer, reason, byUs) => {
      if (state.attached) {
        state.onGone(
          new Error(
            `peer removed (reason 0x${Number(reason ?? 0).toString(16)}, by ${byUs ? 'us' : 'them'})`,
          ),
        )
      }
    })
    rlpx.events.on('peer:error', (_peer, err) => {
      if (state.attached) state.onGone(new Error(`peer error: ${err?.message ?? err}`))
    })
    rlpx.events.on('error', (err) => reject(new Error(`rlpx error: ${err?.message ?? err}`)))
    rlpx
      .connect({ id: remote.id, address: remote.address, tcpPort: remote.tcpPort })
      .catch((err) => reject(new Error(`connect failed: ${err?.message ?? err}`)))
  })
}

/** Learns the remote Status with a throwaway connection that never sends its own Status. */
async function probeStatus() {
  const common = makeCommon({ chainId: Number(env.CHAIN_ID ?? 1337), hardfork: HARDFORK })
  common.setForkHashes(new Uint8Array(32))
  const { rlpx, eth, state } = await dial(common)
  const status = await new Promise((resolve, reject) => {
    state.onGone = reject
    const timer = setTimeout(() => reject(new Error('no Status from the remote in 5 s')), 5000)
    eth.events.on('message', (code, payload) => {
      if (code !== EthMessageCodes.STATUS) return
      clearTimeout(timer)
      resolve(payload)
    })
  })
  state.attached = false
  rlpx.destroy()
  live.delete(rlpx)
  check(Array.isArray(status) && status.length >= 6, 'remote Status is not a 6-element list')
  return {
    version: bytesToBigInt(status[0]),
    networkId: bytesToBigInt(status[1]),
    td: bytesToBigInt(status[2]),
    bestHash: status[3],
    genesisHash: status[4],
  }
}

async function main() {
  const remoteMode = env.GENESIS_FROM_STATUS === '1' || env.GENESIS_HASH !== undefined
  let common
  let genesisHash
  let local = null
  if (!remoteMode) {
    local = await buildChain()
    common = local.common
    genesisHash = hexToBytes(local.summary.genesisHash)
  } else {
    let chainId
    if (env.GENESIS_HASH !== undefined) {
      genesisHash = hexToBytes(env.GENESIS_HASH)
      chainId = Number(env.CHAIN_ID ?? 1337)
    } else {
      const probed = await probeStatus()
      log(
        `probe: remote eth/${probed.version} network ${probed.networkId} genesis ${bytesToHex(probed.genesisHash)}`,
      )
      genesisHash = probed.genesisHash
      chainId = Number(probed.networkId)
    }
    check(genesisHash.length === 32, 'genesis hash is not 32 bytes')
    common = makeCommon({ chainId, hardfork: HARDFORK })
    common.setForkHashes(genesisHash)
  }

  const { peer, eth, state } = await dial(common)
  const hello = peer.getHelloMessage()
  log(`hello ok: ${hello.clientId} p2p v${hello.protocolVersion}`)

  // Request/response routing by eth/66 request id.
  let nextId = 1
  const pending = new Map()
  const gone = new Promise((_, reject) => {
    state.onGone = reject
  })
  gone.catch(() => {})
  eth.events.on('message', (code, payload) => {
    if (code === EthMessageCodes.STATUS) return
    if (!Array.isArray(payload) || payload.length !== 2 || !(payload[0] instanceof Uint8Array)) {
      log(`ignoring malformed message 0x${code.toString(16)}`)
      return
    }
    const id = Number(bytesToBigInt(payload[0]))
    const waiter = pending.get(id)
    if (waiter === undefined) {
      log(`ignoring message 0x${code.toString(16)} with unknown request id ${id}`)
      return
    }
    pending.delete(id)
    waiter(code, payload[1])
  })
  const request = (code, replyCode, body) => {
    const id = nextId++
    const reply = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new CheckError(`request ${id} (0x${code.toString(16)}) timed out`))
      }, REQUEST_TIMEOUT_MS)
      pending.set(id, (gotCode, data) => {
        clearTimeout(timer)
        if (gotCode !== replyCode) {
          reject(new CheckError(`request ${id}: reply code 0x${gotCode.toString(16)}`))
        } else if (!Array.isArray(data)) {
          reject(new CheckError(`request ${id}: reply is not a list`))
        } else {
          resolve(data)
        }
      })
    })
    eth.sendMessage(code, [uint(id), body])
    return Promise.race([reply, gone])
  }
  const getHeaders = (origin, limit, skip, reverse) =>
    request(EthMessageCodes.GET_BLOCK_HEADERS, EthMessageCodes.BLOCK_HEADERS, [
      typeof origin === 'number' ? uint(origin) : origin,
      uint(limit),
      uint(skip),
      uint(reverse ? 1 : 0),
    ])
  const decodeHeader = (raw, what) => {
    check(Array.isArray(raw), `${what}: header is not a list`)
    try {
      return createBlockHeaderFromBytesArray(raw, { common })
    } catch (err) {
      throw new CheckError(`${what}: header does not decode: ${err.message}`)
    }
  }

  // Status: the library checks version, network id, genesis and fork id before emitting it.
  const remoteStatus = new Promise((resolve) => eth.events.once('status', resolve))
  eth.sendStatus({
    td: bigIntToBytes(1n),
    bestHash: genesisHash,
    genesisHash,
  })
  const status = await Promise.race([remoteStatus, gone])
  const remoteTd = bytesToBigInt(status.td)
  const bestHash = status.bestHash
  log(
    `status ok: network ${bytesToBigInt(status.chainId)} td ${remoteTd} best ${bytesToHex(bestHash)} fork ${bytesToHex(status.forkId[0])}`,
  )

  // The announced head.
  const headReply = await getHeaders(bestHash, 1, 0, false)
  check(headReply.length === 1, `head by hash: ${headReply.length} headers, want 1`)
  const head = decodeHeader(headReply[0], 'head')
  check(equalsBytes(head.hash(), bestHash), 'head header does not hash to the announced best hash')
  const headNumber = Number(head.number)
  if (local !== null) {
    check(headNumber === local.summary.head, `head ${headNumber}, want ${local.summary.head}`)
    check(remoteTd === BigInt(local.summary.td), `td ${remoteTd}, want ${local.summary.td}`)
  }

  // Headers 0..head by number.
  const last = Math.min(headNumber, MAX_HEADERS - 1)
  const headers = []
  while (headers.length <= last) {
    const from = headers.length
    const want = Math.min(SERVE_LIMIT, last - from + 1)
    const reply = await getHeaders(from, want, 0, false)
    check(reply.length === want, `headers from ${from}: ${reply.length}, want ${want}`)
    for (const raw of reply) {
      const n = headers.length
      const h = decodeHeader(raw, `header ${n}`)
      check(Number(h.number) === n, `header ${n} has number ${h.number}`)
      if (n === 0) {
        check(equalsBytes(h.hash(), genesisHash), 'header 0 does not hash to the genesis hash')
      } else {
        check(equalsBytes(h.parentHash, headers[n - 1].hash()), `header ${n}: parent link broken`)
      }
      if (local !== null) {
        check(equalsBytes(h.hash(), local.blocks[n].hash()), `header ${n}: hash differs from ours`)
      }
      headers.push(h)
    }
  }
  if (last === headNumber) {
    check(equalsBytes(headers[last].hash(), bestHash), 'the last header is not the head')
  }
  log(`headers ok: 0..${last} (${headers.length}) by number, parent-linked`)

  const hashOf = (n) => (n < headers.length ? headers[n].hash() : null)
  const checkWalk = (reply, numbers, what) => {
    check(reply.length === numbers.length, `${what}: ${reply.length} headers, want ${numbers.length}`)
    reply.forEach((raw, i) => {
      const h = decodeHeader(raw, what)
      check(Number(h.number) === numbers[i], `${what}: item ${i} is ${h.number}, want ${numbers[i]}`)
      const known = hashOf(numbers[i])
      if (known !== null) check(equalsBytes(h.hash(), known), `${what}: item ${i} hash differs`)
    })
  }

  // By hash, reverse, skip 9: head, head-10, ...
  const reverseWant = []
  for (let n = headNumber; n >= 0 && reverseWant.length < 5; n -= 10) reverseWant.push(n)
  checkWalk(await getHeaders(bestHash, 5, 9, true), reverseWant, 'by hash, reverse, skip 9')
  log(`reverse skip ok: ${reverseWant.join(', ')}`)

  // By number, forward, skip 2: 1, 4, 7, ...
  const forwardWant = []
  for (let n = 1; n <= headNumber && forwardWant.length < 5; n += 3) forwardWant.push(n)
  checkWalk(await getHeaders(1, 5, 2, false), forwardWant, 'by number, forward, skip 2')
  log(`forward skip ok: ${forwardWant.join(', ') || '(none)'}`)

  // By hash, forward: from block 1 (or the genesis), three headers.
  const hashStart = Math.min(1, headNumber)
  const hashWant = []
  for (let n = hashStart; n <= headNumber && hashWant.length < 3; n++) hashWant.push(n)
  checkWalk(await getHeaders(hashOf(hashStart), 3, 0, false), hashWant, 'by hash, forward')
  log(`by hash forward ok: ${hashWant.join(', ')}`)

  // Bodies of blocks 1..n, with an unknown hash appended that must be skipped.
  const bodyNumbers = []
  for (let n = 1; n <= Math.min(last, MAX_BODIES); n++) bodyNumbers.push(n)
  const bodyHashes = bodyNumbers.map((n) => headers[n].hash())
  let txCount = 0
  if (bodyNumbers.length > 0) {
    const bodies = await request(EthMessageCodes.GET_BLOCK_BODIES, EthMessageCodes.BLOCK_BODIES, [
      ...bodyHashes,
      keccak256(utf8ToBytes('no such block')),
    ])
    check(bodies.length === bodyNumbers.length, `bodies: ${bodies.length}, want ${bodyNumbers.length}`)
    for (const [i, body] of bodies.entries()) {
      const n = bodyNumbers[i]
      const header = headers[n]
      check(Array.isArray(body) && body.length >= 2, `body ${n}: not a [txs, ommers, ...] list`)
      const [rawTxs, ommers, withdrawals] = body
      check(Array.isArray(rawTxs) && Array.isArray(ommers), `body ${n}: bad shape`)
      let txs
      try {
        txs = rawTxs.map((raw) => createTxFromBlockBodyData(raw, { common }))
      } catch (err) {
        throw new CheckError(`body ${n}: transaction does not decode: ${err.message}`)
      }
      const root = await genTransactionsTrieRoot(txs)
      check(equalsBytes(root, header.transactionsTrie), `body ${n}: transaction root mismatch`)
      check(
        equalsBytes(keccak256(RLP.encode(ommers)), header.uncleHash),
        `body ${n}: ommers hash mismatch`,
      )
      ommers.forEach((raw, k) => decodeHeader(raw, `body ${n} ommer ${k}`))
      if (header.withdrawalsRoot !== undefined) {
        check(Array.isArray(withdrawals), `body ${n}: withdrawals missing`)
        const wroot = await orderedTrieRoot(withdrawals.map((w) => RLP.encode(w)))
        check(equalsBytes(wroot, header.withdrawalsRoot), `body ${n}: withdrawals root mismatch`)
      }
      if (local !== null) {
        check(
          txs.length === local.blocks[n].transactions.length,
          `body ${n}: ${txs.length} transactions, want ${local.blocks[n].transactions.length}`,
        )
      }
      txCount += txs.length
    }
    log(`bodies ok: ${bodies.length} bodies, ${txCount} transactions, roots match`)
  }

  // Receipts of the same blocks.
  let receiptCount = 0
  if (CHECK_RECEIPTS && bodyNumbers.length > 0) {
    const lists = await request(EthMessageCodes.GET_RECEIPTS, EthMessageCodes.RECEIPTS, bodyHashes)
    check(lists.length === bodyNumbers.length, `receipts: ${lists.length} lists, want ${bodyNumbers.length}`)
    for (const [i, list] of lists.entries()) {
      const n = bodyNumbers[i]
      check(Array.isArray(list), `receipts ${n}: not a list`)
      const root = await orderedTrieRoot(list.map(receiptTrieValue))
      check(equalsBytes(root, headers[n].receiptTrie), `receipts ${n}: receipt root mismatch`)
      receiptCount += list.length
    }
    log(`receipts ok: ${lists.length} lists, ${receiptCount} receipts, roots match`)
  }

  state.attached = false
  peer.disconnect(DISCONNECT_REASON.CLIENT_QUITTING)
  log(`ALL OK in ${Date.now() - started} ms`)
  finish(
    {
      ok: true,
      mode: local !== null ? 'peertest' : 'remote',
      remoteClient: hello.clientId,
      network: Number(bytesToBigInt(status.chainId)),
      genesisHash: bytesToHex(genesisHash),
      head: headNumber,
      headHash: bytesToHex(bestHash),
      td: remoteTd.toString(),
      forkHash: bytesToHex(status.forkId[0]),
      headers: headers.length,
      bodies: bodyNumbers.length,
      txs: txCount,
      receipts: receiptCount,
    },
    0,
  )
}

main().catch((err) => {
  if (!(err instanceof CheckError) && err?.stack) log(err.stack)
  fail(err instanceof Error ? err.message : String(err))
})
