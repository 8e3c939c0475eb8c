/**
 * The operators' dashboard (deploy/grafana/strom.json) and alert rules (deploy/prometheus/alerts.yml)
 * query only metrics Strom really exports: a real server (with a delivery worker, so the worker
 * metrics are registered) answers a few requests, `/metrics` is scraped, and every metric name in
 * every dashboard expression, template query and alert expression must be a `# TYPE` name of the
 * exposition (`_bucket`/`_sum`/`_count` of a histogram). The cluster panels' metrics exist only in
 * cluster mode, so a second node on a private Redis is scraped too. Renaming a metric fails here. The files'
 * shape (Grafana import inputs and variables, rule fields and severities) is checked too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// `yaml` comes with @fastify/swagger (a runtime dependency), so it is always installed.
import { parse as parseYaml } from 'yaml';
import { startApi } from '../helpers/api-server.js';
import { startNode } from '../helpers/cluster.js';
import { startRedis } from '../helpers/redis.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DASHBOARD = path.join(root, 'deploy', 'grafana', 'strom.json');
const ALERTS = path.join(root, 'deploy', 'prometheus', 'alerts.yml');

/** Series Prometheus itself adds to every target; not in Strom's exposition. */
const PROMETHEUS_SERIES = new Set(['up']);
/** PromQL functions and aggregation operators the files may call. */
const FUNCTIONS = new Set([
  'abs', 'absent', 'absent_over_time', 'avg', 'avg_over_time', 'bottomk', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min',
  'count', 'count_over_time', 'delta', 'deriv', 'floor', 'group', 'histogram_quantile', 'idelta', 'increase', 'irate',
  'label_replace', 'last_over_time', 'max', 'max_over_time', 'min', 'min_over_time', 'predict_linear', 'quantile',
  'quantile_over_time', 'rate', 'resets', 'round', 'scalar', 'sort', 'sort_desc', 'stddev', 'sum', 'sum_over_time',
  'time', 'timestamp', 'topk', 'vector',
]);
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless']);

/** Metric names a PromQL expression (possibly with Grafana `$variables`) reads. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values and other strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery windows
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\$\{?\w+\}?/g, ' '); // Grafana variables
  assert.doesNotMatch(stripped, /\boffset\b/, `offset is not understood by this check: ${expr}`);
  const names: string[] = [];
  for (const m of stripped.matchAll(/(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[1] !== undefined) continue; // a number
    const id = m[2]!;
    if (m[3] !== undefined) {
      assert.ok(FUNCTIONS.has(id), `unknown PromQL function ${id}( in: ${expr}`);
      continue;
    }
    if (!KEYWORDS.has(id)) names.push(id);
  }
  return names;
}

/** `# TYPE` names and types of a text exposition. */
function declaredTypes(exposition: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of exposition.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/gm)) types.set(m[1]!, m[2]!);
  return types;
}

/** Whether a name used in a query is a series of a declared metric. */
function exported(name: string, types: Map<string, string>): boolean {
  if (types.has(name) || PROMETHEUS_SERIES.has(name)) return true;
  const m = /^(.+)_(bucket|sum|count)$/.exec(name);
  if (!m) return false;
  const t = types.get(m[1]!);
  return t === 'histogram' || (t === 'summary' && m[2] !== 'bucket');
}

/** Every string value under `key` anywhere in a JSON value. */
function collect(node: unknown, key: string, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const v of node) collect(v, key, out);
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === key && typeof v === 'string') out.push(v);
      else collect(v, key, out);
    }
  }
  return out;
}

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; datasource?: { uid: string } }>;
  panels?: Panel[];
}
interface Dashboard {
  __inputs: Array<{ name: string; type: string; pluginId: string }>;
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; datasource: { uid: string }; definition: string; query: { query: string } }> };
}
interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const alerts = parseYaml(readFileSync(ALERTS, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };
const rules = alerts.groups.flatMap((g) => g.rules);

/** `metric` names of Grafana `label_values(metric{…}, label)` variable queries. */
function variableMetrics(): Array<{ where: string; expr: string }> {
  return dashboard.templating.list.filter((v) => v.type === 'query').map((v) => {
    const m = /^label_values\((.+),\s*\w+\)$/.exec(v.query.query);
    assert.ok(m, `variable ${v.name}: expected label_values(metric, label), got ${v.query.query}`);
    assert.equal(v.definition, v.query.query);
    return { where: `variable ${v.name}`, expr: m[1]! };
  });
}

test('the metric name extraction sees through functions, matchers, windows and label lists', () => {
  assert.deepEqual(
    metricNames('histogram_quantile(0.99, sum by (le, group) (rate(a_bucket{group=~"media|api", job=~"$job"}[$__rate_interval]))) > 1 and on(instance) b_total offset_x'),
    ['a_bucket', 'b_total', 'offset_x'],
  );
  assert.deepEqual(metricNames('(sum(x{status="5xx"}) or vector(0)) / sum(y) + 8 * z == 0'), ['x', 'y', 'z']);
  assert.throws(() => metricNames('frobnicate(x)'), /unknown PromQL function/);
});

test('every metric in the Grafana dashboard and the alert rules is exported by Strom', async (t) => {
  const api = await startApi(t, { 'delivery.workers': 1 });
  // A published asset (no ffmpeg needed) so media requests, bytes and the hot cache move.
  const dir = path.join(api.dataDir, 'assets', 'deployAsset1', 'v1');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(api.dataDir, 'assets', 'deployAsset1', 'master.m3u8'), '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000\nv1/index.m3u8\n');
  writeFileSync(path.join(dir, 'seg_00001.m4s'), Buffer.alloc(32 * 1024, 3));
  for (let i = 0; i < 2; i++) assert.equal((await fetch(`${api.url}/v/deployAsset1/v1/seg_00001.m4s`)).status, 200);
  assert.equal((await fetch(`${api.url}/v/deployAsset1/v1/nope.m4s`)).status, 404);
  assert.equal((await fetch(`${api.url}/healthz`)).status, 200);
  const ready = await fetch(`${api.url}/readyz`);
  const readyBody = (await ready.json()) as { checks: Record<string, string> };
  assert.equal((await fetch(`${api.url}/api/v1/videos`)).status, 401);

  const res = await fetch(`${api.url}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const types = declaredTypes(text);
  // Cluster mode registers the cluster sync and relay metrics.
  const redis = await startRedis();
  const clusterNode = await startNode(t, redis.url, 'deploy-metrics-node');
  for (const [name, type] of declaredTypes(await (await fetch(`${clusterNode.url}/metrics`)).text())) types.set(name, type);
  assert.equal(types.get('strom_http_request_duration_seconds'), 'histogram');
  assert.ok(types.has('strom_delivery_worker_restarts_total'), 'delivery worker metrics registered (delivery.workers=1)');
  assert.match(text, /^strom_http_request_duration_seconds_bucket\{le="[^"]+",group="media",status="2xx"\} \d+$/m, 'the histogram has samples');

  // strom_ready: one series per /readyz check, 1 when the check passes.
  const readySeries = new Map([...text.matchAll(/^strom_ready\{check="(\w+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
  assert.deepEqual([...readySeries.keys()].sort(), Object.keys(readyBody.checks).sort(), 'strom_ready has the checks of /readyz');
  assert.equal(readySeries.get('storage'), 1);
  assert.equal(readySeries.get('database'), 1);
  assert.equal(readySeries.get('http'), 1);

  const uses: Array<{ where: string; expr: string }> = [...variableMetrics()];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      if (p.panels) walk(p.panels);
      if (p.type === 'row') continue;
      assert.ok(p.targets && p.targets.length > 0, `panel "${p.title}" has queries`);
      for (const q of p.targets) uses.push({ where: `panel "${p.title}"`, expr: q.expr });
    }
  };
  walk(dashboard.panels);
  assert.equal(collect(dashboard, 'expr').length, uses.length - variableMetrics().length, 'every expr of the dashboard is checked');
  for (const r of rules) uses.push({ where: `alert ${r.alert}`, expr: r.expr });

  const missing: string[] = [];
  const used = new Set<string>();
  for (const u of uses) {
    const names = metricNames(u.expr);
    assert.ok(names.length > 0, `${u.where} reads no metric: ${u.expr}`);
    for (const n of names) {
      used.add(n);
      if (!exported(n, types)) missing.push(`${u.where}: ${n}`);
    }
  }
  assert.deepEqual(missing, [], 'metrics queried but not exported by Strom');
  // The areas the files promise to cover.
  for (const n of ['strom_http_request_duration_seconds_bucket', 'strom_http_response_bytes_total', 'strom_hot_cache_hits_total', 'strom_live_viewers',
    'strom_live_ingest_bitrate_bps', 'strom_webrtc_sessions', 'strom_jobs', 'strom_transcode_speed_ratio_bucket', 'strom_qoe_startup_seconds_bucket',
    'strom_qoe_rebuffers_total', 'strom_live_stream_drops', 'strom_delivery_worker_restarts_total', 'strom_ready', 'process_cpu_seconds_total',
    'process_resident_memory_bytes', 'strom_cluster_events_published_total', 'strom_cluster_invalidations_received_total',
    'strom_cluster_origin_entries', 'strom_live_relay_pulls', 'strom_cluster_limit_sync_errors_total']) {
    assert.ok(used.has(n), `${n} is used by the dashboard or the alerts`);
  }
});

test('the dashboard imports into Grafana: ${DS_PROMETHEUS} input, job/instance variables, every query filtered by them', () => {
  assert.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `schemaVersion ${dashboard.schemaVersion}`);
  assert.deepEqual(dashboard.__inputs.map((i) => [i.name, i.type, i.pluginId]), [['DS_PROMETHEUS', 'datasource', 'prometheus']]);
  assert.deepEqual(dashboard.templating.list.map((v) => v.name), ['job', 'instance']);
  for (const v of dashboard.templating.list) assert.equal(v.datasource.uid, '${DS_PROMETHEUS}');
  const uids = collect(dashboard.panels, 'uid');
  assert.ok(uids.length > 0 && uids.every((u) => u === '${DS_PROMETHEUS}'), 'every panel and query uses the imported datasource');
  const ids = new Set<number>();
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      const id = (p as Panel & { id: number }).id;
      assert.ok(!ids.has(id), `panel id ${id} is unique`);
      ids.add(id);
      if (p.panels) walk(p.panels);
      for (const q of p.targets ?? []) {
        for (const m of q.expr.matchAll(/\b((?:strom|process|nodejs)_[a-z0-9_]+)(\{[^}]*\})?/g)) {
          assert.ok(m[2]?.includes('job=~"$job"') && m[2].includes('instance=~"$instance"'), `${m[1]} in "${p.title}" is filtered by $job and $instance`);
        }
      }
    }
  };
  walk(dashboard.panels);
});

test('alert rules have an expr, a for, a severity and a summary/description', () => {
  assert.ok(alerts.groups.length > 0);
  const names = new Set<string>();
  for (const g of alerts.groups) {
    assert.ok(g.name, 'group name');
    for (const r of g.rules) {
      assert.match(r.alert, /^[A-Z][A-Za-z0-9]+$/);
      assert.ok(!names.has(r.alert), `${r.alert} is unique`);
      names.add(r.alert);
      assert.equal(typeof r.expr, 'string');
      assert.match(r.for, /^\d+[smh]$/, `${r.alert}: for`);
      assert.ok(['critical', 'warning', 'info'].includes(r.labels.severity), `${r.alert}: severity ${r.labels.severity}`);
      assert.ok(r.annotations.summary && r.annotations.description, `${r.alert}: annotations`);
      let depth = 0;
      for (const ch of r.expr) {
        depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
        assert.ok(depth >= 0, `${r.alert}: parentheses`);
      }
      assert.equal(depth, 0, `${r.alert}: parentheses`);
    }
  }
  for (const want of ['StromDown', 'StromNotReady', 'StromHigh5xxRate', 'StromHighP99Latency', 'StromTranscodeJobsFailing', 'StromSlowViewerDrops', 'StromDeliveryWorkerRestarts']) {
    assert.ok(names.has(want), `rule ${want}`);
  }
});
