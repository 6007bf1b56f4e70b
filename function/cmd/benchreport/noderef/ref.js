// The Node.js reference for `make bench` (never deployed): the least a
// function can do for a scaling alarm, DescribeInstances then
// ModifyInstanceNetworkSpec through @alicloud/pop-core, one instance per
// iteration, against the emulator that function/e2e starts.
//
// Environment: ECS_ENDPOINT, ALIBABA_CLOUD_ACCESS_KEY_ID,
// ALIBABA_CLOUD_ACCESS_KEY_SECRET, ALIBABA_CLOUD_SECURITY_TOKEN,
// NODEREF_REGION (cn-hangzhou), NODEREF_INSTANCES (comma-separated IDs, one
// per timed iteration, each at its old bandwidth), NODEREF_WARM (an ID only
// described, before timing), NODEREF_WARMUP (how many warm-up Describes) and
// NODEREF_MBPS (the new bandwidth).
//
// It prints one JSON line: iterations, the process's CPU (process.cpuUsage:
// user and system, every thread) over the timed iterations only, in
// microseconds, and their wall time. Startup (loading the SDK, the client,
// warm-up) is excluded, as the function's measurement excludes its start.
'use strict';

const RPCClient = require('@alicloud/pop-core').RPCClient;
const crypto = require('crypto');

function env(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (fallback !== undefined) return fallback;
    throw new Error(`${name} is not set`);
  }
  return v;
}

async function main() {
  const region = env('NODEREF_REGION', 'cn-hangzhou');
  const ids = env('NODEREF_INSTANCES').split(',');
  const warmID = env('NODEREF_WARM', ids[0]);
  const warmup = Number(env('NODEREF_WARMUP', '32'));
  const mbps = Number(env('NODEREF_MBPS', '20'));
  const client = new RPCClient({
    accessKeyId: env('ALIBABA_CLOUD_ACCESS_KEY_ID'),
    accessKeySecret: env('ALIBABA_CLOUD_ACCESS_KEY_SECRET'),
    securityToken: process.env.ALIBABA_CLOUD_SECURITY_TOKEN || undefined,
    endpoint: env('ECS_ENDPOINT'),
    apiVersion: '2014-05-26',
  });
  const opts = { method: 'POST', timeout: 10000 };

  async function describe(id) {
    const res = await client.request('DescribeInstances',
      { RegionId: region, InstanceIds: JSON.stringify([id]) }, opts);
    const found = res.Instances && res.Instances.Instance;
    if (!found || found.length !== 1 || found[0].InstanceId !== id) {
      throw new Error(`DescribeInstances ${id}: ${JSON.stringify(res)}`);
    }
    return found[0];
  }

  for (let i = 0; i < warmup; i++) {
    await describe(warmID);
  }

  const wall = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for (const id of ids) {
    const inst = await describe(id);
    if (inst.InternetMaxBandwidthOut === mbps) {
      throw new Error(`${id} is already at ${mbps} Mbit/s`);
    }
    await client.request('ModifyInstanceNetworkSpec', {
      RegionId: region,
      InstanceId: id,
      InternetMaxBandwidthOut: mbps,
      ClientToken: crypto.randomUUID(),
    }, opts);
  }
  const used = process.cpuUsage(cpu);
  const wallNs = process.hrtime.bigint() - wall;
  process.stdout.write(JSON.stringify({
    iterations: ids.length,
    cpuUserMicros: used.user,
    cpuSystemMicros: used.system,
    wallMicros: Number(wallNs / 1000n),
    node: process.version,
    popCore: require('@alicloud/pop-core/package.json').version,
  }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`noderef: ${err.stack || err}\n`);
  process.exit(1);
});
