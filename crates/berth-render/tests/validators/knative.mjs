// Validate Cloud Run (Knative serving.knative.dev/v1) Services against the
// Knative CRD schemas shipped in @kubernetes-models/knative (ajv).
// usage: node knative.mjs FILE.json...   (run with node_modules next to it)
import { readFileSync } from "node:fs";
import { Service } from "@kubernetes-models/knative/serving.knative.dev/v1/Service";

let failed = false;
for (const path of process.argv.slice(2)) {
  try {
    new Service(JSON.parse(readFileSync(path, "utf8"))).validate();
  } catch (error) {
    failed = true;
    console.log(`${path}: ${error.message}`);
  }
}
process.exit(failed ? 1 : 0);
