/**
 * Serves one fake cloud (tests/drivers/_cloud_fakes.ts) as its own process,
 * for benchmarks whose nodes live in network namespaces: run it inside a
 * client namespace. Prints the base URL on stdout, then serves until killed.
 *
 * Usage: deno run --allow-net _fake_cloud_main.ts PROVIDER HOST SELF_ID
 */
import { FakeCloud, type ProviderName } from "../drivers/_cloud_fakes.ts";

const [provider = "digitalocean", host = "127.0.0.1", selfId = "1"] = Deno.args;
const cloud = new FakeCloud(provider as ProviderName, { host, selfId });
console.log(cloud.apiUrl);
