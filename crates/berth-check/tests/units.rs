//! Deployment units on trees shaped like public repositories: linking rules
//! link within a unit, and a unit that deploys nothing is not judged
//! against another unit's services.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use berth_check::{Input, check};

fn codes(files: &[(&str, &str)]) -> Vec<String> {
    let inputs = files.iter().map(|(p, t)| Input { path: (*p).to_owned(), text: (*t).to_owned() }).collect();
    check(inputs, None).findings.iter().map(|f| f.diagnostic.code.id.to_owned()).collect()
}

const COMPOSE: &str = "services:\n  web:\n    image: ghcr.io/acme/web:1.4.2\n    expose: [\"8000\"]\n";

#[test]
fn a_snippet_beside_another_demo_is_not_judged_by_its_services() {
    // NGINX-Demos: one demo deploys with compose, another is a snippet.
    let snippet = "server {\n    listen 8080;\n    location / {\n        proxy_pass http://my_backend;\n    }\n}\n";
    let found = codes(&[("compose-demo/docker-compose.yml", COMPOSE), ("oauth2-demo/frontend.conf", snippet)]);
    assert!(!found.iter().any(|c| c == "X006"), "{found:?}");
    // In the compose project's own directory, loaded by its nginx, the
    // same line is a finding.
    let fronted = format!(
        "{COMPOSE}  front:\n    image: nginx:1.27\n    volumes: [\"./frontend.conf:/etc/nginx/conf.d/default.conf:ro\"]\n"
    );
    let found = codes(&[("compose-demo/docker-compose.yml", &fronted), ("compose-demo/frontend.conf", snippet)]);
    assert!(found.iter().any(|c| c == "X006"), "{found:?}");
}

#[test]
fn variants_of_one_app_in_one_directory_do_not_conflict() {
    // vfarcic/k8s-specs scaling/: each file is a whole variant of go-demo-5.
    let variant = |hpa: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{ name: api }}\nspec:\n  replicas: 1\n  selector: {{ matchLabels: {{ app: api }} }}\n  template:\n    metadata: {{ labels: {{ app: api }} }}\n    spec:\n      containers: [{{ name: api, image: 'ghcr.io/acme/api:1.0.0' }}]\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {{ name: {hpa} }}\nspec:\n  scaleTargetRef: {{ apiVersion: apps/v1, kind: Deployment, name: api }}\n  minReplicas: 2\n  maxReplicas: 5\n"
        )
    };
    let (a, b) = (variant("api-cpu"), variant("api-memory"));
    let found = codes(&[("scaling/go-demo-5-cpu.yml", a.as_str()), ("scaling/go-demo-5-mem.yml", b.as_str())]);
    assert!(!found.iter().any(|c| c == "X004"), "two variants, not two autoscalers of one Deployment: {found:?}");
    assert!(found.iter().any(|c| c == "X005"), "each variant still fixes replicas under its HPA: {found:?}");
}

#[test]
fn a_secret_several_files_repeat_does_not_make_them_alternatives() {
    // Alexsovich5/DAPP: each service's file repeats the database Secret
    // that databases.yml declares; the Ingress's file routes to them all.
    let secret =
        "apiVersion: v1\nkind: Secret\nmetadata: { name: auth-db-secret, namespace: prod }\nstringData: { url: x }\n";
    let service = format!(
        "{secret}---\napiVersion: v1\nkind: Service\nmetadata: {{ name: auth, namespace: prod }}\nspec:\n  selector: {{ app: auth }}\n  ports: [{{ port: 8000 }}]\n"
    );
    let ingress = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: { name: api, namespace: prod }\nspec:\n  rules:\n    - http:\n        paths:\n          - path: /auth\n            pathType: Prefix\n            backend: { service: { name: auth, port: { number: 8000 } } }\n---\napiVersion: v1\nkind: Service\nmetadata: { name: front, namespace: prod }\nspec:\n  selector: { app: front }\n  ports: [{ port: 80 }]\n";
    let found = codes(&[("k8s/auth.yml", &service), ("k8s/databases.yml", secret), ("k8s/ingress.yml", ingress)]);
    assert!(!found.iter().any(|c| c == "X014"), "{found:?}");
}
