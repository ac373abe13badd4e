// The deterministic "peertest" chain shared by server.mjs and client.mjs, plus the chain
// configuration helpers the client uses when it talks to a peer serving another chain.
//
// Chain: chainId (= network id) 1337, every block-numbered hardfork up to London active at block 0
// (the DAO fork is left out: at block 0 it would force the "dao-hard-fork" extra data on blocks
// 0..9), PoW-style headers with difficulty 1, +12 s per block, the parent's gas limit, the base
// fee derived from the parent, coinbase 0x1111..11. Every 10th block carries 2 signed legacy
// transfers; receipts are the successful-transfer receipts (status 1, 21 000 gas each, no logs)
// and the header's receipt root and gas used match them.
//
// Environment: CHAIN_LEN (blocks on top of the genesis, default 100), GENESIS_EXTRA (genesis
// extra data, default "peertest genesis"), NEXT_FORK (a block number: schedules arrowGlacier
// there, which makes the fork id's `next` non-zero).

import { createBlock, createBlockHeader, genTransactionsTrieRoot } from '@ethereumjs/block'
import { Mainnet, createCustomCommon } from '@ethereumjs/common'
import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'
import { createLegacyTx } from '@ethereumjs/tx'
import { bytesToHex, hexToBytes, intToBytes, utf8ToBytes } from '@ethereumjs/util'

export const CHAIN_ID = 1337
export const GENESIS_TIMESTAMP = 1_700_000_000
export const GENESIS_GAS_LIMIT = 30_000_000
export const BLOCK_TIME = 12
export const TX_EVERY = 10
export const TXS_PER_BLOCK = 2
export const TX_GAS = 21_000
export const TX_KEY = hexToBytes('0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d')
export const TX_TO = `0x${'ab'.repeat(20)}`
export const COINBASE = `0x${'11'.repeat(20)}`
export const GAS_PRICE = 10_000_000_000n

/** Hardforks (in Mainnet order) whose activation is a block number; `dao` is skipped (see above). */
const BLOCK_FORKS = Mainnet.hardforks
  .filter((hf) => hf.timestamp === undefined && hf.block !== null && hf.name !== 'dao')
  .map((hf) => hf.name)
/** Hardforks activated by timestamp (Shanghai and later). */
const TIME_FORKS = Mainnet.hardforks.filter((hf) => hf.timestamp !== undefined).map((hf) => hf.name)

/**
 * A Common for a custom chain with every hardfork up to `hardfork` active at genesis.
 * `nextFork` (optional block number) schedules the hardfork that follows `hardfork` at that block.
 * Call `common.setForkHashes(genesisHash)` once the genesis is known.
 */
export function makeCommon({ chainId = CHAIN_ID, hardfork = 'london', nextFork } = {}) {
  const all = [...BLOCK_FORKS, ...TIME_FORKS]
  const target = all.indexOf(hardfork)
  if (target < 0) throw new Error(`unknown hardfork ${hardfork} (known: ${all.join(', ')})`)
  const hardforks = []
  for (const name of all.slice(0, target + 1)) {
    if (TIME_FORKS.includes(name)) hardforks.push({ name, block: null, timestamp: 0 })
    else hardforks.push({ name, block: 0 })
  }
  if (nextFork !== undefined && nextFork !== null) {
    const next = all[target + 1]
    if (next === undefined || TIME_FORKS.includes(next) || next === 'paris') {
      throw new Error(`no block-numbered hardfork follows ${hardfork}`)
    }
    hardforks.push({ name: next, block: Number(nextFork) })
  }
  return createCustomCommon(
    { name: 'peertest', chainId, networkId: chainId, hardforks },
    Mainnet,
    { hardfork },
  )
}

/** The receipt of a successful transfer with cumulative gas `cumulative`, in wire form. */
function transferReceipt(cumulative) {
  return [intToBytes(1), intToBytes(cumulative), new Uint8Array(256), []]
}

/** The root of the trie of `items` keyed by RLP(index); `items` are the trie values (bytes). */
export async function orderedTrieRoot(items) {
  const trie = new MerklePatriciaTrie()
  for (const [i, item] of items.entries()) {
    await trie.put(RLP.encode(i), item)
  }
  return trie.root()
}

/** The trie value of a receipt as it appears on the wire (typed: bytes; legacy: a list). */
export function receiptTrieValue(receipt) {
  return receipt instanceof Uint8Array ? receipt : RLP.encode(receipt)
}

/** The legacy transfers of block `n` (empty unless n is a multiple of TX_EVERY). */
function transfersOf(n, nonceStart, common) {
  const txs = []
  if (n === 0 || n % TX_EVERY !== 0) return txs
  for (let k = 0; k < TXS_PER_BLOCK; k++) {
    const tx = createLegacyTx(
      {
        nonce: nonceStart + k,
        gasPrice: GAS_PRICE,
        gasLimit: TX_GAS,
        to: TX_TO,
        value: BigInt(n * 1000 + k),
      },
      { common },
    ).sign(TX_KEY)
    txs.push(tx)
  }
  return txs
}

/**
 * Builds the chain. Returns { common, blocks, receipts, byHash, summary } where `blocks[i]` is
 * block number i, `receipts[i]` its receipts in wire form, `byHash` maps 0x-hex hash -> number.
 */
export async function buildChain({
  length = Number(process.env.CHAIN_LEN ?? 100),
  genesisExtra = process.env.GENESIS_EXTRA ?? 'peertest genesis',
  nextFork = process.env.NEXT_FORK,
} = {}) {
  if (!Number.isInteger(length) || length < 0) throw new Error(`bad CHAIN_LEN: ${length}`)
  const common = makeCommon({ nextFork })
  const emptyReceiptsRoot = await orderedTrieRoot([])
  const genesis = createBlock(
    {
      header: {
        number: 0,
        difficulty: 1,
        timestamp: GENESIS_TIMESTAMP,
        gasLimit: GENESIS_GAS_LIMIT,
        extraData: utf8ToBytes(genesisExtra),
        coinbase: COINBASE,
        receiptTrie: emptyReceiptsRoot,
      },
    },
    { common },
  )
  common.setForkHashes(genesis.hash())
  const blocks = [genesis]
  const receipts = [[]]
  let nonce = 0
  for (let n = 1; n <= length; n++) {
    const parent = blocks[n - 1].header
    const txs = transfersOf(n, nonce, common)
    nonce += txs.length
    const blockReceipts = txs.map((_, i) => transferReceipt((i + 1) * TX_GAS))
    const header = createBlockHeader(
      {
        parentHash: parent.hash(),
        number: n,
        difficulty: 1,
        timestamp: GENESIS_TIMESTAMP + n * BLOCK_TIME,
        gasLimit: parent.gasLimit,
        gasUsed: txs.length * TX_GAS,
        baseFeePerGas: parent.calcNextBaseFee(),
        coinbase: COINBASE,
        transactionsTrie: await genTransactionsTrieRoot(txs),
        receiptTrie: await orderedTrieRoot(blockReceipts.map(receiptTrieValue)),
      },
      { common },
    )
    blocks.push(createBlock({ header, transactions: txs }, { common }))
    receipts.push(blockReceipts)
  }
  const byHash = new Map(blocks.map((b, i) => [bytesToHex(b.hash()), i]))
  const head = blocks[blocks.length - 1]
  const summary = {
    chainId: CHAIN_ID,
    genesisHash: bytesToHex(genesis.hash()),
    head: blocks.length - 1,
    headHash: bytesToHex(head.hash()),
    // Difficulty 1 per block, genesis included.
    td: String(blocks.length),
    forkHash: common.forkHash(common.hardfork()),
    forkNext: Number(common.nextHardforkBlockOrTimestamp(common.hardfork()) ?? 0n),
  }
  return { common, blocks, receipts, byHash, summary }
}

/** Parses `enode://<128 hex>@host:port`; returns { id, address, tcpPort } or null. */
export function parseEnode(url) {
  const m = /^enode:\/\/([0-9a-fA-F]{128})@([^:@/?]+|\[[0-9a-fA-F:]+\]):(\d{1,5})(\?.*)?$/.exec(
    url ?? '',
  )
  if (m === null) return null
  const tcpPort = Number(m[3])
  if (tcpPort < 1 || tcpPort > 65535) return null
  const address = m[2].startsWith('[') ? m[2].slice(1, -1) : m[2]
  return { id: hexToBytes(`0x${m[1]}`), address, tcpPort }
}

/** The raw body of a block as sent in BlockBodies: the raw block without its header. */
export function rawBody(block) {
  return block.raw().slice(1)
}
