//! Kustomize, as far as the rules read it. The objects a kustomization
//! deploys are what `kustomize build` makes of its resources, so the rules
//! see them that way:
//!
//! - Patch files (`patches[].path`, `patchesStrategicMerge`,
//!   `patchesJson6902[].path`) are partial objects, never objects of their
//!   own: they leave the Kubernetes inputs (their documents stay plain YAML,
//!   for duplicate keys) and are merged into what they patch.
//! - Strategic merge patches (files, inline `patch:` strings, with or
//!   without a `target:` by kind and name) merge as Kubernetes does: maps
//!   key by key, `null` and `$patch: delete` remove, containers, env and
//!   volumes by `name`, ports by `containerPort` (a Service's by `port`),
//!   other lists replaced. JSON 6902 patches apply `add`, `replace` and
//!   `remove` on plain paths; a patch with any other operation, or a path
//!   that is not there, is not applied at all.
//! - `namespace:`, `images:`, `replicas:`, `commonLabels:`, `labels:` and
//!   `commonAnnotations:` rewrite the objects of their kustomization.
//! - `namePrefix`/`nameSuffix` are not applied: kustomize renames every
//!   reference along (Ingress backends, volumes, `scaleTargetRef`), and the
//!   names as written already link to each other.
//!
//! A patch whose target is not certain (a `labelSelector`, a name pattern)
//! is not applied: the object stays as its file writes it.
//!
//! Which view of an object the rules see: a kustomization that no other
//! one names (in `resources:`, `bases:` or `components:`) is what gets
//! deployed; one that others name is a base, deployed through them. An
//! object deployed by one kustomization is seen as that one builds it. An
//! object several build (a base under `overlays/dev` and `overlays/prod`)
//! is seen as what they all deploy: a field is there when every one of them
//! has it (so a fix in one overlay only does not hide the finding the
//! other overlay still deploys), and a value they set differently is the
//! first one's. Labels reach the selectors of such a shared object only
//! through the base itself: adding an overlay's labels to a selector could
//! make it miss pods another overlay labels otherwise.
//!
//! Findings stay where the user fixes them: a field a patch changes keeps
//! the place of the field it replaces, and a field a patch adds points at
//! the object's field it was added under, in the base's file.

use std::collections::{HashMap, HashSet};

use berth_diagnostics::{SourceFile, Span};
use berth_spec::{Entry, Key, Node, NodeKind};

use super::Parsed;
use super::units::{KUSTOMIZATIONS, normalize, split};
use super::yaml::{at, bool_at, int_at, seq, str_at};

/// What an entry of `resources:` names.
#[derive(Debug, Clone, Copy)]
enum Ref {
    File(usize),
    /// Index into the kustomizations.
    Kustomization(usize),
}

/// The objects a patch applies to.
#[derive(Debug)]
struct Target {
    kind: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
}

#[derive(Debug)]
enum Body {
    Strategic(Node),
    /// The operations of a JSON 6902 patch.
    Json(Vec<Node>),
}

#[derive(Debug)]
struct Patch {
    body: Body,
    target: Target,
}

#[derive(Debug)]
struct ImageRule {
    name: String,
    new_name: Option<String>,
    new_tag: Option<String>,
    digest: Option<String>,
}

#[derive(Debug)]
struct LabelSet {
    pairs: Vec<(String, Node)>,
    selectors: bool,
    templates: bool,
}

#[derive(Debug, Default)]
struct Kustomization {
    component: bool,
    resources: Vec<Ref>,
    components: Vec<usize>,
    /// `patchesStrategicMerge`, then `patches`: applied first.
    patches: Vec<Patch>,
    /// `patchesJson6902`: applied after namespace and labels.
    json_patches: Vec<Patch>,
    namespace: Option<String>,
    labels: Vec<LabelSet>,
    annotations: Vec<(String, Node)>,
    replicas: Vec<(String, i64)>,
    images: Vec<ImageRule>,
}

/// The files of the tree, for resolving what kustomizations name.
struct Tree<'f> {
    files: &'f [SourceFile],
    /// Normalized path → file.
    by_path: HashMap<String, usize>,
    /// Directory → index into the kustomizations.
    dirs: HashMap<String, usize>,
}

impl Tree<'_> {
    fn resolve(&self, dir: &str, reference: &str) -> Option<Ref> {
        // Remote bases (`github.com/...?ref=`) are outside the tree.
        if reference.contains("://") || reference.contains('?') || reference.starts_with("git@") {
            return None;
        }
        let target = normalize(&format!("{dir}/{reference}"))?;
        if let Some(&file) = self.by_path.get(&target) {
            return Some(Ref::File(file));
        }
        self.dirs.get(&target).map(|&k| Ref::Kustomization(k))
    }

    fn file(&self, dir: &str, reference: &str) -> Option<usize> {
        match self.resolve(dir, reference)? {
            Ref::File(file) => Some(file),
            Ref::Kustomization(_) => None,
        }
    }

    fn parse(&self, file: usize) -> Vec<Node> {
        self.files.get(file).and_then(|f| berth_spec::parse_documents(&f.text).ok()).unwrap_or_default()
    }
}

/// Files kustomizations name, by role.
#[derive(Debug, Default)]
struct Found {
    resources: HashSet<usize>,
    patches: HashSet<usize>,
}

/// Applies every kustomization among `files` to the objects it deploys, in
/// place in `parsed.yaml`, and moves patch files out of the Kubernetes
/// inputs into `parsed.plain`. Pure: kustomizations are read from the
/// files' text.
pub fn apply(parsed: &mut Parsed, files: &[SourceFile]) {
    let mut tree = Tree { files, by_path: HashMap::new(), dirs: HashMap::new() };
    let mut kustomization_files: Vec<(usize, String)> = Vec::new();
    for (index, f) in files.iter().enumerate() {
        let Some(path) = normalize(&f.name) else { continue };
        let (dir, name) = split(&path);
        if KUSTOMIZATIONS.contains(&name) && !tree.dirs.contains_key(dir) {
            tree.dirs.insert(dir.to_owned(), kustomization_files.len());
            kustomization_files.push((index, dir.to_owned()));
        }
        tree.by_path.entry(path).or_insert(index);
    }
    if kustomization_files.is_empty() {
        return;
    }
    let mut found = Found::default();
    let kustomizations: Vec<Kustomization> = kustomization_files
        .iter()
        .map(|(file, dir)| {
            let doc = tree.parse(*file).into_iter().next();
            doc.map(|doc| read(&doc, dir, &tree, &mut found)).unwrap_or_default()
        })
        .collect();
    let docs: HashMap<usize, &[Node]> = parsed.yaml.iter().map(|(file, docs)| (*file, docs.as_slice())).collect();
    let mut named: HashSet<usize> = HashSet::new();
    for k in &kustomizations {
        named.extend(k.resources.iter().filter_map(|r| match r {
            Ref::Kustomization(k) => Some(*k),
            Ref::File(_) => None,
        }));
        named.extend(k.components.iter().copied());
    }
    let roots: Vec<usize> =
        (0..kustomizations.len()).filter(|k| !kustomizations[*k].component && !named.contains(k)).collect();
    let mut deployed_by: HashMap<usize, usize> = HashMap::new();
    let mut built_by = vec![0; kustomizations.len()];
    for &root in &roots {
        let mut reached = HashSet::new();
        let mut through = HashSet::new();
        closure(&kustomizations, root, &mut through, &mut reached);
        for file in reached {
            *deployed_by.entry(file).or_default() += 1;
        }
        for k in through {
            built_by[k] += 1;
        }
    }
    let build = Build { kustomizations: &kustomizations, docs, deployed_by: &deployed_by, built_by: &built_by };
    // (file, document) → the object as every deployed kustomization deploys it.
    let mut views: HashMap<(usize, usize), Node> = HashMap::new();
    for &root in &roots {
        let mut seen = HashSet::new();
        for res in build.build(root, &mut Vec::new()) {
            if !seen.insert((res.file, res.doc)) {
                continue;
            }
            match views.entry((res.file, res.doc)) {
                std::collections::hash_map::Entry::Occupied(mut view) => intersect(view.get_mut(), &res.node),
                std::collections::hash_map::Entry::Vacant(view) => {
                    view.insert(res.node);
                }
            }
        }
    }
    for (file, docs) in &mut parsed.yaml {
        for (index, doc) in docs.iter_mut().enumerate() {
            if let Some(view) = views.remove(&(*file, index))
                && view != *doc
            {
                *doc = view;
            }
        }
    }
    // A file some kustomization lists as a resource is whole, whatever
    // another one does with it.
    let patches: HashSet<usize> = found.patches.difference(&found.resources).copied().collect();
    if !patches.is_empty() {
        let (partial, whole): (Vec<_>, Vec<_>) =
            std::mem::take(&mut parsed.yaml).into_iter().partition(|(file, _)| patches.contains(file));
        parsed.yaml = whole;
        parsed.plain.extend(partial);
    }
}

/// Every resource file `k` deploys, through bases and components.
fn closure(kustomizations: &[Kustomization], k: usize, visited: &mut HashSet<usize>, files: &mut HashSet<usize>) {
    if !visited.insert(k) {
        return;
    }
    let Some(kustomization) = kustomizations.get(k) else { return };
    for r in &kustomization.resources {
        match *r {
            Ref::File(file) => {
                files.insert(file);
            }
            Ref::Kustomization(base) => closure(kustomizations, base, visited, files),
        }
    }
    for &c in &kustomization.components {
        closure(kustomizations, c, visited, files);
    }
}

fn read(doc: &Node, dir: &str, tree: &Tree<'_>, found: &mut Found) -> Kustomization {
    let mut k = Kustomization { component: str_at(doc, &["kind"]) == Some("Component"), ..Kustomization::default() };
    for key in ["resources", "bases"] {
        for reference in seq(at(doc, &[key])).iter().filter_map(Node::as_str) {
            if let Some(r) = tree.resolve(dir, reference) {
                if let Ref::File(file) = r {
                    found.resources.insert(file);
                }
                k.resources.push(r);
            }
        }
    }
    for reference in seq(at(doc, &["components"])).iter().filter_map(Node::as_str) {
        if let Some(Ref::Kustomization(c)) = tree.resolve(dir, reference) {
            k.components.push(c);
        }
    }
    // A path, or (kustomize tries the file first) the patch itself.
    for entry in seq(at(doc, &["patchesStrategicMerge"])).iter().filter_map(Node::as_str) {
        let docs = match tree.file(dir, entry) {
            Some(file) => {
                found.patches.insert(file);
                tree.parse(file)
            }
            None => berth_spec::parse_documents(entry).unwrap_or_default(),
        };
        k.patches.extend(
            bodies(docs).into_iter().filter(|b| matches!(b, Body::Strategic(_))).filter_map(|b| patch(b, None)),
        );
    }
    for (key, json_only) in [("patches", false), ("patchesJson6902", true)] {
        for entry in seq(at(doc, &[key])) {
            let docs = if let Some(path) = str_at(entry, &["path"]) {
                let Some(file) = tree.file(dir, path) else { continue };
                found.patches.insert(file);
                tree.parse(file)
            } else if let Some(text) = str_at(entry, &["patch"]) {
                berth_spec::parse_documents(text).unwrap_or_default()
            } else {
                continue;
            };
            let patches = bodies(docs)
                .into_iter()
                .filter(|b| !json_only || matches!(b, Body::Json(_)))
                .filter_map(|b| patch(b, at(entry, &["target"])));
            if json_only {
                k.json_patches.extend(patches);
            } else {
                k.patches.extend(patches);
            }
        }
    }
    k.namespace = str_at(doc, &["namespace"]).map(str::to_owned);
    if let Some(common) = at(doc, &["commonLabels"]) {
        k.labels.push(LabelSet { pairs: pairs(common), selectors: true, templates: true });
    }
    for set in seq(at(doc, &["labels"])) {
        let selectors = bool_at(set, &["includeSelectors"]).unwrap_or(false);
        k.labels.push(LabelSet {
            pairs: at(set, &["pairs"]).map(pairs).unwrap_or_default(),
            selectors,
            templates: selectors || bool_at(set, &["includeTemplates"]).unwrap_or(false),
        });
    }
    k.annotations = at(doc, &["commonAnnotations"]).map(pairs).unwrap_or_default();
    for r in seq(at(doc, &["replicas"])) {
        if let (Some(name), Some(count)) = (str_at(r, &["name"]), int_at(r, &["count"])) {
            k.replicas.push((name.to_owned(), count));
        }
    }
    for image in seq(at(doc, &["images"])) {
        let Some(name) = str_at(image, &["name"]) else { continue };
        let text = |key: &str| at(image, &[key]).and_then(Node::scalar_text).filter(|t| !t.is_empty());
        k.images.push(ImageRule {
            name: name.to_owned(),
            new_name: text("newName"),
            new_tag: text("newTag"),
            digest: text("digest"),
        });
    }
    k
}

/// A mapping's entries as string values (labels, annotations).
fn pairs(node: &Node) -> Vec<(String, Node)> {
    node.as_map()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| Some((e.key.name.clone(), Node::new(NodeKind::Str(e.value.scalar_text()?), e.value.span))))
        .collect()
}

/// The patches in a patch's documents: one list of operations (JSON
/// 6902), or strategic merge patches, one per document.
fn bodies(docs: Vec<Node>) -> Vec<Body> {
    let json = docs.len() == 1 && docs.iter().all(|d| matches!(d.kind, NodeKind::Seq(_)));
    docs.into_iter()
        .filter_map(|d| {
            if d.as_map().is_some() {
                return Some(Body::Strategic(d));
            }
            match d.kind {
                NodeKind::Seq(ops) if json => Some(Body::Json(ops)),
                _ => None,
            }
        })
        .collect()
}

/// The patch with its target: the `target:` given, else the kind and name
/// a strategic merge patch names. `None` when what it patches is not certain.
fn patch(body: Body, target: Option<&Node>) -> Option<Patch> {
    let target = match (target, &body) {
        (Some(t), _) => selector(t)?,
        (None, Body::Strategic(p)) => Target {
            kind: Some(str_at(p, &["kind"])?.to_owned()),
            name: Some(str_at(p, &["metadata", "name"])?.to_owned()),
            namespace: str_at(p, &["metadata", "namespace"]).map(str::to_owned),
        },
        (None, Body::Json(_)) => return None,
    };
    Some(Patch { body, target })
}

/// A `target:` by kind and name. `None` for selectors by label or
/// annotation, and names or kinds written as patterns (kustomize reads
/// them as regular expressions).
fn selector(node: &Node) -> Option<Target> {
    if at(node, &["labelSelector"]).is_some() || at(node, &["annotationSelector"]).is_some() {
        return None;
    }
    let kind = str_at(node, &["kind"]).map(str::to_owned);
    let name = str_at(node, &["name"]).map(str::to_owned);
    let pattern = |s: &Option<String>| {
        s.as_deref().is_some_and(|s| s.contains(['*', '+', '?', '|', '[', ']', '(', ')', '{', '}', '^', '$', '\\']))
    };
    if (kind.is_none() && name.is_none()) || pattern(&kind) || pattern(&name) {
        return None;
    }
    Some(Target { kind, name, namespace: str_at(node, &["namespace"]).map(str::to_owned) })
}

/// One object on its way through kustomizations.
#[derive(Debug)]
struct Res {
    file: usize,
    /// Index of the document in its file.
    doc: usize,
    node: Node,
    /// Where added fields point: the object's name.
    anchor: Span,
}

struct Build<'p> {
    kustomizations: &'p [Kustomization],
    docs: HashMap<usize, &'p [Node]>,
    /// How many deployed kustomizations deploy each file.
    deployed_by: &'p HashMap<usize, usize>,
    /// How many deployed kustomizations build each kustomization.
    built_by: &'p [usize],
}

impl Build<'_> {
    fn build(&self, k: usize, visiting: &mut Vec<usize>) -> Vec<Res> {
        let mut out = Vec::new();
        self.accumulate(k, &mut out, visiting);
        out
    }

    /// Adds what `k` deploys to `out` and applies its transformations to
    /// all of `out`: a component's act on what its parent has so far.
    fn accumulate(&self, k: usize, out: &mut Vec<Res>, visiting: &mut Vec<usize>) {
        if visiting.contains(&k) {
            return;
        }
        let Some(kustomization) = self.kustomizations.get(k) else { return };
        visiting.push(k);
        for r in &kustomization.resources {
            match *r {
                Ref::File(file) => out.extend(self.objects(file)),
                Ref::Kustomization(base) => {
                    let built = self.build(base, visiting);
                    out.extend(built);
                }
            }
        }
        for &c in &kustomization.components {
            self.accumulate(c, out, visiting);
        }
        // A kustomization's labels reach a file's selectors when every
        // deployment of that file goes through it (the base itself, not
        // one of several overlays over it).
        let everywhere = |file: usize| self.deployed_by.get(&file).copied().unwrap_or(0) <= self.built_by[k];
        transform(kustomization, out, everywhere);
        visiting.pop();
    }

    fn objects(&self, file: usize) -> impl Iterator<Item = Res> + '_ {
        self.docs
            .get(&file)
            .copied()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter(|(_, node)| str_at(node, &["kind"]).is_some_and(|k| !k.ends_with("List")))
            .map(move |(doc, node)| Res {
                file,
                doc,
                node: node.clone(),
                anchor: at(node, &["metadata", "name"]).map_or(node.span, |n| n.span),
            })
    }
}

/// Kinds that have no namespace: `namespace:` leaves them alone.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "ClusterIssuer",
    "PodSecurityPolicy",
    "VolumeSnapshotClass",
    "Node",
    "CertificateSigningRequest",
    "ValidatingAdmissionPolicy",
];

/// Workload kinds whose pod template is `spec.template`.
const TEMPLATED: [&str; 7] =
    ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "DeploymentConfig", "Job"];

/// One kustomization's own changes, in kustomize's order.
fn transform(k: &Kustomization, out: &mut [Res], everywhere: impl Fn(usize) -> bool) {
    for p in &k.patches {
        apply_patch(out, p);
    }
    if let Some(namespace) = &k.namespace {
        for res in out.iter_mut() {
            let kind = str_at(&res.node, &["kind"]).unwrap_or("");
            if !CLUSTER_SCOPED.contains(&kind) {
                let value = Node::new(NodeKind::Str(namespace.clone()), res.anchor);
                put(&mut res.node, &["metadata"], "namespace", &value, res.anchor);
            }
        }
    }
    for set in &k.labels {
        for res in out.iter_mut() {
            let selectors = set.selectors && everywhere(res.file);
            add_labels(&mut res.node, set, selectors, res.anchor);
        }
    }
    if !k.annotations.is_empty() {
        for res in out.iter_mut() {
            let kind = str_at(&res.node, &["kind"]).unwrap_or("").to_owned();
            put_pairs(&mut res.node, &["metadata"], "annotations", &k.annotations, true, res.anchor);
            for template in templates(&kind) {
                put_pairs(&mut res.node, template, "annotations", &k.annotations, true, res.anchor);
            }
        }
    }
    for p in &k.json_patches {
        apply_patch(out, p);
    }
    for (name, count) in &k.replicas {
        for res in out.iter_mut() {
            let kind = str_at(&res.node, &["kind"]).unwrap_or("");
            if matches!(kind, "Deployment" | "StatefulSet" | "ReplicaSet" | "ReplicationController")
                && str_at(&res.node, &["metadata", "name"]) == Some(name.as_str())
            {
                let value = Node::new(NodeKind::Int(i128::from(*count)), res.anchor);
                put(&mut res.node, &["spec"], "replicas", &value, res.anchor);
            }
        }
    }
    if !k.images.is_empty() {
        for res in out.iter_mut() {
            rewrite_images(&mut res.node, &k.images);
        }
    }
}

/// The metadata of the pod templates of a kind.
fn templates(kind: &str) -> &'static [&'static [&'static str]] {
    const POD: &[&[&str]] = &[&["spec", "template", "metadata"]];
    const CRON: &[&[&str]] =
        &[&["spec", "jobTemplate", "metadata"], &["spec", "jobTemplate", "spec", "template", "metadata"]];
    match kind {
        "CronJob" => CRON,
        k if TEMPLATED.contains(&k) => POD,
        _ => &[],
    }
}

fn apply_patch(out: &mut [Res], patch: &Patch) {
    let target = &patch.target;
    let mut hits: Vec<usize> = (0..out.len())
        .filter(|&i| {
            let node = &out[i].node;
            target.kind.as_deref().is_none_or(|k| str_at(node, &["kind"]) == Some(k))
                && target.name.as_deref().is_none_or(|n| str_at(node, &["metadata", "name"]) == Some(n))
        })
        .collect();
    // The namespace only tells apart objects of one kind and name.
    if hits.len() > 1
        && let Some(namespace) = target.namespace.as_deref()
    {
        let same: Vec<usize> = hits
            .iter()
            .copied()
            .filter(|&i| str_at(&out[i].node, &["metadata", "namespace"]) == Some(namespace))
            .collect();
        if !same.is_empty() {
            hits = same;
        }
    }
    for i in hits {
        let res = &mut out[i];
        match &patch.body {
            Body::Strategic(p) => strategic(&mut res.node, p, res.anchor),
            Body::Json(ops) => {
                json(&mut res.node, ops, res.anchor);
            }
        }
    }
}

/// Merges a strategic merge patch into an object. A patch that deletes or
/// replaces the whole object (`$patch` at its top) is not applied.
fn strategic(doc: &mut Node, patch: &Node, anchor: Span) {
    if at(patch, &["$patch"]).is_some() {
        return;
    }
    // Custom resources merge as JSON merge patches: lists are replaced.
    let keyed = str_at(doc, &["apiVersion"]).is_some_and(|v| {
        let group = v.rsplit_once('/').map_or("", |(g, _)| g);
        !group.contains('.') || group.ends_with(".k8s.io")
    });
    let mut patch = patch.clone();
    // What names the target does not rename it.
    if let NodeKind::Map(entries) = &mut patch.kind {
        entries.retain(|e| e.key.name != "apiVersion" && e.key.name != "kind");
        if let Some(meta) = entries.iter_mut().find(|e| e.key.name == "metadata")
            && let NodeKind::Map(fields) = &mut meta.value.kind
        {
            fields.retain(|e| e.key.name != "name" && e.key.name != "namespace");
        }
    }
    merge_map(doc, &patch, anchor, keyed);
}

fn is_null(node: &Node) -> bool {
    matches!(node.kind, NodeKind::Null)
}

fn merge_map(base: &mut Node, patch: &Node, anchor: Span, keyed: bool) {
    let Some(changes) = patch.as_map() else { return };
    let NodeKind::Map(entries) = &mut base.kind else { return };
    for change in changes {
        let key = change.key.name.as_str();
        // `$retainKeys`, `$setElementOrder/...`: ordering, nothing the rules read.
        if key.starts_with('$') {
            continue;
        }
        let directive = str_at(&change.value, &["$patch"]);
        let remove = is_null(&change.value) || directive == Some("delete");
        match entries.iter().position(|e| e.key.name == key) {
            Some(i) if remove => {
                entries.remove(i);
            }
            Some(i) => {
                let entry = &mut entries[i];
                if directive == Some("replace") {
                    entry.value = anchored(&change.value, entry.key.span, true);
                } else {
                    merge_value(&mut entry.value, key, &change.value, entry.key.span, keyed);
                }
            }
            None if remove => {}
            None => entries.push(Entry {
                key: Key { name: key.to_owned(), span: anchor, is_text: true },
                value: anchored(&change.value, anchor, true),
            }),
        }
    }
}

fn merge_value(base: &mut Node, field: &str, patch: &Node, anchor: Span, keyed: bool) {
    let maps = base.as_map().is_some() && patch.as_map().is_some();
    let lists = matches!((&base.kind, &patch.kind), (NodeKind::Seq(_), NodeKind::Seq(_)));
    if maps {
        merge_map(base, patch, anchor, keyed);
    } else if lists {
        merge_list(base, field, patch, anchor, keyed);
    } else if patch.is_collection() {
        *base = anchored(patch, anchor, true);
    } else {
        // A new value where the old one was written.
        base.kind = patch.kind.clone();
    }
}

/// The key Kubernetes merges the items of a list by; `None`: the list is
/// replaced.
fn merge_key(field: &str, changes: &[Node]) -> Option<&'static str> {
    match field {
        "containers" | "initContainers" | "ephemeralContainers" | "env" | "volumes" | "imagePullSecrets" => {
            Some("name")
        }
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "hostAliases" => Some("ip"),
        // A container's ports merge by `containerPort`, a Service's by `port`.
        "ports" if changes.iter().any(|c| c.get("containerPort").is_some()) => Some("containerPort"),
        "ports" if changes.iter().any(|c| c.get("port").is_some()) => Some("port"),
        _ => None,
    }
}

fn merge_list(base: &mut Node, field: &str, patch: &Node, anchor: Span, keyed: bool) {
    let changes = seq(Some(patch));
    let replace = changes.iter().any(|c| str_at(c, &["$patch"]) == Some("replace"));
    let key = if keyed && !replace { merge_key(field, changes) } else { None };
    let NodeKind::Seq(items) = &mut base.kind else { return };
    let Some(key) = key else {
        *items = changes.iter().filter(|c| at(c, &["$patch"]).is_none()).map(|c| anchored(c, anchor, true)).collect();
        return;
    };
    for change in changes {
        let id = change.get(key).and_then(|e| e.value.scalar_text());
        let delete = str_at(change, &["$patch"]) == Some("delete");
        let position = id.as_deref().and_then(|id| {
            items.iter().position(|item| item.get(key).and_then(|e| e.value.scalar_text()).as_deref() == Some(id))
        });
        match position {
            Some(i) if delete => {
                items.remove(i);
            }
            Some(i) => {
                let item = &mut items[i];
                let anchor = item.get(key).map_or(item.span, |e| e.value.span);
                merge_map(item, change, anchor, keyed);
            }
            None if delete => {}
            None => items.push(anchored(change, anchor, true)),
        }
    }
}

/// A copy of `node` placed at `span` (a patch's own places are in another
/// file), without `$patch`-style directives when `directives` is set.
fn anchored(node: &Node, span: Span, directives: bool) -> Node {
    let kind = match &node.kind {
        NodeKind::Map(entries) => NodeKind::Map(
            entries
                .iter()
                .filter(|e| !(directives && e.key.name.starts_with('$')))
                .map(|e| Entry {
                    key: Key { name: e.key.name.clone(), span, is_text: e.key.is_text },
                    value: anchored(&e.value, span, directives),
                })
                .collect(),
        ),
        NodeKind::Seq(items) => NodeKind::Seq(
            items
                .iter()
                .filter(|i| !(directives && at(i, &["$patch"]).is_some()))
                .map(|i| anchored(i, span, directives))
                .collect(),
        ),
        other => other.clone(),
    };
    Node::new(kind, span)
}

/// Applies a JSON 6902 patch, all of it or (when an operation cannot be
/// applied) none of it. Whether it was applied.
fn json(doc: &mut Node, ops: &[Node], anchor: Span) -> bool {
    let mut work = doc.clone();
    if ops.iter().all(|op| json_op(&mut work, op, anchor).is_some()) {
        *doc = work;
        true
    } else {
        false
    }
}

fn json_op(doc: &mut Node, op: &Node, anchor: Span) -> Option<()> {
    let action = str_at(op, &["op"])?;
    let tokens: Vec<String> =
        str_at(op, &["path"])?.strip_prefix('/')?.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect();
    let (last, parents) = tokens.split_last()?;
    let mut anchor = anchor;
    let mut node: &mut Node = doc;
    for token in parents {
        node = child(node, token, &mut anchor)?;
    }
    match (action, &mut node.kind) {
        ("add" | "replace", NodeKind::Map(entries)) => {
            let value = at(op, &["value"])?;
            match entries.iter_mut().find(|e| e.key.name == *last) {
                Some(entry) => entry.value = anchored(value, entry.value.span, false),
                None if action == "add" => entries.push(Entry {
                    key: Key { name: last.clone(), span: anchor, is_text: true },
                    value: anchored(value, anchor, false),
                }),
                None => return None,
            }
        }
        ("add", NodeKind::Seq(items)) => {
            let value = at(op, &["value"])?;
            let index = if last == "-" { items.len() } else { last.parse().ok()? };
            if index > items.len() {
                return None;
            }
            items.insert(index, anchored(value, anchor, false));
        }
        ("replace", NodeKind::Seq(items)) => {
            let value = at(op, &["value"])?;
            let slot = items.get_mut(last.parse::<usize>().ok()?)?;
            *slot = anchored(value, slot.span, false);
        }
        ("remove", NodeKind::Map(entries)) => {
            let i = entries.iter().position(|e| e.key.name == *last)?;
            entries.remove(i);
        }
        ("remove", NodeKind::Seq(items)) => {
            let i: usize = last.parse().ok()?;
            if i >= items.len() {
                return None;
            }
            items.remove(i);
        }
        _ => return None,
    }
    Some(())
}

/// One step of a JSON pointer.
fn child<'n>(node: &'n mut Node, token: &str, anchor: &mut Span) -> Option<&'n mut Node> {
    match &mut node.kind {
        NodeKind::Map(entries) => {
            let entry = entries.iter_mut().find(|e| e.key.name == token)?;
            *anchor = entry.key.span;
            Some(&mut entry.value)
        }
        NodeKind::Seq(items) => {
            let item = items.get_mut(token.parse::<usize>().ok()?)?;
            *anchor = item.span;
            Some(item)
        }
        _ => None,
    }
}

/// The node at `path` of nested mappings, to change.
fn at_mut<'n>(node: &'n mut Node, path: &[&str]) -> Option<&'n mut Node> {
    let mut node = node;
    for key in path {
        node = match &mut node.kind {
            NodeKind::Map(entries) => &mut entries.iter_mut().find(|e| e.key.name == *key)?.value,
            _ => return None,
        };
    }
    Some(node)
}

/// Sets `key` of the mapping at `parent` (which must be there) to `value`:
/// in the old value's place, else added at `anchor`.
fn put(doc: &mut Node, parent: &[&str], key: &str, value: &Node, anchor: Span) {
    let Some(NodeKind::Map(entries)) = at_mut(doc, parent).map(|n| &mut n.kind) else { return };
    match entries.iter_mut().find(|e| e.key.name == key) {
        Some(entry) => entry.value = anchored(value, entry.value.span, false),
        None => entries.push(Entry {
            key: Key { name: key.to_owned(), span: anchor, is_text: true },
            value: anchored(value, anchor, false),
        }),
    }
}

/// Adds `pairs` to the mapping `key` of the mapping at `parent` (which
/// must be there); `create`: make the mapping when it is missing.
fn put_pairs(doc: &mut Node, parent: &[&str], key: &str, pairs: &[(String, Node)], create: bool, anchor: Span) {
    let Some(NodeKind::Map(entries)) = at_mut(doc, parent).map(|n| &mut n.kind) else { return };
    let position = entries.iter().position(|e| e.key.name == key);
    let map = match position {
        Some(i) => &mut entries[i].value,
        None if create => {
            entries.push(Entry {
                key: Key { name: key.to_owned(), span: anchor, is_text: true },
                value: Node::new(NodeKind::Map(Vec::new()), anchor),
            });
            let last = entries.len() - 1;
            &mut entries[last].value
        }
        None => return,
    };
    if is_null(map) && create {
        map.kind = NodeKind::Map(Vec::new());
    }
    for (name, value) in pairs {
        put(map, &[], name, value, anchor);
    }
}

/// Kustomize's label fields for one object: its own labels always, its pod
/// templates' when `set.templates`, its selectors when `selectors`.
fn add_labels(doc: &mut Node, set: &LabelSet, selectors: bool, anchor: Span) {
    let kind = str_at(doc, &["kind"]).unwrap_or("").to_owned();
    let pairs = &set.pairs;
    put_pairs(doc, &["metadata"], "labels", pairs, true, anchor);
    if set.templates {
        for template in templates(&kind) {
            put_pairs(doc, template, "labels", pairs, true, anchor);
        }
    }
    if !selectors {
        return;
    }
    // Selectors that are not written stay unwritten: a Service without a
    // selector has its endpoints managed some other way.
    match kind.as_str() {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => {
            put_pairs(doc, &["spec", "selector"], "matchLabels", pairs, true, anchor);
        }
        "ReplicationController" | "DeploymentConfig" | "Service" => {
            put_pairs(doc, &["spec"], "selector", pairs, false, anchor);
        }
        "Job" | "PodDisruptionBudget" => put_pairs(doc, &["spec", "selector"], "matchLabels", pairs, false, anchor),
        "CronJob" => put_pairs(doc, &["spec", "jobTemplate", "spec", "selector"], "matchLabels", pairs, false, anchor),
        "NetworkPolicy" => {
            put_pairs(doc, &["spec", "podSelector"], "matchLabels", pairs, false, anchor);
            for (direction, peers) in [("ingress", "from"), ("egress", "to")] {
                let Some(NodeKind::Seq(rules)) = at_mut(doc, &["spec", direction]).map(|n| &mut n.kind) else {
                    continue;
                };
                for rule in rules.iter_mut() {
                    let Some(NodeKind::Seq(list)) = at_mut(rule, &[peers]).map(|n| &mut n.kind) else { continue };
                    for peer in list.iter_mut() {
                        put_pairs(peer, &["podSelector"], "matchLabels", pairs, false, anchor);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Rewrites the image of every container (`containers`, `initContainers`,
/// `ephemeralContainers`, wherever they are in the object) that `images:`
/// names.
fn rewrite_images(node: &mut Node, images: &[ImageRule]) {
    match &mut node.kind {
        NodeKind::Map(entries) => {
            for entry in entries.iter_mut() {
                if matches!(entry.key.name.as_str(), "containers" | "initContainers" | "ephemeralContainers")
                    && let NodeKind::Seq(containers) = &mut entry.value.kind
                {
                    for c in containers.iter_mut() {
                        if let Some(image) = at_mut(c, &["image"])
                            && let NodeKind::Str(s) = &mut image.kind
                            && let Some(new) = rewritten(s, images)
                        {
                            *s = new;
                        }
                    }
                } else {
                    rewrite_images(&mut entry.value, images);
                }
            }
        }
        NodeKind::Seq(items) => items.iter_mut().for_each(|i| rewrite_images(i, images)),
        _ => {}
    }
}

/// The image `images:` makes of `image`, if a rule names it: `newName`
/// replaces the name, `digest` (before `newTag`) the tag.
fn rewritten(image: &str, rules: &[ImageRule]) -> Option<String> {
    let (rest, digest) = image.split_once('@').map_or((image, None), |(r, d)| (r, Some(d)));
    let last = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last..].split_once(':') {
        Some((_, tag)) => (&rest[..rest.len() - tag.len() - 1], Some(tag)),
        None => (rest, None),
    };
    let rule = rules.iter().find(|r| r.name == name)?;
    let name = rule.new_name.as_deref().unwrap_or(name);
    Some(match (&rule.digest, &rule.new_tag) {
        (Some(d), _) => format!("{name}@{d}"),
        (None, Some(t)) => format!("{name}:{t}"),
        (None, None) => {
            let tag = tag.map(|t| format!(":{t}")).unwrap_or_default();
            let digest = digest.map(|d| format!("@{d}")).unwrap_or_default();
            format!("{name}{tag}{digest}")
        }
    })
}

/// What two views of one object have in common: mappings keep the keys
/// both have, lists of named items the names both have (other lists item
/// by item when as long), and a value they disagree on is `a`'s.
fn intersect(a: &mut Node, b: &Node) {
    match (&mut a.kind, &b.kind) {
        (NodeKind::Map(entries), NodeKind::Map(_)) => {
            entries.retain(|e| b.get(&e.key.name).is_some());
            for entry in entries.iter_mut() {
                if let Some(other) = b.get(&entry.key.name) {
                    intersect(&mut entry.value, &other.value);
                }
            }
        }
        (NodeKind::Seq(items), NodeKind::Seq(others)) => {
            let named = |list: &[Node]| list.iter().all(|i| str_at(i, &["name"]).is_some());
            if !items.is_empty() && named(items.as_slice()) && named(others.as_slice()) {
                items.retain(|i| others.iter().any(|o| str_at(o, &["name"]) == str_at(i, &["name"])));
                for item in items.iter_mut() {
                    let name = str_at(item, &["name"]).map(str::to_owned);
                    if let Some(other) = others.iter().find(|o| str_at(o, &["name"]) == name.as_deref()) {
                        intersect(item, other);
                    }
                }
            } else if items.len() == others.len() {
                for (item, other) in items.iter_mut().zip(others) {
                    intersect(item, other);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Node {
        berth_spec::parse_documents(text).unwrap().remove(0)
    }

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  template:\n    metadata:\n      labels: { app: web }\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web\n          env:\n            - { name: A, value: '1' }\n          ports:\n            - { containerPort: 8080 }\n        - name: sidecar\n          image: busybox:1.36\n";

    fn containers(doc: &Node) -> &[Node] {
        seq(at(doc, &["spec", "template", "spec", "containers"]))
    }

    #[test]
    fn a_strategic_merge_patch_merges_containers_by_name_and_keeps_places_in_the_base() {
        let mut doc = yaml(DEPLOYMENT);
        let text = DEPLOYMENT.len();
        let patch = yaml(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n        - name: web\n          resources: { requests: { cpu: 100m } }\n          env:\n            - { name: B, value: '2' }\n            - { name: A, value: '3' }\n",
        );
        let anchor = at(&doc, &["metadata", "name"]).unwrap().span;
        let before = at(&doc, &["spec", "replicas"]).unwrap().span;
        strategic(&mut doc, &patch, anchor);
        assert_eq!(int_at(&doc, &["spec", "replicas"]), Some(3));
        assert_eq!(at(&doc, &["spec", "replicas"]).unwrap().span, before, "a replaced value keeps its place");
        let c = containers(&doc);
        assert_eq!(c.len(), 2, "the sidecar stays");
        assert_eq!(str_at(&c[0], &["image"]), Some("ghcr.io/acme/web"));
        assert_eq!(str_at(&c[0], &["resources", "requests", "cpu"]), Some("100m"));
        let env: Vec<(&str, &str)> = seq(at(&c[0], &["env"]))
            .iter()
            .map(|e| (str_at(e, &["name"]).unwrap(), str_at(e, &["value"]).unwrap()))
            .collect();
        assert_eq!(env, [("A", "3"), ("B", "2")]);
        assert!(at(&c[0], &["resources"]).unwrap().span.end <= text, "added fields point into the base");
        assert_eq!(str_at(&doc, &["metadata", "name"]), Some("web"));
    }

    #[test]
    fn nulls_and_delete_directives_remove_and_other_lists_are_replaced() {
        let mut doc = yaml(DEPLOYMENT);
        let patch = yaml(
            "kind: Deployment\nmetadata: { name: web }\nspec:\n  replicas: null\n  template:\n    spec:\n      containers:\n        - { name: sidecar, $patch: delete }\n        - name: web\n          ports:\n            - { containerPort: 9090 }\n",
        );
        strategic(&mut doc, &patch, Span::default());
        assert!(at(&doc, &["spec", "replicas"]).is_none());
        let c = containers(&doc);
        assert_eq!(c.len(), 1);
        let ports: Vec<i64> = seq(at(&c[0], &["ports"])).iter().filter_map(|p| int_at(p, &["containerPort"])).collect();
        assert_eq!(ports, [8080, 9090], "container ports merge by containerPort");
    }

    #[test]
    fn json_patches_apply_whole_or_not_at_all() {
        let mut doc = yaml(DEPLOYMENT);
        let ops = yaml(
            "- { op: replace, path: /spec/replicas, value: 4 }\n- { op: add, path: /spec/template/spec/containers/0/resources, value: { limits: { memory: 1Gi } } }\n- { op: remove, path: /spec/template/spec/containers/1 }\n",
        );
        assert!(json(&mut doc, seq(Some(&ops)), Span::default()));
        assert_eq!(int_at(&doc, &["spec", "replicas"]), Some(4));
        assert_eq!(containers(&doc).len(), 1);
        assert_eq!(str_at(&containers(&doc)[0], &["resources", "limits", "memory"]), Some("1Gi"));
        let failing = yaml(
            "- { op: replace, path: /spec/replicas, value: 9 }\n- { op: replace, path: /spec/missing, value: 1 }\n",
        );
        assert!(!json(&mut doc, seq(Some(&failing)), Span::default()));
        assert_eq!(int_at(&doc, &["spec", "replicas"]), Some(4), "nothing of a failed patch is applied");
        let moved = yaml("- { op: move, from: /spec/replicas, path: /spec/x }\n");
        assert!(!json(&mut doc, seq(Some(&moved)), Span::default()));
    }

    #[test]
    fn images_rewrite_names_tags_and_digests() {
        let rule = |name: &str, new_name: Option<&str>, new_tag: Option<&str>, digest: Option<&str>| ImageRule {
            name: name.to_owned(),
            new_name: new_name.map(str::to_owned),
            new_tag: new_tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        };
        let rules = [
            rule("app", None, Some("1.2.3"), None),
            rule("registry:5000/team/api", Some("ghcr.io/team/api"), None, None),
            rule("worker", None, Some("1.0"), Some("sha256:abc")),
        ];
        assert_eq!(rewritten("app", &rules).as_deref(), Some("app:1.2.3"));
        assert_eq!(rewritten("app:latest", &rules).as_deref(), Some("app:1.2.3"));
        assert_eq!(rewritten("registry:5000/team/api:2", &rules).as_deref(), Some("ghcr.io/team/api:2"));
        assert_eq!(rewritten("worker:dev", &rules).as_deref(), Some("worker@sha256:abc"));
        assert_eq!(rewritten("other:latest", &rules), None);
        assert_eq!(rewritten("apps", &rules), None, "names match whole");
    }

    #[test]
    fn views_keep_what_every_overlay_deploys() {
        let mut dev = yaml(DEPLOYMENT);
        let mut prod = yaml(DEPLOYMENT);
        let resources = yaml(
            "kind: Deployment\nmetadata: { name: web }\nspec:\n  template:\n    spec:\n      containers:\n        - { name: web, resources: { limits: { memory: 1Gi } } }\n",
        );
        strategic(&mut prod, &resources, Span::default());
        let replicas = yaml("kind: Deployment\nmetadata: { name: web }\nspec: { replicas: 2 }\n");
        strategic(&mut dev, &replicas, Span::default());
        intersect(&mut dev, &prod);
        assert!(at(&containers(&dev)[0], &["resources"]).is_none(), "dev deploys it without resources");
        assert_eq!(int_at(&dev, &["spec", "replicas"]), Some(2), "a value both set is the first one's");
        assert_eq!(containers(&dev).len(), 2);
    }

    #[test]
    fn labels_reach_templates_and_written_selectors_only() {
        let mut service =
            yaml("apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec:\n  ports: [{ port: 80 }]\n");
        let set = LabelSet {
            pairs: vec![("team".to_owned(), Node::new(NodeKind::Str("shop".to_owned()), Span::default()))],
            selectors: true,
            templates: true,
        };
        add_labels(&mut service, &set, true, Span::default());
        assert!(at(&service, &["spec", "selector"]).is_none(), "no selector is made up");
        assert_eq!(str_at(&service, &["metadata", "labels", "team"]), Some("shop"));
        let mut doc = yaml(DEPLOYMENT);
        add_labels(&mut doc, &set, true, Span::default());
        assert_eq!(str_at(&doc, &["spec", "template", "metadata", "labels", "team"]), Some("shop"));
        assert_eq!(str_at(&doc, &["spec", "template", "metadata", "labels", "app"]), Some("web"));
    }

    #[test]
    fn targets_written_as_patterns_or_label_selectors_are_not_certain() {
        assert!(selector(&yaml("kind: Deployment\nname: web\n")).is_some());
        assert!(selector(&yaml("kind: Deployment\n")).is_some());
        assert!(selector(&yaml("kind: Deployment\nname: web-.*\n")).is_none());
        assert!(selector(&yaml("labelSelector: app=web\n")).is_none());
        assert!(selector(&yaml("group: apps\n")).is_none());
    }
}
