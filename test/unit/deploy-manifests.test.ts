/**
 * The cluster deployment files in deploy/compose and deploy/kubernetes agree with the server they
 * run. No Docker or Kubernetes runs here, so they are parsed and checked against src/config.ts:
 * every STROM_* variable names a real setting, container ports are the configured defaults,
 * probes hit /readyz and /healthz on the HTTP port, the stop grace period exceeds `strom serve`'s
 * stop watchdog, the disruption budget and autoscaler select the Deployment, and the autoscaler's
 * pod metric is one Strom exports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { envName, resolveConfig, settings } from '../../src/config.js';
import { Registry } from 'prom-client';
import { StromMetrics } from '../../src/observability/metrics.js';
import { ForecastService } from '../../src/observability/forecast/forecast-service.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const defaults = resolveConfig({});
const ENV = new Set(settings.map((s) => envName(s.key)));
/** Variables the files may set that are not settings: the config file path and Node's own. */
const NOT_SETTINGS = new Set(['STROM_CONFIG', 'NODE_ENV']);

/** `strom serve`'s stop watchdog in seconds, read from its source so the two cannot drift. */
function watchdogS(): number {
  const src = readFileSync(path.join(root, 'src/cli/serve.ts'), 'utf8');
  const m = /limitMs = config\.timeouts\.shutdownMs \* (\d+) \+ ([\d_]+);/.exec(src);
  assert.ok(m, 'src/cli/serve.ts: the stop watchdog formula changed; update deploy/ and this test');
  return (defaults.timeouts.shutdownMs * Number(m[1]) + Number(m[2]!.replace(/_/g, ''))) / 1000;
}

function assertSettings(names: Iterable<string>, where: string): void {
  for (const n of names) {
    if (!n.startsWith('STROM_') || NOT_SETTINGS.has(n)) continue;
    assert.ok(ENV.has(n), `${where}: ${n} is not a Strom setting (docs/CONFIGURATION.md)`);
  }
}

type Obj = Record<string, unknown>;
const obj = (v: unknown, what: string): Obj => {
  assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `${what} is not a mapping`);
  return v as Obj;
};
const list = (v: unknown, what: string): unknown[] => {
  assert.ok(Array.isArray(v), `${what} is not a list`);
  return v;
};

test('compose: three Strom nodes on PostgreSQL, Redis and S3, real settings, defaults ports, long enough stop', () => {
  const doc = obj(parse(readFileSync(path.join(root, 'deploy/compose/docker-compose.yml'), 'utf8'), { merge: true }), 'compose');
  const services = obj(doc.services, 'services');
  const nodes = Object.keys(services).filter((n) => /^strom\d$/.test(n));
  assert.deepEqual(nodes, ['strom1', 'strom2', 'strom3']);
  for (const name of ['postgres', 'redis', 'minio']) assert.ok(services[name], `compose has ${name}`);
  const ids = new Set<string>();
  for (const n of nodes) {
    const s = obj(services[n], n);
    const env = obj(s.environment, `${n}.environment`);
    assertSettings(Object.keys(env), `compose ${n}`);
    assert.match(String(env.STROM_STORE_URL), /^postgres:\/\/.*@postgres:5432\//, `${n} uses the compose PostgreSQL`);
    assert.match(String(env.STROM_CLUSTER_REDIS_URL), /^redis:\/\/redis:6379/, `${n} uses the compose Redis`);
    assert.equal(env.STROM_STORAGE_KIND, 's3');
    assert.equal(env.STROM_STORAGE_S3_ENDPOINT, 'http://minio:9000');
    assert.equal(env.STROM_CLUSTER_ADVERTISE_URL, `http://${n}:${defaults.port}`, `${n} advertises its own address`);
    ids.add(String(env.STROM_CLUSTER_NODE_ID));
    // The settings as the node would load them are valid (secret long enough, URLs well formed).
    const raw = Object.fromEntries(Object.entries(env).filter(([k]) => ENV.has(k)).map(([k, v]) => [settings.find((x) => envName(x.key) === k)!.key, String(v)]));
    const c = resolveConfig(raw);
    assert.equal(c.cluster.nodeId, n);
    assert.match(String(s.stop_grace_period), /^\d+s$/);
    assert.ok(Number.parseInt(String(s.stop_grace_period), 10) > watchdogS(), `${n}: stop_grace_period above the ${watchdogS()} s watchdog`);
    const rtmp = list(s.ports, `${n}.ports`).map(String);
    assert.ok(rtmp.some((p) => p.endsWith(`:${defaults.rtmp.port}`)), `${n} publishes the RTMP port ${defaults.rtmp.port}`);
  }
  assert.equal(ids.size, 3, 'each node has its own cluster.nodeId');
  const nginx = readFileSync(path.join(root, 'deploy/compose/nginx.conf'), 'utf8');
  for (const n of nodes) assert.match(nginx, new RegExp(`server ${n}:${defaults.port};`), `the load balancer reaches ${n}`);
  assert.doesNotMatch(nginx, /ip_hash|sticky|hash \$/, 'no session affinity');
});

/** prometheus-adapter's own configuration (not a Kubernetes object), checked on its own below. */
const ADAPTER_RULES = 'prometheus-adapter-rules.yaml';

/** Every Kubernetes document in deploy/kubernetes, by kind. */
function kubernetes(): Map<string, Obj> {
  const dir = path.join(root, 'deploy/kubernetes');
  const out = new Map<string, Obj>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml') && x !== ADAPTER_RULES)) {
    for (const d of parseAllDocuments(readFileSync(path.join(dir, f), 'utf8'))) {
      assert.equal(d.errors.length, 0, `${f}: ${d.errors.join('; ')}`);
      const o = obj(d.toJS(), f);
      assert.ok(!out.has(String(o.kind)), `one ${String(o.kind)} only`);
      out.set(String(o.kind), o);
    }
  }
  return out;
}

test('kubernetes: Deployment probes, ports, env and grace period match the server', () => {
  const k = kubernetes();
  for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'ConfigMap', 'Secret']) assert.ok(k.has(kind), `a ${kind}`);
  const dep = obj(k.get('Deployment'), 'Deployment');
  const pod = obj(obj(obj(dep.spec, 'spec').template, 'template').spec, 'pod spec');
  assert.ok(Number(pod.terminationGracePeriodSeconds) > watchdogS(), `grace period above the ${watchdogS()} s watchdog`);
  const [c] = list(pod.containers, 'containers').map((x) => obj(x, 'container'));
  const ports = new Map(list(c!.ports, 'ports').map((p) => [String(obj(p, 'port').name), Number(obj(p, 'port').containerPort)]));
  assert.equal(ports.get('http'), defaults.port);
  assert.equal(ports.get('rtmp'), defaults.rtmp.port);
  const probe = (name: string) => obj(obj(c![name], name).httpGet, `${name}.httpGet`);
  assert.deepEqual(probe('readinessProbe'), { path: '/readyz', port: 'http' });
  assert.deepEqual(probe('livenessProbe'), { path: '/healthz', port: 'http' });
  // Environment: inline variables plus the ConfigMap's and Secret's keys are all real settings.
  const inline = list(c!.env, 'env').map((e) => String(obj(e, 'env').name));
  assertSettings(inline, 'Deployment env');
  assertSettings(Object.keys(obj(k.get('ConfigMap')!.data, 'ConfigMap.data')), 'ConfigMap');
  assertSettings(Object.keys(obj(k.get('Secret')!.stringData, 'Secret.stringData')), 'Secret');
  const refs = list(c!.envFrom, 'envFrom').map((e) => obj(e, 'envFrom'));
  assert.ok(refs.some((r) => obj(r.configMapRef ?? {}, 'ref').name === obj(k.get('ConfigMap')!.metadata, 'md').name), 'the ConfigMap is loaded');
  assert.ok(refs.some((r) => obj(r.secretRef ?? {}, 'ref').name === obj(k.get('Secret')!.metadata, 'md').name), 'the Secret is loaded');
  for (const name of ['STROM_STORE_URL', 'STROM_CLUSTER_REDIS_URL', 'STROM_CLUSTER_SECRET', 'STROM_AUTH_JWT_SECRET']) {
    assert.ok(name in obj(k.get('Secret')!.stringData, 'Secret'), `${name} comes from the Secret`);
  }
  assert.ok(inline.includes('STROM_CLUSTER_ADVERTISE_URL') && inline.includes('STROM_CLUSTER_NODE_ID'), 'each pod advertises its own address and id');
});

test('kubernetes: the Service, budget and autoscaler select the Deployment; the viewer metric exists', () => {
  const k = kubernetes();
  const dep = obj(k.get('Deployment'), 'Deployment');
  const labels = obj(obj(obj(obj(dep.spec, 'spec').template, 't').metadata, 'md').labels, 'labels');
  const selects = (sel: Obj) => Object.entries(sel).every(([key, v]) => labels[key] === v);
  const svc = obj(k.get('Service')!.spec, 'Service.spec');
  assert.ok(selects(obj(svc.selector, 'selector')), 'Service selects the pods');
  assert.notEqual(svc.sessionAffinity, 'ClientIP', 'no session affinity');
  const targets = list(svc.ports, 'ports').map((p) => String(obj(p, 'p').targetPort));
  assert.deepEqual(targets.sort(), ['http', 'rtmp']);
  const pdb = obj(k.get('PodDisruptionBudget')!.spec, 'pdb');
  assert.ok(selects(obj(obj(pdb.selector, 's').matchLabels, 'ml')), 'the budget selects the pods');
  const hpa = obj(k.get('HorizontalPodAutoscaler')!.spec, 'hpa');
  const ref = obj(hpa.scaleTargetRef, 'scaleTargetRef');
  assert.equal(ref.kind, 'Deployment');
  assert.equal(ref.name, obj(dep.metadata, 'md').name);
  const metrics = list(hpa.metrics, 'metrics').map((m) => obj(m, 'metric'));
  assert.ok(metrics.some((m) => m.type === 'Resource' && obj(m.resource, 'r').name === 'cpu'), 'scales on CPU');
  const podMetric = metrics.find((m) => m.type === 'Pods');
  assert.ok(podMetric, 'scales on a per-pod metric');
  const name = String(obj(obj(podMetric.pods, 'pods').metric, 'metric').name);
  const declared = new StromMetrics({ defaultMetrics: false }).registry.getMetricsAsArray().map((m) => m.name);
  assert.ok(declared.includes(name), `${name} is a metric Strom exports`);
});

test('kubernetes: the autoscaler\'s External metric is the adapter\'s name for the 5-minute cluster forecast Strom exports', () => {
  const rules = list(obj(parse(readFileSync(path.join(root, 'deploy/kubernetes', ADAPTER_RULES), 'utf8')), ADAPTER_RULES).externalRules, 'externalRules').map((r) => obj(r, 'rule'));
  const hpa = obj(kubernetes().get('HorizontalPodAutoscaler')!.spec, 'hpa');
  const external = list(hpa.metrics, 'metrics').map((m) => obj(m, 'metric')).find((m) => m.type === 'External');
  assert.ok(external, 'scales on an External metric');
  const name = String(obj(obj(external.external, 'external').metric, 'metric').name);
  const rule = rules.find((r) => obj(r.name, 'name').as === name);
  assert.ok(rule, `an external rule names ${name}`);
  const registry = new Registry();
  new ForecastService(defaults.forecast, { exposition: async () => '', scheduled: async () => [], streamViewers: () => new Map() }).register(registry);
  const exported = registry.getMetricsAsArray().map((m) => m.name);
  const series = /^(\w+)\{/.exec(String(rule.seriesQuery));
  assert.ok(series && exported.includes(series[1]!), `${String(rule.seriesQuery)} names a metric Strom exports (${exported.join(', ')})`);
  // One value for the service: the cluster scope at the 5-minute horizon, max over pods (each exports the same figure).
  assert.match(String(rule.metricsQuery), /^max\(strom_forecast_viewers\{horizon="5m",scope="cluster",/);
});
