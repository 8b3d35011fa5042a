use crate::graph::yaml::{at, seq, str_at};
use crate::graph::{Workload, place};
use crate::rule::{Context, Rule, Sink};

use super::support::max_replicas;

crate::declare_rule! {
    /// A ReadWriteOnce volume attaches to one node. A Deployment with more
    /// than one replica (or an autoscaler allowed to add one), or two
    /// workloads, mounting the same claim works until a pod lands on a
    /// second node: it then hangs in `ContainerCreating` with a
    /// Multi-Attach error, typically during a rollout or a node drain.
    /// ReadWriteOncePod fails even on one node. A Job (or a Pod with
    /// `restartPolicy: Never`) that shares the claim with one other
    /// workload is not judged: it runs to completion,
    /// and the tree does not say whether before the other starts (a loader
    /// filling the volume for the server that reads it) or beside it.
    /// CronJobs run again and again beside what keeps running, and count.
    SharedRwoVolume {
        code: "X011",
        name: "shared-rwo-volume",
        severity: Error,
        fix: "use a StatefulSet with `volumeClaimTemplates` (one volume per replica), a ReadWriteMany storage class, or one replica with `strategy: Recreate`",
    }
}

impl Rule for SharedRwoVolume {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let graph = cx.graph;
        for claim in graph.objects.iter().filter(|o| o.kind == "PersistentVolumeClaim") {
            let modes: Vec<&str> =
                seq(at(claim.node, &["spec", "accessModes"])).iter().filter_map(|m| m.as_str()).collect();
            let single = !modes.is_empty() && modes.iter().all(|m| *m == "ReadWriteOnce" || *m == "ReadWriteOncePod");
            if !single {
                continue;
            }
            let users: Vec<(&Workload<'_>, berth_diagnostics::Span)> = graph
                .workloads
                .iter()
                .filter(|w| graph.objects[w.object].namespace == claim.namespace)
                .filter(|w| graph.unit(graph.objects[w.object].file) == graph.unit(claim.file))
                .filter_map(|w| {
                    seq(at(w.pod, &["volumes"]))
                        .iter()
                        .find(|v| str_at(v, &["persistentVolumeClaim", "claimName"]) == Some(claim.name))
                        .and_then(|v| at(v, &["persistentVolumeClaim", "claimName"]))
                        .map(|n| (w, n.span))
                })
                .collect();
            for (w, span) in &users {
                let o = &graph.objects[w.object];
                let replicas = max_replicas(cx.graph, w);
                if replicas > 1 {
                    sink.report(
                        o.file,
                        *span,
                        format!(
                            "{} runs up to {replicas} replicas on the {} claim `{}` ({})",
                            o.title(),
                            modes.join("/"),
                            claim.name,
                            place(cx.files, claim.file, claim.span)
                        ),
                    );
                }
            }
            // A Job runs to completion: whether it runs before, after or
            // beside another mounter (a loader that fills the volume for
            // the server that reads it) the tree does not say, so only
            // workloads that keep running are judged together.
            let running: Vec<&(&Workload<'_>, berth_diagnostics::Span)> =
                users.iter().filter(|(w, _)| !w.runs_to_completion(graph.objects[w.object].kind)).collect();
            if running.len() > 1 {
                let names: Vec<String> = running.iter().map(|(w, _)| graph.objects[w.object].title()).collect();
                let (w, span) = *running[1];
                sink.report(
                    graph.objects[w.object].file,
                    span,
                    format!("{} all mount the {} claim `{}`", names.join(", "), modes.join("/"), claim.name),
                );
            }
        }
    }
}
