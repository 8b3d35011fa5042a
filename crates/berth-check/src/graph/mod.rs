//! One graph of the deployment, built from every file: Kubernetes objects
//! and what they say about pods, ports and selectors; Dockerfiles. Rules
//! read the graph, never the raw files.

pub mod builds;
pub mod cloudformation;
pub mod command;
pub mod compose;
pub mod dockerfile;
pub mod envfile;
pub mod images;
mod kubernetes;
mod kustomize;
pub mod nginx;
pub mod paths;
pub mod prometheus;
mod resolve;
pub mod schema;
pub mod shell;
pub mod systemd;
pub mod units;
pub mod yaml;

use std::collections::HashMap;

use berth_diagnostics::{Code, SourceFile, Span};
use berth_spec::Node;

pub use cloudformation::{Resource, Template};
pub use compose::ComposeService;
pub use dockerfile::{Dockerfile, Instruction};
pub use envfile::EnvFile;
pub use kubernetes::{
    Autoscaler, Container, ContainerPort, NetworkPolicy, Object, PolicyPeer, PortRef, Service, ServicePort, Workload,
};
pub use nginx::{Directive, NginxConfig, NginxFile};
pub use prometheus::{PromRule, ScrapeJob, ServiceMonitor};
pub use resolve::Resolved;
pub use shell::Script;
pub use systemd::{Setting, UnitFile};

use crate::{Finding, Kind};

/// A file that could not be read as what it claims to be.
pub const PARSE_ERROR: Code = Code::new("E001", "parse-error");

/// Parsed files, owned here so the graph can borrow from them.
#[derive(Debug, Default)]
pub struct Parsed {
    /// (file, YAML documents)
    pub yaml: Vec<(usize, Vec<Node>)>,
    pub dockerfiles: Vec<Dockerfile>,
    /// (file, path, the compose document)
    pub compose: Vec<(usize, String, Node)>,
    /// (project directory, variables) from `.env` files.
    pub env_files: Vec<(String, Vec<(String, String)>)>,
    /// nginx files, and `.conf` snippets an `include` may name.
    pub nginx: Vec<NginxFile>,
    /// (file, kind, document) of Prometheus configuration and rule files.
    pub prometheus: Vec<(usize, Kind, Node)>,
    pub units: Vec<UnitFile>,
    /// (file, path a tmpfiles.d line creates)
    pub tmpfiles: Vec<(usize, String)>,
    /// (file, YAML documents) of YAML no rule reads as a format: only what
    /// holds in any YAML is checked (duplicate keys).
    pub plain: Vec<(usize, Vec<Node>)>,
    /// Shell scripts, read by tree-sitter-bash.
    pub scripts: Vec<Script>,
    /// CloudFormation templates.
    pub templates: Vec<Template>,
    /// Every env file, with spans (`.env` files also feed `env_files` for compose).
    pub env: Vec<EnvFile>,
}

impl Parsed {
    /// Parses every file, spread over the machine's cores: parsing is most
    /// of the work and each file stands alone.
    pub fn read(files: &[SourceFile], kinds: &[Kind], findings: &mut Vec<Finding>) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, usize::from).clamp(1, 16);
        let chunk = files.len().div_ceil(threads).max(64);
        let indices: Vec<usize> = (0..files.len()).collect();
        let parts: Vec<(Self, Vec<Finding>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = indices
                .chunks(chunk)
                .map(|part| (part, scope.spawn(move || Self::read_part(files, kinds, part))))
                .collect();
            handles
                .into_iter()
                .map(|(part, h)| {
                    // A reader that panicked is a bug, never a silently
                    // smaller check: its files are reported as unchecked.
                    h.join().unwrap_or_else(|_| {
                        let unchecked = part.iter().map(|&file| Finding {
                            file,
                            diagnostic: berth_diagnostics::Diagnostic::error(
                                PARSE_ERROR,
                                "internal error while reading this file (a bug in berth; please report it): it was not checked",
                            ),
                            suppressed: None,
                        });
                        (Self::default(), unchecked.collect())
                    })
                })
                .collect()
        });
        let mut parsed = Self::default();
        for (part, part_findings) in parts {
            parsed.yaml.extend(part.yaml);
            parsed.dockerfiles.extend(part.dockerfiles);
            parsed.compose.extend(part.compose);
            parsed.env_files.extend(part.env_files);
            parsed.nginx.extend(part.nginx);
            parsed.prometheus.extend(part.prometheus);
            parsed.units.extend(part.units);
            parsed.tmpfiles.extend(part.tmpfiles);
            parsed.plain.extend(part.plain);
            parsed.scripts.extend(part.scripts);
            parsed.templates.extend(part.templates);
            parsed.env.extend(part.env);
            findings.extend(part_findings);
        }
        // Objects as their kustomizations deploy them; patch files are no objects.
        kustomize::apply(&mut parsed, files);
        parsed
    }

    fn read_part(files: &[SourceFile], kinds: &[Kind], part: &[usize]) -> (Self, Vec<Finding>) {
        let mut parsed = Self::default();
        let mut findings = Vec::new();
        for &index in part {
            match kinds[index] {
                Kind::Kubernetes => match berth_spec::parse_documents(&files[index].text) {
                    Ok(docs) => parsed.yaml.push((index, docs)),
                    Err(d) => findings.extend(parse_failure(&files[index], index, d)),
                },
                Kind::Dockerfile => {
                    parsed.dockerfiles.push(Dockerfile::parse(index, &files[index].name, &files[index].text))
                }
                Kind::Compose => match berth_spec::parse_documents(&files[index].text) {
                    Ok(mut docs) if !docs.is_empty() => {
                        parsed.compose.push((index, files[index].name.clone(), docs.swap_remove(0)));
                    }
                    Ok(_) => {}
                    Err(d) => findings.extend(parse_failure(&files[index], index, d)),
                },
                Kind::EnvFile => {
                    let (name, text) = (&files[index].name, &files[index].text);
                    // Compose interpolates from the project's `.env` only.
                    if name.rsplit(['/', '\\']).next().is_some_and(|n| n.eq_ignore_ascii_case(".env")) {
                        parsed.env_files.push((compose::dir_of(name), compose::parse_env(text)));
                    }
                    parsed.env.push(EnvFile::parse(index, text));
                }
                Kind::Shell => parsed.scripts.push(Script::parse(index, &files[index].text)),
                Kind::CloudFormation => match cloudformation::parse(index, &files[index].text) {
                    Ok(Some(template)) => parsed.templates.push(template),
                    Ok(None) => {}
                    Err(d) => findings.extend(parse_failure(&files[index], index, d)),
                },
                Kind::Nginx => match nginx::parse(index, &files[index].text) {
                    Ok(directives) => parsed.nginx.push(NginxFile {
                        file: index,
                        path: files[index].name.clone(),
                        directives,
                        root_candidate: true,
                    }),
                    Err(d) => findings.extend(parse_failure(&files[index], index, d)),
                },
                // A snippet that only an `include` gives meaning to; not
                // nginx if it does not parse as nginx.
                Kind::Other
                    if files[index].name.ends_with(".conf")
                        && !files[index].text.contains("{{")
                        && !files[index].text.contains("{%") =>
                {
                    if let Ok(directives) = nginx::parse(index, &files[index].text) {
                        parsed.nginx.push(NginxFile {
                            file: index,
                            path: files[index].name.clone(),
                            directives,
                            root_candidate: false,
                        });
                    }
                }
                kind @ (Kind::PrometheusConfig | Kind::PrometheusRules) => {
                    match berth_spec::parse_documents(&files[index].text) {
                        Ok(docs) => parsed.prometheus.extend(docs.into_iter().map(|d| (index, kind, d))),
                        Err(d) => findings.extend(parse_failure(&files[index], index, d)),
                    }
                }
                Kind::Systemd => parsed.units.push(UnitFile::parse(index, &files[index].name, &files[index].text)),
                Kind::Tmpfiles => {
                    parsed.tmpfiles.extend(systemd::tmpfiles_paths(&files[index].text).into_iter().map(|p| (index, p)))
                }
                Kind::Yaml | Kind::HelmChart => match berth_spec::parse_documents(&files[index].text) {
                    Ok(docs) => parsed.plain.push((index, docs)),
                    Err(d) => findings.extend(parse_failure(&files[index], index, d)),
                },
                // Helm templates are Go templates, not YAML: never parsed
                // (see `crate::helm`); the report notes them instead.
                _ => {}
            }
        }
        (parsed, findings)
    }
}

/// E001 for a file that does not parse, unless it is a template that is
/// rendered before use (Jinja, cookiecutter, Go templates: `{{` or `{%` in
/// its text, `{{` in its path), which berth cannot read and does not judge.
fn parse_failure(source: &SourceFile, file: usize, mut d: berth_diagnostics::Diagnostic) -> Option<Finding> {
    // GitHub's `${{ secrets.X }}` is YAML text, not a template.
    let template = |text: &str| text.match_indices("{{").any(|(i, _)| !text[..i].ends_with('$')) || text.contains("{%");
    if source.name.contains("{{") || template(&source.text) {
        return None;
    }
    d.code = PARSE_ERROR;
    d.message = format!("{} (the rest of the files are still checked)", d.message);
    Some(Finding { file, diagnostic: d, suppressed: None })
}

#[derive(Debug, Default)]
pub struct Graph<'a> {
    /// Compose services, base files before their overrides.
    pub compose: Vec<ComposeService<'a>>,
    pub objects: Vec<Object<'a>>,
    pub workloads: Vec<Workload<'a>>,
    pub services: Vec<Service<'a>>,
    pub network_policies: Vec<NetworkPolicy<'a>>,
    pub autoscalers: Vec<Autoscaler<'a>>,
    pub dockerfiles: &'a [Dockerfile],
    /// nginx configurations, one per root file, includes expanded.
    pub nginx: Vec<NginxConfig>,
    pub scrape_jobs: Vec<ScrapeJob<'a>>,
    pub service_monitors: Vec<ServiceMonitor<'a>>,
    /// Alerting and recording rules from rule files and PrometheusRules.
    pub prom_rules: Vec<PromRule<'a>>,
    pub units: &'a [UnitFile],
    pub tmpfiles: &'a [(usize, String)],
    pub scripts: &'a [Script],
    pub templates: &'a [Template],
    pub env_files: &'a [EnvFile],
    /// Every YAML document, for rules on the text itself (duplicate keys).
    pub documents: Vec<(usize, &'a Node)>,
    /// Workloads by (namespace, pod label key, value): selectors look up
    /// candidates here instead of scanning every workload.
    by_label: HashMap<(Option<&'a str>, String, String), Vec<usize>>,
    /// Workloads by (namespace, kind, name).
    by_name: HashMap<(Option<&'a str>, &'a str, &'a str), Vec<usize>>,
    /// The deployment unit of each file ([`units`]): rules that link
    /// objects link only within one.
    pub unit_of: Vec<usize>,
}

impl<'a> Graph<'a> {
    /// `unit_of` gives each file's deployment unit ([`units::assign`]).
    pub fn build(parsed: &'a Parsed, files: &[SourceFile], unit_of: Vec<usize>) -> Self {
        let mut graph = Graph {
            unit_of,
            dockerfiles: &parsed.dockerfiles,
            nginx: nginx::configs(&parsed.nginx),
            units: &parsed.units,
            tmpfiles: &parsed.tmpfiles,
            scripts: &parsed.scripts,
            templates: &parsed.templates,
            env_files: &parsed.env,
            ..Graph::default()
        };
        // Templates are YAML too: duplicate keys (Y001) hold for them.
        for t in &parsed.templates {
            graph.documents.push((t.file, &t.document));
        }
        for (file, kind, doc) in &parsed.prometheus {
            graph.documents.push((*file, doc));
            match kind {
                Kind::PrometheusConfig => graph.scrape_jobs.extend(prometheus::scrape_jobs(*file, doc)),
                _ => graph.prom_rules.extend(prometheus::rules(*file, yaml::at(doc, &["groups"]))),
            }
        }
        let mut compose_files: Vec<&(usize, String, Node)> = parsed.compose.iter().collect();
        // Overrides after the files they override, as compose applies them.
        compose_files.sort_by_key(|(file, path, _)| (path.contains(".override."), *file));
        for (file, path, doc) in compose_files {
            let dir = compose::dir_of(path);
            let env: Vec<(String, String)> =
                parsed.env_files.iter().filter(|(p, _)| *p == dir).flat_map(|(_, vars)| vars.clone()).collect();
            graph.documents.push((*file, doc));
            graph.compose.extend(compose::services(*file, path, doc, &env));
        }
        for (file, docs) in &parsed.yaml {
            for doc in docs {
                graph.documents.push((*file, doc));
                kubernetes::add(&mut graph, *file, doc);
            }
        }
        for (file, docs) in &parsed.plain {
            graph.documents.extend(docs.iter().map(|doc| (*file, doc)));
        }
        graph.split_alternatives(files);
        for (index, w) in graph.workloads.iter().enumerate() {
            let o = &graph.objects[w.object];
            for (k, v) in &w.pod_labels {
                graph.by_label.entry((o.namespace, k.clone(), v.clone())).or_default().push(index);
            }
            graph.by_name.entry((o.namespace, o.kind, o.name)).or_default().push(index);
        }
        graph
    }

    /// Files of one unit that define the same workload or Service (kind,
    /// namespace, name) cannot be applied together: the second replaces
    /// the first. They are alternatives (`go-demo.yml` and
    /// `go-demo-hpa.yml`, each a whole variant of the app), so each becomes
    /// a unit of its own. Only files side by side in one directory: a
    /// bundle beside the manifests it bundles (`complete-demo.yaml` and
    /// `manifests/`) is not a variant. A Secret, ConfigMap or Namespace
    /// several files repeat is shared setup, not a variant (each service's
    /// file declaring the database's Secret).
    fn split_alternatives(&mut self, files: &[SourceFile]) {
        let dir = |file: usize| files.get(file).map_or("", |f| f.name.rsplit_once('/').map_or("", |(d, _)| d));
        let mut defined: HashMap<(usize, &str, Option<&str>, &str), usize> = HashMap::new();
        let mut alternatives: Vec<usize> = Vec::new();
        let defining = |kind: &str| {
            kubernetes::WORKLOADS.contains(&kind) || matches!(kind, "Service" | "Ingress" | "HorizontalPodAutoscaler")
        };
        for o in self.objects.iter().filter(|o| defining(o.kind)) {
            let key = (self.unit(o.file), o.kind, o.namespace, o.name);
            match defined.get(&key) {
                Some(&first) if first != o.file && dir(first) == dir(o.file) => alternatives.extend([first, o.file]),
                Some(_) => {}
                None => {
                    defined.insert(key, o.file);
                }
            }
        }
        // Fresh numbers past every directory's.
        let base = self.unit_of.len().max(self.unit_of.iter().max().map_or(0, |m| m + 1));
        for file in alternatives {
            if let Some(unit) = self.unit_of.get_mut(file) {
                *unit = base + file;
            }
        }
    }

    /// The deployment unit of `file`.
    pub fn unit(&self, file: usize) -> usize {
        self.unit_of.get(file).copied().unwrap_or(file)
    }

    /// Every declaration of a compose service (base file and overrides).
    pub fn compose_service<'g>(
        &'g self,
        project: &'g str,
        name: &'g str,
    ) -> impl Iterator<Item = &'g ComposeService<'a>> + 'g {
        self.compose.iter().filter(move |s| s.project == project && s.name == name)
    }

    /// Each compose service once, with every declaration of it (base file
    /// and overrides), in the order services first appear.
    pub fn compose_services(&self) -> Vec<Vec<&ComposeService<'a>>> {
        let mut seen: Vec<(&str, &str)> = Vec::new();
        let mut out = Vec::new();
        for s in &self.compose {
            if !seen.contains(&(s.project.as_str(), s.name)) {
                seen.push((s.project.as_str(), s.name));
                out.push(self.compose_service(&s.project, s.name).collect());
            }
        }
        out
    }

    /// The workload of this kind and name in `namespace`: the one in the
    /// deployment unit `unit`, else the only one in the tree. A reference
    /// by name is specific enough to cross directories (an `hpa/` folder
    /// beside its Deployment), unless several could be meant.
    pub fn workload_named(
        &self,
        unit: usize,
        namespace: Option<&str>,
        kind: &str,
        name: &str,
    ) -> Option<&Workload<'a>> {
        let all = self.by_name.get(&(namespace, kind, name))?;
        let mut candidates = all.iter().map(|i| &self.workloads[*i]);
        candidates.clone().find(|w| self.unit(self.objects[w.object].file) == unit).or_else(|| match all.len() {
            1 => candidates.next(),
            _ => None,
        })
    }

    /// [`Graph::selected`] within the deployment unit `unit`: what a
    /// selector links to, for rules that judge the link.
    pub fn selected_in<'g>(
        &'g self,
        unit: usize,
        namespace: Option<&'g str>,
        selector: &'g [(String, String)],
    ) -> impl Iterator<Item = &'g Workload<'a>> + 'g {
        self.selected(namespace, selector).filter(move |w| self.unit(self.objects[w.object].file) == unit)
    }

    /// The workload that object `object` is, if it is one.
    pub fn workload_of(&self, object: usize) -> Option<&Workload<'a>> {
        // Workloads are pushed in object order.
        self.workloads.binary_search_by_key(&object, |w| w.object).ok().map(|i| &self.workloads[i])
    }

    /// The workloads whose pods `selector` selects (same namespace),
    /// anywhere in the tree: for rules that say nothing is selected.
    pub fn selected<'g>(
        &'g self,
        namespace: Option<&'g str>,
        selector: &'g [(String, String)],
    ) -> impl Iterator<Item = &'g Workload<'a>> + 'g {
        // An empty selector selects every pod of the namespace; labels the
        // controller adds are in no template, so not in the index.
        let indexed = selector.iter().find(|(k, _)| k != kubernetes::POD_NAME && k != kubernetes::POD_INDEX);
        let candidates: Vec<usize> = match indexed {
            Some((k, v)) => self.by_label.get(&(namespace, k.clone(), v.clone())).cloned().unwrap_or_default(),
            None => (0..self.workloads.len())
                .filter(|i| self.objects[self.workloads[*i].object].namespace == namespace)
                .collect(),
        };
        candidates
            .into_iter()
            .map(|i| &self.workloads[i])
            .filter(move |w| selector.iter().all(|(k, v)| w.has_label(k, v)))
    }
}

/// "k8s/web.yaml:12" for messages that point at a second file.
pub fn place(files: &[SourceFile], file: usize, span: Span) -> String {
    let f = &files[file];
    format!("{}:{}", f.name, f.line_col(span.start).line)
}
