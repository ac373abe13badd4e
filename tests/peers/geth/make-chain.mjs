// Feeds a `geth --dev --dev.period 0` node with real transactions over its JSON-RPC, so that the chain it
// mines has non-trivial bodies, receipts, blooms and withdrawals: every transaction type geth accepts (legacy,
// EIP-2930 access list, EIP-1559 dynamic fee, EIP-4844 blob, EIP-7702 set code) and contract calls that emit
// logs. The dev account is unlocked, so geth signs most transactions itself. Geth's keystore refuses to sign
// blob transactions, so for those geth fills in the transaction and computes the sidecar
// (`eth_fillTransaction`), and this script signs it with the developer key that geth's dev mode
// imports (a fixed, public test key) and sends the network form with `eth_sendRawTransaction`.
// The EIP-7702 authorizations are signed here with fixed keys.
//
// Usage: node make-chain.mjs HTTP_URL ROUNDS
// Prints one JSON line: {"head":N,"hash":"0x…","types":{"0x0":n,…},"logs":n,"withdrawals":n}.

import { RLP } from '@ethereumjs/rlp'
import {
  bigIntToUnpaddedBytes, bytesToHex, concatBytes, eoaCode7702AuthorizationListBytesItemToJSON,
  eoaCode7702SignAuthorization, hexToBytes, privateToAddress,
} from '@ethereumjs/util'
import { keccak256 } from 'ethereum-cryptography/keccak.js'
import { secp256k1 } from 'ethereum-cryptography/secp256k1.js'

// The key geth's `--dev` mode imports as its developer account (public; test networks only).
const DEV_KEY = hexToBytes('0xb71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291')

const [url, roundsArg] = process.argv.slice(2)
const rounds = Number(roundsArg ?? 24)
let nextId = 1

async function rpc(method, params = []) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
  })
  const reply = await response.json()
  if (reply.error) throw new Error(`${method}: ${reply.error.message}`)
  return reply.result
}

const hex = (n) => '0x' + BigInt(n).toString(16)

// Polls for a receipt. A node that has just started may answer "transaction indexing is in progress" for a
// while: that is "not yet", like a null receipt.
async function receipt(hash) {
  for (let i = 0; i < 1200; i++) {
    try {
      const r = await rpc('eth_getTransactionReceipt', [hash])
      if (r) return r
    } catch (error) {
      if (!String(error.message).includes('indexing is in progress')) throw error
    }
    await new Promise((ok) => setTimeout(ok, 25))
  }
  throw new Error(`transaction ${hash} was not mined`)
}

// A contract whose every call copies its calldata into memory and emits it as LOG2 with topics
// (a fixed topic, the caller).
const topic = 'ab'.repeat(32)
// CALLER; PUSH32 topic; CALLDATACOPY(0, 0, CALLDATASIZE); LOG2(0, CALLDATASIZE, topic, caller); STOP.
// (CALLDATACOPY takes destOffset, offset, size from the top: push size, offset, destOffset.)
const fixed = '33' + '7f' + topic + '36' + '6000' + '6000' + '37' + '36' + '6000' + 'a2' + '00'
const len = fixed.length / 2
const init = '60' + len.toString(16).padStart(2, '0') + '600c' + '6000' + '39' + '60' + len.toString(16).padStart(2, '0') + '6000' + 'f3'
if (init.length / 2 !== 12) throw new Error('init code must be 12 bytes')

const [dev] = await rpc('eth_accounts')
const chainId = BigInt(await rpc('eth_chainId'))
const counts = {}
let logs = 0
let withdrawals = 0

// After a blob transaction is mined, geth's blob pool keeps the sender's address reserved until its pool
// reset, which runs after the block: a transaction sent in between gets "address already reserved" (and
// the other way round). That is "not yet": send again shortly.
async function submit(tx) {
  for (let i = 0; ; i++) {
    try {
      return tx.blobs ? await sendBlob(tx) : await rpc('eth_sendTransaction', [{ from: dev, ...tx }])
    } catch (error) {
      if (i >= 400 || !String(error.message).includes('address already reserved')) throw error
      await new Promise((ok) => setTimeout(ok, 25))
    }
  }
}

async function send(tx) {
  const hash = await submit(tx)
  const r = await receipt(hash)
  if (r.status !== '0x1') throw new Error(`transaction ${hash} failed`)
  counts[r.type] = (counts[r.type] ?? 0) + 1
  logs += r.logs.length
  return r
}

// A blob transaction: geth fills it in and builds the sidecar, we sign the body and keep geth's sidecar.
async function sendBlob(tx) {
  const { raw } = await rpc('eth_fillTransaction', [{ from: dev, ...tx }])
  const bytes = hexToBytes(raw)
  if (bytes[0] !== 3) throw new Error('eth_fillTransaction did not return a blob transaction')
  const [body, ...sidecar] = RLP.decode(bytes.subarray(1))
  const unsigned = body.slice(0, 11)
  const digest = keccak256(concatBytes(Uint8Array.of(3), RLP.encode(unsigned)))
  const sig = secp256k1.sign(digest, DEV_KEY)
  const signed = [...unsigned, bigIntToUnpaddedBytes(BigInt(sig.recovery)), bigIntToUnpaddedBytes(sig.r), bigIntToUnpaddedBytes(sig.s)]
  return rpc('eth_sendRawTransaction', [bytesToHex(concatBytes(Uint8Array.of(3), RLP.encode([signed, ...sidecar])))])
}

const deployed = await send({ data: '0x' + init + fixed, gas: hex(200_000) })
const contract = deployed.contractAddress

// Fixed keys for the EIP-7702 authorities (never funded on any real network).
const authorities = [1, 2, 3].map((i) => hexToBytes('0x' + i.toString(16).padStart(64, '0').replace(/^00/, '5a')))
const blob = '0x' + '00'.repeat(131072)

for (let round = 0; round < rounds; round++) {
  // A queued withdrawal goes into the next block the node mines, so queue it before this round's transactions:
  // nothing is left queued after the last round, and the head printed below is the head that `geth export` writes.
  if (round % 5 === 2) {
    await rpc('dev_addWithdrawal', [{ index: hex(withdrawals), validatorIndex: hex(round), address: '0x' + (0x10000 + round).toString(16).padStart(40, '0'), amount: hex(1_000_000 + round) }])
    withdrawals++
  }
  const data = '0x' + round.toString(16).padStart(8, '0') + 'cafe'.repeat(round % 5)
  const other = '0x' + (0x10000 + round).toString(16).padStart(40, '0') // not a precompile
  await send({ to: other, value: hex(1000 + round), gasPrice: hex(2_000_000_000) })
  await send({
    to: contract, data, gasPrice: hex(2_000_000_000), gas: hex(100_000),
    accessList: [{ address: contract, storageKeys: ['0x' + '00'.repeat(31) + '01'] }],
  })
  await send({ to: contract, data, maxFeePerGas: hex(3_000_000_000), maxPriorityFeePerGas: hex(1_000_000_000), gas: hex(100_000) })
  if (round % 3 === 0) {
    const blobs = [blob.slice(0, -2) + (round % 256).toString(16).padStart(2, '0')]
    await send({ to: other, blobs, maxFeePerBlobGas: hex(10_000_000_000), maxFeePerGas: hex(3_000_000_000), maxPriorityFeePerGas: hex(1_000_000_000), gas: hex(21_000) })
  }
  if (round % 4 === 1) {
    const key = authorities[round % authorities.length]
    const authority = bytesToHex(privateToAddress(key))
    const nonce = BigInt(await rpc('eth_getTransactionCount', [authority, 'pending']))
    const signed = eoaCode7702SignAuthorization({ chainId: hex(chainId), address: contract, nonce: hex(nonce) }, key)
    const json = eoaCode7702AuthorizationListBytesItemToJSON(signed)
    const quantity = (h) => hex(h === '0x' ? 0 : BigInt(h))
    const item = { ...json, chainId: quantity(json.chainId), nonce: quantity(json.nonce), yParity: quantity(json.yParity), r: quantity(json.r), s: quantity(json.s) }
    await send({ to: authority, data, authorizationList: [item], maxFeePerGas: hex(3_000_000_000), maxPriorityFeePerGas: hex(1_000_000_000), gas: hex(200_000) })
  }
}
const head = await rpc('eth_getBlockByNumber', ['latest', false])
console.log(JSON.stringify({ head: Number(head.number), hash: head.hash, types: counts, logs, withdrawals }))
