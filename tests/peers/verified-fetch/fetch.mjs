// @helia/verified-fetch over an HTTP-only Helia whose one source of blocks is the gateway given:
//   node fetch.mjs GATEWAY_URL SECONDS ipfs://CID/path [...]
// Prints one JSON line per URL: {url, status, type, size, sha256} or {url, error}. verified-fetch
// hashes every block it gets against its CID, so a gateway that corrupts one makes the fetch fail
// (it then waits for a provider that never comes: after SECONDS the URL is reported as an error).
// No default routers, gateways, DNS resolvers or libp2p: only GATEWAY_URL is ever contacted.
import { createHash } from 'node:crypto'
import { withHTTP } from '@helia/http'
import { createVerifiedFetchWithHelia } from '@helia/verified-fetch'
import { createHeliaLight } from 'helia'

const [gateway, seconds, ...urls] = process.argv.slice(2)
const helia = withHTTP(createHeliaLight({}), {
  delegatedRouters: [], recursiveGateways: [gateway], allowInsecure: true, allowLocal: true
})
// Helia's routing waits for a non-fallback router before it asks the fallback one (the gateway):
// one that knows no providers and says so at once.
helia.routing.addRouter({ name: 'none', async * findProviders () {}, toString: () => 'none' })
await helia.start()
const fetch = await createVerifiedFetchWithHelia(helia)
async function one (url) {
  const resp = await fetch(url)
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of resp.body ?? []) { hash.update(chunk); size += chunk.length }
  return { url, status: resp.status, type: resp.headers.get('content-type'), size, sha256: hash.digest('hex') }
}
for (const url of urls) {
  let timer
  const timeout = new Promise((resolve, reject) => {   // a referenced timer: keeps Node waiting
    timer = setTimeout(() => reject(new Error(`no verified answer within ${seconds} s`)), Number(seconds) * 1000)
  })
  try {
    console.log(JSON.stringify(await Promise.race([one(url), timeout])))
  } catch (err) {
    console.log(JSON.stringify({ url, error: `${err.name}: ${err.message}` }))
  } finally {
    clearTimeout(timer)
  }
}
await Promise.race([helia.stop(), new Promise(resolve => setTimeout(resolve, 5000))])
process.exit(0)
