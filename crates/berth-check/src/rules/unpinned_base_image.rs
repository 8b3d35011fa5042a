use super::mutable_image_tag::tag;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// `FROM image` without a tag, or with `latest`, builds on whatever was
    /// pushed last: the same commit builds a different image tomorrow. An
    /// image the tree builds itself (a compose `image:` with `build:`, a
    /// script's `docker build -t NAME`, a one-word name that is none of
    /// Docker Hub's official images) is not pulled, and not reported.
    UnpinnedBaseImage {
        code: "D002",
        name: "unpinned-base-image",
        severity: Warning,
        fix: "pin the base image to a version tag, or a digest (`debian:12-slim@sha256:...`)",
    }
}

/// Images the tree builds and tags itself: a compose service's `image:`
/// beside its `build:`, a script's `docker build -t NAME`. A `FROM` of one
/// is the repository's own image, not an untagged registry pull.
fn built_here(cx: &Context<'_>) -> Vec<String> {
    let mut out: Vec<String> = cx
        .graph
        .compose
        .iter()
        .filter(|s| crate::graph::yaml::at(s.node, &["build"]).is_some())
        .filter_map(|s| s.image.clone())
        .collect();
    for script in cx.graph.scripts {
        for command in &script.commands {
            let words: Vec<&str> = command.words.iter().filter_map(|w| w.literal.as_deref()).collect();
            if !words.contains(&"build") {
                continue;
            }
            for (i, w) in words.iter().enumerate() {
                let tag = match *w {
                    "-t" | "--tag" => words.get(i + 1).copied(),
                    _ => w.strip_prefix("--tag=").or_else(|| w.strip_prefix("-t=")),
                };
                out.extend(tag.map(str::to_owned));
            }
        }
    }
    out
}

/// Docker Hub's official images: a one-word `FROM name` pulls
/// `docker.io/library/name`, which exists only for these. Any other
/// one-word name is an image of the build (a bake context, `docker build
/// -t base` in a script berth cannot read), never a pull.
const OFFICIAL: &[&str] = &[
    "adminer",
    "aerospike",
    "almalinux",
    "alpine",
    "amazoncorretto",
    "amazonlinux",
    "api-firewall",
    "arangodb",
    "archlinux",
    "backdrop",
    "bash",
    "bonita",
    "buildpack-deps",
    "busybox",
    "caddy",
    "cassandra",
    "celery",
    "centos",
    "chronograf",
    "cirros",
    "clearlinux",
    "clefos",
    "clickhouse",
    "clojure",
    "composer",
    "consul",
    "convertigo",
    "couchbase",
    "couchdb",
    "crate",
    "dart",
    "debian",
    "django",
    "docker",
    "drupal",
    "eclipse-mosquitto",
    "eclipse-temurin",
    "eggdrop",
    "elasticsearch",
    "elixir",
    "emqx",
    "erlang",
    "fedora",
    "flink",
    "fluentd",
    "friendica",
    "gazebo",
    "gcc",
    "geonetwork",
    "ghost",
    "golang",
    "gradle",
    "groovy",
    "haproxy",
    "haskell",
    "hello-world",
    "hitch",
    "httpd",
    "hylang",
    "ibm-semeru-runtimes",
    "ibmjava",
    "influxdb",
    "iojs",
    "irssi",
    "java",
    "jenkins",
    "jetty",
    "joomla",
    "jruby",
    "julia",
    "kapacitor",
    "kibana",
    "kong",
    "krakend",
    "lightstreamer",
    "liquibase",
    "logstash",
    "mageia",
    "mariadb",
    "matomo",
    "maven",
    "mediawiki",
    "memcached",
    "mongo",
    "mongo-express",
    "monica",
    "mono",
    "mysql",
    "nats",
    "neo4j",
    "neurodebian",
    "nextcloud",
    "nginx",
    "node",
    "notary",
    "odoo",
    "open-liberty",
    "openjdk",
    "oraclelinux",
    "orientdb",
    "percona",
    "perl",
    "photon",
    "php",
    "php-zendserver",
    "phpmyadmin",
    "plone",
    "postfixadmin",
    "postgres",
    "pypy",
    "python",
    "r-base",
    "rabbitmq",
    "rails",
    "rakudo-star",
    "redis",
    "redmine",
    "registry",
    "rethinkdb",
    "rocket.chat",
    "rockylinux",
    "ros",
    "ruby",
    "rust",
    "sapmachine",
    "satosa",
    "sentry",
    "silverpeas",
    "solr",
    "sonarqube",
    "spiped",
    "storm",
    "swift",
    "teamspeak",
    "telegraf",
    "tomcat",
    "tomee",
    "traefik",
    "ubuntu",
    "unit",
    "valkey",
    "varnish",
    "websphere-liberty",
    "wordpress",
    "xwiki",
    "yourls",
    "znc",
    "zookeeper",
];

impl Rule for UnpinnedBaseImage {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let local = built_here(cx);
        let is_local = |image: &str| {
            let name = image.split(':').next().unwrap_or(image);
            (!name.contains('/') && !OFFICIAL.contains(&name.to_ascii_lowercase().as_str()))
                || local
                    .iter()
                    .any(|l| l == image || l.split(':').next() == Some(image) || l.rsplit('/').next() == Some(image))
        };
        for d in cx.graph.dockerfiles {
            let mut stages: Vec<String> = Vec::new();
            for from in d.instructions.iter().filter(|i| i.keyword == "FROM") {
                let words: Vec<&str> = from.args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
                let Some(image) = words.first().copied() else { continue };
                if let [_, as_kw, name] = words.as_slice()
                    && as_kw.eq_ignore_ascii_case("as")
                {
                    stages.push(name.to_ascii_lowercase());
                }
                let earlier_stage =
                    stages.iter().rev().skip(usize::from(words.len() == 3)).any(|s| *s == image.to_ascii_lowercase());
                if image == "scratch" || earlier_stage || image.contains('$') || is_local(image) {
                    continue;
                }
                match tag(image) {
                    Some(None) => {
                        sink.report(d.file, from.span, format!("base image `{image}` has no tag"));
                    }
                    Some(Some("latest")) => {
                        sink.report(d.file, from.span, format!("base image `{image}` uses `latest`"));
                    }
                    _ => {}
                }
            }
        }
    }
}
