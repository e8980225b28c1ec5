// The independent walker of tests/test_ipld.py: the npm @ipld codecs (from ipfs-car's install)
// decode each block and follow its links from the roots, each CID once, depth-first pre-order.
// stdin: {"roots": [cid], "blocks": {cid: base64}}; stdout: [cid reached, in order].
import * as dagPb from '@ipld/dag-pb'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import { CID } from 'multiformats/cid'

const CODECS = { [dagPb.code]: dagPb, [dagCbor.code]: dagCbor, [dagJson.code]: dagJson }
const RAW = 0x55, JSON_CODEC = 0x0200, CBOR = 0x51

function* linksOf (value) {
  const stack = [value]
  while (stack.length) {
    const v = stack.pop()
    const cid = CID.asCID(v)
    if (cid) { yield cid; continue }
    if (v instanceof Uint8Array || v === null || typeof v !== 'object') continue
    const kids = Array.isArray(v) ? v : Object.values(v)
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i])
  }
}

let input = ''
for await (const chunk of process.stdin) input += chunk
const { roots, blocks } = JSON.parse(input)
const seen = new Set(), out = []
const stack = roots.map(r => CID.parse(r)).reverse()
while (stack.length) {
  const cid = stack.pop()
  const key = cid.toString()
  if (seen.has(key)) continue
  seen.add(key)
  out.push(key)
  const bytes = cid.multihash.code === 0 ? cid.multihash.digest : Buffer.from(blocks[key], 'base64')
  if (cid.code === RAW || cid.code === JSON_CODEC || cid.code === CBOR) continue
  const codec = CODECS[cid.code]
  if (!codec) throw new Error(`no codec for ${key}`)
  const value = codec.decode(bytes)
  const kids = cid.code === dagPb.code ? value.Links.map(l => l.Hash) : [...linksOf(value)]
  for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i])
}
process.stdout.write(JSON.stringify(out))
