// Frame known-answer cross-check: the @ethereumjs/devp2p library's own RLPx frame code writes two
// frames with fixed secrets, and this script prints them as hex on one line. peerwire's test
// (tests/it/devp2p.rs) writes the same frames with p2p-rlpx and compares the bytes.
//
// Secrets: aes = mac = keccak256(""); the egress MAC is primed with "peerwire-kat-egress".
// Frames: code 0x08 with payload rlp([1, 2, 3, 4]), then code 0x22 with payload "peerwire";
// the first byte of each frame body is the RLP-encoded message code, as RLPx writes it.
// The frame internals are not in the package's exports, so they are imported by path.
import * as crypto from 'node:crypto'
import { ECIES } from '../node_modules/@ethereumjs/devp2p/dist/esm/rlpx/ecies.js'
import { MAC } from '../node_modules/@ethereumjs/devp2p/dist/esm/rlpx/mac.js'
import { keccak256 } from 'ethereum-cryptography/keccak.js'

const secret = keccak256(new Uint8Array())
const ecies = new ECIES(new Uint8Array(32).fill(1), new Uint8Array(64), new Uint8Array(64))
ecies._egressAes = crypto.createCipheriv('aes-256-ctr', secret, new Uint8Array(16))
ecies._egressMac = new MAC(secret)
ecies._egressMac.update(new TextEncoder().encode('peerwire-kat-egress'))

const frames = [
  Uint8Array.from([0x08, 0xc4, 1, 2, 3, 4]),
  Uint8Array.from([0x22, ...new TextEncoder().encode('peerwire')]),
]
const parts = []
for (const body of frames) {
  parts.push(ecies.createBlockHeader(body.length), ecies.createBody(body))
}
console.log(Buffer.concat(parts.map((p) => Buffer.from(p))).toString('hex'))
