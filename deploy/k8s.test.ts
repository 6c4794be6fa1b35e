// The Kubernetes manifests: every object validated against the Kubernetes JSON schemas
// (kubernetes-models), then the rules of issue 4: probes, resources, the worker's GPU and grace
// period, Redis persistence, the media PersistentVolume, and the PostgreSQL configuration
// several hosts need, loaded with the service's own config loader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { checkEnv } from './check-env.ts';
import { ROOT, readCompose, readYamlDocs, type Json } from './testing.ts';

const DIR = 'deploy/k8s';
const FILES = readdirSync(path.join(ROOT, DIR)).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
const ALL: { file: string; doc: Json }[] = FILES.flatMap((file) => readYamlDocs(path.join(DIR, file)).map((doc) => ({ file, doc })));

async function validateObject(doc: Json): Promise<void> {
  const [group, version] = String(doc.apiVersion).includes('/') ? String(doc.apiVersion).split('/') : [null, String(doc.apiVersion)];
  const mod = await import(`kubernetes-models/${group ? `${group}/` : ''}${version}/${doc.kind}`);
  const Model = mod[doc.kind];
  assert.equal(typeof Model, 'function', `no model for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc).validate();
}

const find = (kind: string, name: string): Json => {
  const hit = ALL.find(({ doc }) => doc.kind === kind && doc.metadata?.name === name);
  assert.ok(hit, `${kind} ${name} not found in ${DIR}`);
  return hit.doc;
};

function bytes(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|kb|mb|gb)?$/.exec(String(q));
  assert.ok(m, `not a quantity: ${q}`);
  const unit = m[2] ?? '';
  // Redis's "mb" is 1024*1024, like Kubernetes' Mi.
  const mult: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
  return Number(m[1]) * mult[unit]!;
}

const cpus = (q: string | number) => (String(q).endsWith('m') ? Number(String(q).slice(0, -1)) / 1000 : Number(q));

test('every manifest validates against the Kubernetes schemas (and a broken one does not)', async () => {
  assert.ok(ALL.length >= 10, `expected the manifests in ${DIR}, found ${ALL.length} objects`);
  for (const { file, doc } of ALL) {
    try {
      await validateObject(doc);
    } catch (err) {
      assert.fail(`${file}: ${doc.kind} ${doc.metadata?.name}: ${(err as Error).message}`);
    }
  }
  const api = structuredClone(find('Deployment', 'api'));
  api.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
  await assert.rejects(validateObject(api), /containerPort/);
  const broken = structuredClone(find('Deployment', 'worker'));
  broken.spec.template.spec.containers[0].resources.limits.memory = 'three gigabytes';
  await assert.rejects(validateObject(broken), /memory/);
});

test('kustomization.yaml lists every manifest except the Secret template', () => {
  const [k] = readYamlDocs(path.join(DIR, 'kustomization.yaml'));
  assert.deepEqual([...k.resources].sort(), FILES.filter((f) => f !== 'secret.example.yaml'));
  assert.ok(ALL.every(({ doc }) => doc.kind === 'Namespace' || doc.kind === 'PersistentVolume' || doc.metadata.namespace === 'sync-analyzer'), 'namespaced objects in sync-analyzer');
});

for (const [name, port, service] of [['api', 8080, 'api'], ['worker', 8081, 'worker']] as const) {
  test(`${name} Deployment: startup, liveness (/livez) and readiness (/readyz) probes, resources, non-root`, () => {
    const d = find('Deployment', name);
    const pod = d.spec.template.spec;
    const [c] = pod.containers;
    const portNumber = (p: string | number) => (typeof p === 'number' ? p : c.ports.find((x: Json) => x.name === p)?.containerPort);
    for (const [probe, p] of [['startupProbe', '/livez'], ['livenessProbe', '/livez'], ['readinessProbe', '/readyz']] as const) {
      assert.equal(c[probe]?.httpGet?.path, p, `${name}: ${probe} on ${p}`);
      assert.equal(portNumber(c[probe].httpGet.port), port, `${name}: ${probe} on port ${port}`);
    }
    const { requests, limits } = c.resources;
    assert.ok(cpus(requests.cpu) > 0 && cpus(requests.cpu) <= cpus(limits.cpu), `${name}: cpu request within the limit`);
    assert.ok(bytes(requests.memory) > 0 && bytes(requests.memory) <= bytes(limits.memory), `${name}: memory request within the limit`);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    const mounts = Object.fromEntries(c.volumeMounts.map((m: Json) => [m.mountPath, m]));
    assert.equal(mounts['/media']?.readOnly, true, `${name}: media read-only`);
    assert.ok(mounts['/output'] && !mounts['/output'].readOnly, `${name}: output writable`);
    assert.ok(mounts['/data'], `${name}: data mounted`);
    // The same image the compose stack builds.
    assert.equal(c.image, readCompose('docker-compose.production.yml').services[service].image);
    const svcSelector = ALL.find(({ doc }) => doc.kind === 'Service' && doc.metadata.name === name)?.doc.spec.selector;
    if (svcSelector) assert.deepEqual(svcSelector, d.spec.template.metadata.labels, `${name}: Service selects the pods`);
  });
}

test('worker: one GPU, a long startup budget for CUDA, terminationGracePeriodSeconds above the shutdown deadline', () => {
  const cm = find('ConfigMap', 'sync-analyzer-config').data;
  const w = find('Deployment', 'worker');
  const pod = w.spec.template.spec;
  const [c] = pod.containers;
  assert.ok(Number(c.resources.limits['nvidia.com/gpu']) >= 1, 'nvidia.com/gpu limit');
  assert.deepEqual(c.env.find((e: Json) => e.name === 'INFERENCE_PROVIDER'), { name: 'INFERENCE_PROVIDER', value: 'cuda' }, 'the GPU worker asks for CUDA explicitly');
  assert.equal(checkEnv({ ...cm, INFERENCE_PROVIDER: 'cuda' }).config?.inference.provider, 'cuda');
  assert.ok(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold >= 180, 'startup budget >= 3 min');
  const deadline = Number(cm.SHUTDOWN_DEADLINE_SECONDS);
  assert.ok(pod.terminationGracePeriodSeconds >= deadline + 10, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > deadline ${deadline} + margin`);
  assert.equal(Number(cm.WORKER_HEALTH_PORT), 8081);
  assert.equal(w.spec.strategy.rollingUpdate.maxSurge, 0, 'no surge pod waiting for a second GPU');
});

test('redis: StatefulSet with a persistent volume, AOF, noeviction, maxmemory below the limit', () => {
  const r = find('StatefulSet', 'redis');
  const [c] = r.spec.template.spec.containers;
  const opt = (k: string) => c.args[c.args.indexOf(`--${k}`) + 1];
  assert.equal(opt('appendonly'), 'yes');
  assert.equal(opt('appendfsync'), 'everysec');
  assert.equal(opt('maxmemory-policy'), 'noeviction');
  assert.ok(bytes(opt('maxmemory')) < bytes(c.resources.limits.memory), 'maxmemory below the memory limit');
  const claim = r.spec.volumeClaimTemplates[0];
  assert.ok(c.volumeMounts.some((m: Json) => m.name === claim.metadata.name && m.mountPath === '/data'), 'AOF directory on the claim');
  assert.match(c.image, /^redis:\d+\.\d+\.\d+/);
});

test('media: a PersistentVolume, read-only many, bound by the claim the pods use', () => {
  const pv = find('PersistentVolume', 'sync-analyzer-media');
  assert.deepEqual(pv.spec.accessModes, ['ReadOnlyMany']);
  assert.equal(pv.spec.persistentVolumeReclaimPolicy, 'Retain', 'deleting the claim must not delete the media');
  const pvc = find('PersistentVolumeClaim', 'media');
  assert.equal(pvc.spec.volumeName, pv.metadata.name);
  for (const name of ['output', 'data']) assert.deepEqual(find('PersistentVolumeClaim', name).spec.accessModes, ['ReadWriteMany'], `${name} shared by api and worker pods`);
});

test('several hosts: the ConfigMap and the Secret template load with the config loader and select PostgreSQL', () => {
  const env = { ...find('ConfigMap', 'sync-analyzer-config').data, ...find('Secret', 'sync-analyzer-secrets').stringData };
  const grace = find('Deployment', 'worker').spec.template.spec.terminationGracePeriodSeconds;
  const r = checkEnv(env, { stopGraceSeconds: grace });
  assert.deepEqual(r.problems, []);
  assert.equal(r.config?.database.client, 'pg');
  assert.equal(r.config?.env, 'production');
  assert.equal(r.config?.redisUrl, 'redis://redis:6379');
  // The api reads both sources; the worker only the ConfigMap (it needs no secret).
  const sources = (name: string) => find('Deployment', name).spec.template.spec.containers[0].envFrom.map((e: Json) => e.configMapRef?.name ?? e.secretRef?.name);
  assert.deepEqual(sources('api'), ['sync-analyzer-config', 'sync-analyzer-secrets']);
  assert.deepEqual(sources('worker'), ['sync-analyzer-config']);
  // The worker still loads (no secret is required to start it).
  assert.deepEqual(checkEnv({ ...find('ConfigMap', 'sync-analyzer-config').data, INFERENCE_PROVIDER: 'cuda' }, { stopGraceSeconds: grace }).problems, []);
});

// --- security (docs/SECURITY.md) --------------------------------------------------------------

const WORKLOADS = ALL.filter(({ doc }) => ['Deployment', 'StatefulSet'].includes(doc.kind)).map(({ doc }) => doc);
/** The Secret's keys: never a literal value in a workload, never given to the worker. */
const SECRET_KEYS = Object.keys(find('Secret', 'sync-analyzer-secrets').stringData);

test('every pod meets the "restricted" Pod Security profile, which the namespace enforces', () => {
  const ns = find('Namespace', 'sync-analyzer');
  assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
  assert.deepEqual(WORKLOADS.map((w) => w.metadata.name).sort(), ['api', 'redis', 'worker']);
  for (const w of WORKLOADS) {
    const pod = w.spec.template.spec;
    const name = w.metadata.name;
    assert.equal(pod.automountServiceAccountToken, false, `${name}: no service account token`);
    assert.ok(!pod.hostNetwork && !pod.hostPID && !pod.hostIPC, `${name}: no host namespaces`);
    assert.ok((pod.volumes ?? []).every((v: Json) => !v.hostPath), `${name}: no hostPath volumes`);
    assert.equal(pod.securityContext.runAsNonRoot, true, `${name}: runAsNonRoot`);
    assert.ok(pod.securityContext.runAsUser > 0, `${name}: a non-root uid`);
    assert.equal(pod.securityContext.seccompProfile?.type, 'RuntimeDefault', `${name}: seccomp RuntimeDefault`);
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
      const sc = c.securityContext ?? {};
      assert.equal(sc.allowPrivilegeEscalation, false, `${name}/${c.name}: allowPrivilegeEscalation false`);
      assert.equal(sc.readOnlyRootFilesystem, true, `${name}/${c.name}: readOnlyRootFilesystem`);
      assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${name}/${c.name}: capabilities drop ALL`);
      assert.equal(sc.capabilities?.add, undefined, `${name}/${c.name}: no capability added`);
      assert.ok(!sc.privileged, `${name}/${c.name}: not privileged`);
      assert.ok(!sc.runAsUser, `${name}/${c.name}: the pod's non-root uid is not overridden`);
      for (const e of c.env ?? []) assert.ok(!SECRET_KEYS.includes(e.name) || e.valueFrom, `${name}/${c.name}: ${e.name} as a literal value`);
    }
  }
});

test('read-only root filesystems: every path the services write is a mounted volume; /tmp is a bounded emptyDir', () => {
  const cm = find('ConfigMap', 'sync-analyzer-config').data;
  for (const name of ['api', 'worker']) {
    const pod = find('Deployment', name).spec.template.spec;
    const [c] = pod.containers;
    const mounts = new Map<string, Json>(c.volumeMounts.map((m: Json) => [m.mountPath, m]));
    const env = Object.fromEntries((c.env ?? []).map((e: Json) => [e.name, e.value]));
    // Written: the output root, the data directory, the temp directory (tsx's cache; CUDA's).
    const written = [cm.OUTPUT_ROOT, cm.DATA_DIR, '/tmp', ...(env.CUDA_CACHE_PATH ? [env.CUDA_CACHE_PATH] : [])];
    for (const p of written) {
      const m = [...mounts.values()].find((x) => p === x.mountPath || p.startsWith(`${x.mountPath}/`));
      assert.ok(m && !m.readOnly, `${name}: ${p} is not on a writable volume`);
    }
    assert.equal(mounts.get(cm.MOUNT_PATH)?.readOnly, true, `${name}: the media root is mounted read-only`);
    const tmp = pod.volumes.find((v: Json) => v.name === mounts.get('/tmp').name);
    assert.ok(tmp.emptyDir?.sizeLimit, `${name}: /tmp is an emptyDir with a sizeLimit`);
  }
});

test('the worker gets no secret: no secretRef, no Secret key in its environment', () => {
  const [c] = find('Deployment', 'worker').spec.template.spec.containers;
  assert.ok(c.envFrom.every((e: Json) => !e.secretRef), 'no secretRef');
  for (const e of c.env ?? []) assert.ok(!SECRET_KEYS.includes(e.name), `worker env sets ${e.name}`);
  assert.ok(SECRET_KEYS.includes('API_KEYS') && SECRET_KEYS.includes('WEBHOOK_SECRET'), 'the Secret template names the secrets');
  // The template holds placeholders only, never a usable value.
  for (const [k, v] of Object.entries<string>(find('Secret', 'sync-analyzer-secrets').stringData)) assert.match(v, /change-me/, `secret.example.yaml: ${k} is not a placeholder`);
});

test('network policies: redis only from the api and the worker; the worker reaches only redis and DNS', () => {
  const labels = (name: string) => find(name === 'redis' ? 'StatefulSet' : 'Deployment', name).spec.template.metadata.labels;
  const selects = (selector: Json, name: string) => Object.entries<string>(selector.matchLabels).every(([k, v]) => labels(name)[k] === v);
  const redis = find('NetworkPolicy', 'redis');
  assert.ok(selects(redis.spec.podSelector, 'redis') && !selects(redis.spec.podSelector, 'api'), 'the redis policy selects the redis pods only');
  assert.deepEqual(redis.spec.policyTypes, ['Ingress']);
  assert.equal(redis.spec.ingress.length, 1);
  const from = redis.spec.ingress[0].from;
  assert.ok(from.every((f: Json) => f.podSelector && !f.namespaceSelector && !f.ipBlock), 'peers are pods of this namespace only');
  assert.deepEqual(['api', 'worker', 'redis'].filter((n) => from.some((f: Json) => selects(f.podSelector, n))), ['api', 'worker']);
  assert.deepEqual(redis.spec.ingress[0].ports, [{ protocol: 'TCP', port: 6379 }]);

  const worker = find('NetworkPolicy', 'worker');
  assert.ok(selects(worker.spec.podSelector, 'worker') && !selects(worker.spec.podSelector, 'api'));
  assert.deepEqual(worker.spec.policyTypes, ['Ingress', 'Egress']);
  assert.deepEqual(worker.spec.ingress, [], 'nothing connects to the worker (kubelet probes are always allowed)');
  const [toRedis, toDns, ...rest] = worker.spec.egress;
  assert.equal(rest.length, 0, 'no other egress');
  assert.ok(selects(toRedis.to[0].podSelector, 'redis') && toRedis.to.length === 1);
  assert.deepEqual(toRedis.ports, [{ protocol: 'TCP', port: 6379 }]);
  assert.equal(toDns.to[0].podSelector.matchLabels['k8s-app'], 'kube-dns');
  assert.deepEqual(toDns.ports.map((p: Json) => p.port), [53, 53]);
  // The worker's Redis is the one the policy lets it reach.
  assert.equal(new URL(find('ConfigMap', 'sync-analyzer-config').data.REDIS_URL).port, '6379');
});
