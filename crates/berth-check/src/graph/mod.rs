//! One graph of the deployment, built from every file: Kubernetes objects
//! and what they say about pods, ports and selectors; Dockerfiles. Rules
//! read the graph, never the raw files.

mod dockerfile;
mod kubernetes;
pub mod yaml;

use berth_diagnostics::{Code, SourceFile, Span};
use berth_spec::Node;

pub use dockerfile::{Dockerfile, Instruction};
pub use kubernetes::{
    Autoscaler, Container, ContainerPort, NetworkPolicy, Object, PolicyPeer, PortRef, Service, ServicePort, Workload,
};

use crate::{Finding, Kind};

/// A file that could not be read as what it claims to be.
pub const PARSE_ERROR: Code = Code::new("E001", "parse-error");

/// Parsed files, owned here so the graph can borrow from them.
#[derive(Debug, Default)]
pub struct Parsed {
    /// (file, YAML documents)
    pub yaml: Vec<(usize, Vec<Node>)>,
    pub dockerfiles: Vec<Dockerfile>,
}

impl Parsed {
    pub fn read(files: &[SourceFile], kinds: &[Kind], findings: &mut Vec<Finding>) -> Self {
        let mut parsed = Self::default();
        for (index, (file, kind)) in files.iter().zip(kinds).enumerate() {
            match kind {
                Kind::Kubernetes => match berth_spec::parse_documents(&file.text) {
                    Ok(docs) => parsed.yaml.push((index, docs)),
                    Err(mut d) => {
                        d.code = PARSE_ERROR;
                        d.message = format!("{} (the rest of the files are still checked)", d.message);
                        findings.push(Finding { file: index, diagnostic: d, suppressed: None });
                    }
                },
                Kind::Dockerfile => parsed.dockerfiles.push(Dockerfile::parse(index, &file.text)),
                _ => {}
            }
        }
        parsed
    }
}

#[derive(Debug, Default)]
pub struct Graph<'a> {
    pub objects: Vec<Object<'a>>,
    pub workloads: Vec<Workload<'a>>,
    pub services: Vec<Service<'a>>,
    pub network_policies: Vec<NetworkPolicy<'a>>,
    pub autoscalers: Vec<Autoscaler<'a>>,
    pub dockerfiles: &'a [Dockerfile],
    /// Every YAML document, for rules on the text itself (duplicate keys).
    pub documents: Vec<(usize, &'a Node)>,
}

impl<'a> Graph<'a> {
    pub fn build(parsed: &'a Parsed) -> Self {
        let mut graph = Graph { dockerfiles: &parsed.dockerfiles, ..Graph::default() };
        for (file, docs) in &parsed.yaml {
            for doc in docs {
                graph.documents.push((*file, doc));
                kubernetes::add(&mut graph, *file, doc);
            }
        }
        graph
    }

    /// The workloads whose pods `selector` selects (same namespace).
    pub fn selected<'g>(
        &'g self,
        namespace: Option<&'g str>,
        selector: &'g [(String, String)],
    ) -> impl Iterator<Item = &'g Workload<'a>> + 'g {
        self.workloads.iter().filter(move |w| {
            self.objects[w.object].namespace == namespace
                && selector.iter().all(|(k, v)| w.pod_labels.iter().any(|(wk, wv)| wk == k && wv == v))
        })
    }
}

/// "k8s/web.yaml:12" for messages that point at a second file.
pub fn place(files: &[SourceFile], file: usize, span: Span) -> String {
    let f = &files[file];
    format!("{}:{}", f.name, f.line_col(span.start).line)
}
