//! What the tree cannot see of well-known images: the ports they listen on
//! without being told to. A rule that judges a port against what a
//! container declares asks here before calling an undeclared port closed.

/// Ports well-known images listen on without being told to, by repository
/// (`jaegertracing/all-in-one`, `gitea/gitea`).
pub fn default_ports(repository: &str) -> &'static [i64] {
    let name = repository.rsplit('/').next().unwrap_or(repository);
    match name {
        // Agent (UDP and config), collector (HTTP, gRPC, admin), query UI, Zipkin, OTLP.
        "all-in-one" if repository.contains("jaegertracing") => {
            &[5775, 5778, 6831, 6832, 9411, 14250, 14268, 14269, 16686, 4317, 4318]
        }
        "jaeger-collector" => &[9411, 14250, 14268, 14269, 4317, 4318],
        // Jaeger's query (UI, gRPC, admin) and remote storage (gRPC, admin).
        "jaeger-query" => &[16685, 16686, 16687],
        "jaeger-remote-storage" => &[17271, 17270],
        // istiod: plain and TLS XDS, monitoring, webhooks, debug.
        "pilot" if repository.contains("istio") => &[15010, 15012, 15014, 15017, 8080],
        "opentelemetry-collector" | "opentelemetry-collector-contrib" | "opentelemetry-collector-k8s" => {
            &[4317, 4318, 8888, 13133, 55679]
        }
        // Databases listen on their own port unless told otherwise.
        "mongo" => &[27017],
        "postgres" | "postgis" => &[5432],
        "mysql" | "mariadb" => &[3306],
        "redis" | "valkey" => &[6379],
        "memcached" => &[11211],
        // Self-hosted apps: web UI and their other default listeners.
        "gitea" | "forgejo" => &[3000, 22],
        "sftpgo" => &[8080, 2022, 8090],
        "syncthing" => &[8384, 22000, 21027],
        "jvb" => &[8080, 10000],
        "grafana" => &[3000],
        "prometheus" => &[9090],
        "alertmanager" => &[9093],
        "minio" => &[9000],
        // MQTT; WebSockets only where a mounted configuration adds a listener.
        "eclipse-mosquitto" => &[1883],
        // AMQP, the management UI, and Prometheus metrics (rabbitmq_prometheus
        // is on by default since 3.8).
        "rabbitmq" => &[5672, 15672, 15692],
        // Grafana Tempo: HTTP, dskit gRPC, memberlist, then its receivers
        // (OTLP, Jaeger, Zipkin, OpenCensus).
        "tempo" => &[3200, 9095, 7946, 4317, 4318, 14250, 14268, 6831, 6832, 9411, 55678, 55680, 55681],
        // Each SeaweedFS server listens on its HTTP port and gRPC at +10000.
        "seaweedfs" => &[9333, 19333, 8080, 18080, 8888, 18888, 8333, 7333],
        "unifi-network-application" | "unifi-controller" | "unifi" => {
            &[8443, 8080, 3478, 10001, 1900, 8843, 8880, 6789, 5514]
        }
        // Knative's activator: HTTP/1, h2c, TLS (system-internal-tls), metrics, profiling.
        "activator" if repository.contains("knative") => &[8012, 8013, 8112, 9090, 8008],
        "controller" | "nginx-ingress-controller"
            if repository.contains("ingress-nginx") || name == "nginx-ingress-controller" =>
        {
            &[80, 443, 8443, 10254]
        }
        // MTA/Windup's web console embeds the AMQ broker its executors use.
        "windup-web-openshift" | "mta-web-openshift" => &[8080, 61616, 8778, 8888],
        _ => &[],
    }
}

/// Proxies whose listeners come from resources elsewhere (an Istio
/// `Gateway`, Envoy's bootstrap): any port may be open.
pub fn listens_where_configured(repository: &str) -> bool {
    let name = repository.rsplit('/').next().unwrap_or(repository);
    name == "proxyv2" || repository.ends_with("envoyproxy/envoy") || name == "envoy"
}

#[cfg(test)]
mod tests {
    use super::default_ports;

    #[test]
    fn well_known_images_listen_undeclared() {
        assert!(default_ports("jaegertracing/all-in-one").contains(&14268));
        assert!(default_ports("otel/opentelemetry-collector-contrib").contains(&4317));
        assert!(default_ports("acme/all-in-one").is_empty());
        assert!(default_ports("nginx").is_empty());
        assert!(default_ports("mongo").contains(&27017));
        assert!(default_ports("gitea/gitea").contains(&3000));
        assert!(default_ports("codeberg.org/forgejo/forgejo").contains(&3000));
        assert!(default_ports("grafana/tempo").contains(&7946));
        assert!(default_ports("chrislusf/seaweedfs").contains(&18888));
        assert!(default_ports("gcr.io/knative-releases/knative.dev/serving/cmd/activator").contains(&8112));
        assert!(default_ports("acme/activator").is_empty());
        assert!(default_ports("registry.k8s.io/ingress-nginx/controller").contains(&10254));
        assert!(default_ports("acme/controller").is_empty());
        assert!(super::listens_where_configured("gcr.io/istio-release/proxyv2"));
        assert!(!super::listens_where_configured("nginx"));
    }
}
