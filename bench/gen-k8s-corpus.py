#!/usr/bin/env python3
"""Writes a corpus of realistic Kubernetes manifests for `bench/check-corpus.sh`.

Usage: gen-k8s-corpus.py DIR COUNT

Each file is one application slice as teams write them: a Deployment or
StatefulSet with probes, resources and security contexts (some deliberately
missing), its Service, and on some files a ConfigMap, an HPA, a
NetworkPolicy or an Ingress, several documents per file. Deterministic: the
same COUNT gives the same files.
"""
import os
import random
import sys

out, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
os.makedirs(out, exist_ok=True)

IMAGES = ["ghcr.io/acme/{}:1.{}.{}", "registry.example.com/team/{}:latest", "docker.io/library/{}", "quay.io/acme/{}@sha256:" + "ab" * 32]


def workload(name, kind, port, namespace):
    image = rng.choice(IMAGES).format(name, rng.randint(0, 9), rng.randint(0, 30))
    secure = rng.random() < 0.6
    sc = (
        "          securityContext:\n            allowPrivilegeEscalation: false\n            readOnlyRootFilesystem: true\n            capabilities: { drop: [ALL] }\n"
        if secure
        else ("          securityContext:\n            privileged: true\n" if rng.random() < 0.1 else "")
    )
    probes = ""
    if rng.random() < 0.8:
        probes += f"          readinessProbe:\n            httpGet: {{ path: /ready, port: {port} }}\n            periodSeconds: 5\n"
    if rng.random() < 0.7:
        probes += f"          livenessProbe:\n            httpGet: {{ path: /healthz, port: {port} }}\n            initialDelaySeconds: 10\n"
    resources = (
        "          resources:\n            requests: { cpu: 100m, memory: 128Mi }\n            limits: { cpu: 500m, memory: 256Mi }\n"
        if rng.random() < 0.75
        else ""
    )
    env = "".join(
        f"            - name: {k}\n              value: \"{v}\"\n"
        for k, v in rng.sample([("LOG_LEVEL", "info"), ("PORT", str(port)), ("REGION", "eu-west-1"), ("FEATURE_X", "true"), ("API_TOKEN", "abc123")], 3)
    )
    replicas = f"  replicas: {rng.randint(1, 6)}\n" if kind != "DaemonSet" else ""
    service_name = f"  serviceName: {name}\n" if kind == "StatefulSet" else ""
    return f"""apiVersion: apps/v1
kind: {kind}
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{ app.kubernetes.io/name: {name}, app.kubernetes.io/part-of: shop }}
  annotations:
    description: "{name} serves part of the shop; owned by team {rng.randint(1, 40)}"
spec:
{replicas}{service_name}  selector:
    matchLabels: {{ app: {name} }}
  template:
    metadata:
      labels: {{ app: {name}, tier: backend }}
    spec:
      securityContext: {{ runAsNonRoot: {str(secure).lower()}, runAsUser: {10000 + rng.randint(1, 999)} }}
      serviceAccountName: {name}
      containers:
        - name: {name}
          image: {image}
          args: ["--port={port}", "--log-format=json"]
          ports:
            - {{ name: http, containerPort: {port} }}
            - {{ name: metrics, containerPort: 9090 }}
          env:
{env}{sc}{resources}{probes}          volumeMounts:
            - {{ name: tmp, mountPath: /tmp }}
      volumes:
        - name: tmp
          emptyDir: {{}}
"""


for i in range(count):
    name = f"svc-{i:05d}"
    port = rng.choice([8080, 8000, 3000, 5000])
    kind = rng.choices(["Deployment", "StatefulSet", "DaemonSet"], [8, 1, 1])[0]
    namespace = f"team-{i % 40 + 1}"
    docs = [workload(name, kind, port, namespace)]
    target = port if rng.random() < 0.9 else port + 1
    docs.append(f"""apiVersion: v1
kind: Service
metadata: {{ name: {name}, namespace: {namespace} }}
spec:
  selector: {{ app: {name} }}
  ports:
    - {{ name: http, port: 80, targetPort: {target} }}
""")
    if rng.random() < 0.4:
        docs.append(f"""apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{ name: {name}, namespace: {namespace} }}
spec:
  scaleTargetRef: {{ apiVersion: apps/v1, kind: {kind}, name: {name} }}
  minReplicas: 2
  maxReplicas: 20
  metrics:
    - type: Resource
      resource: {{ name: cpu, target: {{ type: Utilization, averageUtilization: 70 }} }}
""")
    if rng.random() < 0.3:
        docs.append(f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{ name: {name}, namespace: {namespace} }}
spec:
  podSelector: {{ matchLabels: {{ app: {name} }} }}
  policyTypes: [Ingress]
  ingress:
    - from: [{{ podSelector: {{ matchLabels: {{ app: gateway }} }} }}]
      ports: [{{ port: {port} }}]
""")
    if rng.random() < 0.3:
        docs.append(f"""apiVersion: v1
kind: ConfigMap
metadata: {{ name: {name}-config }}
data:
  app.yaml: |
    server:
      port: {port}
      timeout: 30s
    features: [a, b, c]
""")
    with open(os.path.join(out, f"{name}.yaml"), "w") as f:
        f.write("---\n".join(docs))
