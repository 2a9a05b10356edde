// Validates custom resources against their schemas, for scripts/check-k8s.sh:
//   node scripts/check-k8s-crds.mjs NODE_MODULES RESOURCES.json
// RESOURCES.json is an array of {file, resource}. The schemas are the JSON Schema
// validators of the npm packages @kubernetes-models/prometheus-operator and
// @kubernetes-models/cloudnative-pg, generated from the operators' Go API types (the
// source their CRDs are generated from too), installed under NODE_MODULES.
//
// Those validators check types, enums, patterns and required fields but let unknown
// fields through, which the API server's strict field validation (kubectl's default)
// refuses. So each resource is validated through a Proxy that records which fields the
// validator looks up: in an object whose fields the validator reads at all, a field it
// never read is unknown to the schema. An object it reads nothing of is free-form
// (like postgresql.parameters) and is not judged.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const SCHEMAS = {
  "monitoring.coreos.com/v1 ServiceMonitor":
    "prometheus-operator/_schemas/ComGithubPrometheusOperatorPrometheusOperatorPkgApisMonitoringV1ServiceMonitor.js",
  "monitoring.coreos.com/v1 PodMonitor":
    "prometheus-operator/_schemas/ComGithubPrometheusOperatorPrometheusOperatorPkgApisMonitoringV1PodMonitor.js",
  "monitoring.coreos.com/v1 PrometheusRule":
    "prometheus-operator/_schemas/ComGithubPrometheusOperatorPrometheusOperatorPkgApisMonitoringV1PrometheusRule.js",
  "postgresql.cnpg.io/v1 Cluster":
    "cloudnative-pg/_schemas/ComGithubCloudnativePgCloudnativePgApiV1Cluster.js",
  "postgresql.cnpg.io/v1 Pooler":
    "cloudnative-pg/_schemas/ComGithubCloudnativePgCloudnativePgApiV1Pooler.js",
  "postgresql.cnpg.io/v1 ScheduledBackup":
    "cloudnative-pg/_schemas/ComGithubCloudnativePgCloudnativePgApiV1ScheduledBackup.js",
};

if (process.argv.length !== 4) {
  console.error("usage: node scripts/check-k8s-crds.mjs NODE_MODULES RESOURCES.json");
  process.exit(2);
}
const [modules, input] = process.argv.slice(2);
const items = JSON.parse(readFileSync(input, "utf8"));

// Wraps value so that every field lookup is recorded in `seen` (object -> Set of keys).
function watch(value, seen) {
  if (value === null || typeof value !== "object") return value;
  const read = new Set();
  seen.set(value, read);
  const children = new Map();
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === "string") read.add(key);
      const child = Reflect.get(target, key, receiver);
      if (typeof key !== "string" || child === null || typeof child !== "object") return child;
      if (!children.has(key)) children.set(key, watch(child, seen));
      return children.get(key);
    },
    has(target, key) {
      if (typeof key === "string") read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      // Enumerating an object (a map's `additionalProperties`) reads all of it.
      for (const key of Reflect.ownKeys(target)) if (typeof key === "string") read.add(key);
      return Reflect.ownKeys(target);
    },
  });
}

// The paths of fields the validator never read, in objects it read something of.
function unknownFields(value, seen, path, out) {
  if (value === null || typeof value !== "object") return out;
  const read = seen.get(value);
  if (Array.isArray(value)) {
    value.forEach((item, i) => unknownFields(item, seen, `${path}[${i}]`, out));
    return out;
  }
  if (!read || read.size === 0) return out;
  for (const [key, child] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (read.has(key)) unknownFields(child, seen, at, out);
    else out.push(at);
  }
  return out;
}

let failures = 0;
for (const { file, resource } of items) {
  const id = `${resource.apiVersion} ${resource.kind}`;
  const name = `${file}: ${resource.kind}/${resource.metadata?.name}`;
  if (!SCHEMAS[id]) {
    console.log(`ERROR ${name}: no schema for ${id}`);
    failures++;
    continue;
  }
  const { validate } = await import(pathToFileURL(join(modules, "@kubernetes-models", SCHEMAS[id])).href);
  const seen = new Map();
  const valid = validate(watch(resource, seen));
  const problems = new Set();
  if (!valid) {
    for (const e of validate.errors ?? []) {
      const what = e.message ?? `${e.keyword} ${JSON.stringify(e.params)}`;
      problems.add(`${e.instancePath || "/"}: ${what}`);
    }
  }
  for (const path of unknownFields(resource, seen, "", [])) {
    // status is written by the operator, never by us.
    if (path !== "status" && !path.startsWith("status.")) problems.add(`${path}: unknown field`);
  }
  if (problems.size) {
    failures++;
    for (const p of problems) console.log(`ERROR ${name}: ${p}`);
  } else {
    console.log(`ok ${name}`);
  }
}
process.exit(failures ? 1 : 0);
