//! Deployment units: which files are deployed together, so that rules
//! linking objects across files (a Service to its pods, an autoscaler to
//! its Deployment, two pods to one claim) link only within one. A
//! repository often holds many deployments side by side (the examples of
//! kubernetes/examples, a base and its overlays, alternative walkthroughs),
//! and linking across them reports conflicts that never meet in a cluster.
//!
//! How units are found:
//! 1. A directory holding a `kustomization.yaml`, a `Chart.yaml`, a compose
//!    file (`compose.yaml`, `docker-compose.yml`, ...) or a berth spec
//!    starts a unit; a file belongs to the nearest such directory above it.
//! 2. A file with no such directory above it is in the unit of its own
//!    directory: manifests side by side are applied together
//!    (`kubectl apply -f dir/`), manifests in sibling directories are not.
//! 3. A kustomization joins the units of everything its `resources:`,
//!    `bases:` and `components:` name (a base and the overlay that builds
//!    on it are one deployment).
//! 4. Directories of the second kind whose objects name the same namespace
//!    (other than `default`) are one unit: `kubectl apply -R` of a tree
//!    split by component (podinfo's `deploy/webapp/{frontend,backend}`).
//! 5. A manifest at or below a kustomization that no kustomization names
//!    (a scaffold's unlisted leftover, a commented-out patch) is deployed
//!    by nothing: it is a unit of its own.
//!
//! Rules that say something is *missing* (a Service that selects no pod, an
//! Ingress backend that does not exist) look at the whole tree instead: an
//! object in another unit may well be what is meant, and unknown is not
//! wrong.
//!
//! What a kustomization does to the objects it deploys (patches,
//! `namespace:`, `images:`, labels) is applied before units are drawn, in
//! `kustomize.rs`; its patch files are no objects and name no
//! namespace here.

use std::collections::{HashMap, HashSet};

use berth_diagnostics::SourceFile;

use crate::Kind;

/// A Kubernetes object that names its namespace: (file, namespace, kind, name).
pub type Namespaced<'a> = (usize, &'a str, &'a str, &'a str);
use crate::graph::yaml::{at, seq};

/// The names kustomize reads a directory's kustomization from.
pub(crate) const KUSTOMIZATIONS: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
/// The files compose reads in a directory without `-f`: the base and its
/// `override`, merged whenever the directory's project runs.
pub(crate) const COMPOSE: [&str; 8] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];

/// (directory, file name) of a path.
pub(crate) fn split(path: &str) -> (&str, &str) {
    path.rsplit_once(['/', '\\']).unwrap_or(("", path))
}

fn parent(dir: &str) -> Option<&str> {
    if dir.is_empty() { None } else { Some(dir.rsplit_once(['/', '\\']).map_or("", |(p, _)| p)) }
}

/// `a/b/../c` → `a/c`; `None` when it climbs out of the tree.
pub(crate) fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

struct Joined {
    parent: Vec<usize>,
}

impl Joined {
    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.parent[a.max(b)] = a.min(b);
        }
    }
}

/// The unit of every file, by index into `files`: equal numbers, one unit.
/// `namespaced` holds the Kubernetes objects that name a namespace, as
/// (file, namespace, kind, name).
pub fn assign(files: &[SourceFile], kinds: &[Kind], namespaced: &[Namespaced<'_>]) -> Vec<usize> {
    let mut roots: HashSet<&str> = HashSet::new();
    for (file, kind) in files.iter().zip(kinds) {
        // Specs expanded in memory are named `berth.yaml → kubernetes/x.yaml`.
        let path = file.name.split(" → ").next().unwrap_or(&file.name);
        let (dir, name) = split(path);
        if KUSTOMIZATIONS.contains(&name)
            || COMPOSE.contains(&name)
            || matches!(kind, Kind::HelmChart | Kind::BerthSpec | Kind::Compose)
        {
            roots.insert(dir);
        }
    }
    // The unit's directory of each file.
    let mut dirs: HashMap<String, usize> = HashMap::new();
    let unit_dir = |dir: &str, dirs: &mut HashMap<String, usize>| {
        let n = dirs.len();
        *dirs.entry(dir.to_owned()).or_insert(n)
    };
    // (the unit's directory, whether a marker roots it)
    let root_of = |path: &str| -> (String, bool) {
        let (own, _) = split(path);
        let mut dir = Some(own);
        while let Some(d) = dir {
            if roots.contains(d) {
                return (d.to_owned(), true);
            }
            dir = parent(d);
        }
        (own.to_owned(), false)
    };
    let mut rooted: Vec<bool> = Vec::new();
    let units: Vec<usize> = files
        .iter()
        .map(|f| {
            let path = f.name.split(" → ").next().unwrap_or(&f.name);
            let (dir, is_root) = root_of(path);
            let unit = unit_dir(&dir, &mut dirs);
            if rooted.len() <= unit {
                rooted.resize(unit + 1, false);
            }
            rooted[unit] |= is_root;
            unit
        })
        .collect();
    let mut joined = Joined { parent: (0..dirs.len()).collect() };
    // Directories in one namespace join, unless they define the same
    // objects: then they are variants of one app (`cd/jenkins.yml` and
    // `sts/jenkins.yml`), not parts of it.
    let mut objects: HashMap<usize, HashSet<(&str, &str, &str)>> = HashMap::new();
    for &(file, namespace, kind, name) in namespaced {
        if let Some(&unit) = units.get(file) {
            objects.entry(unit).or_default().insert((namespace, kind, name));
        }
    }
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut plain: Vec<(usize, &str)> = namespaced
        .iter()
        .filter_map(|&(file, namespace, _, _)| Some((*units.get(file)?, namespace)))
        .filter(|(unit, namespace)| *namespace != "default" && !rooted.get(*unit).copied().unwrap_or(true))
        .collect();
    plain.sort_unstable();
    plain.dedup();
    let empty = HashSet::new();
    for (unit, namespace) in plain {
        let group = groups.entry(namespace).or_default();
        let mine = objects.get(&unit).unwrap_or(&empty);
        let clash = group.iter().any(|other| objects.get(other).is_some_and(|o| !o.is_disjoint(mine)));
        if clash {
            continue;
        }
        if let Some(&first) = group.first() {
            joined.join(first, unit);
        }
        group.push(unit);
    }
    for (index, f) in files.iter().enumerate() {
        let (dir, name) = split(&f.name);
        if !KUSTOMIZATIONS.contains(&name) {
            continue;
        }
        let Ok(docs) = berth_spec::parse_documents(&f.text) else { continue };
        let Some(doc) = docs.first() else { continue };
        for key in ["resources", "bases", "components"] {
            for entry in seq(at(doc, &[key])) {
                let Some(reference) = entry.as_str() else { continue };
                // Remote bases (`github.com/...?ref=`) are outside the tree.
                if reference.contains("://") || reference.contains('?') {
                    continue;
                }
                let Some(target) = normalize(&format!("{dir}/{reference}")) else { continue };
                // A directory joins the unit it roots, or that its files are in.
                let target_unit = dirs.get(&target).copied().or_else(|| {
                    files.iter().position(|g| g.name == target).map(|i| units[i]).or_else(|| {
                        let prefix = format!("{target}/");
                        files.iter().position(|g| g.name.starts_with(&prefix)).map(|i| units[i])
                    })
                });
                if let Some(target_unit) = target_unit {
                    joined.join(units[index], target_unit);
                }
            }
        }
    }
    let mut units: Vec<usize> = units.into_iter().map(|u| joined.find(u)).collect();
    // A manifest at or below a kustomization that no kustomization names is
    // not deployed: a scaffold's leftover (kubebuilder's unlisted
    // `rbac/auth_proxy_service.yaml`, a commented-out patch). It stands
    // alone instead of linking to what is.
    let kustomized: HashSet<&str> = files
        .iter()
        .filter_map(|f| {
            let (dir, name) = split(&f.name);
            KUSTOMIZATIONS.contains(&name).then_some(dir)
        })
        .collect();
    if kustomized.is_empty() {
        return units;
    }
    let mut named: HashSet<String> = HashSet::new();
    for f in files {
        let (dir, name) = split(&f.name);
        if !KUSTOMIZATIONS.contains(&name) {
            continue;
        }
        if let Ok(docs) = berth_spec::parse_documents(&f.text) {
            for doc in &docs {
                strings(doc, &mut |text| {
                    // `configMapGenerator` files may be `key=path`.
                    let path = text.rsplit_once('=').map_or(text, |(_, p)| p);
                    named.extend(normalize(&format!("{dir}/{path}")));
                });
            }
        }
    }
    let mut next = units.iter().max().map_or(0, |m| m + 1);
    for ((index, f), kind) in files.iter().enumerate().zip(kinds) {
        if *kind != Kind::Kubernetes || f.name.contains(" → ") {
            continue;
        }
        let Some(path) = normalize(&f.name) else { continue };
        let (own, _) = split(&f.name);
        let mut dir = Some(own);
        let under = std::iter::from_fn(|| {
            let d = dir?;
            dir = parent(d);
            Some(d)
        })
        .any(|d| kustomized.contains(d));
        if under && !named.contains(&path) {
            units[index] = next;
            next += 1;
        }
    }
    units
}

/// Calls `found` with every string scalar of `node`.
fn strings(node: &berth_spec::Node, found: &mut impl FnMut(&str)) {
    use berth_spec::NodeKind;
    match &node.kind {
        NodeKind::Str(s) => found(s),
        NodeKind::Seq(items) => items.iter().for_each(|i| strings(i, found)),
        NodeKind::Map(entries) => entries.iter().for_each(|e| strings(&e.value, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(files: &[(&str, &str)]) -> Vec<usize> {
        units_in(files, &[])
    }

    fn units_in(files: &[(&str, &str)], namespaces: &[(usize, &str)]) -> Vec<usize> {
        let files: Vec<SourceFile> = files.iter().map(|(p, t)| SourceFile::new(*p, *t)).collect();
        let kinds: Vec<Kind> = files.iter().map(|f| crate::detect::kind(&f.name, &f.text)).collect();
        let named: Vec<String> = (0..namespaces.len()).map(|i| format!("object-{i}")).collect();
        let namespaced: Vec<Namespaced<'_>> =
            namespaces.iter().zip(&named).map(|(&(file, ns), name)| (file, ns, "Deployment", name.as_str())).collect();
        assign(&files, &kinds, &namespaced)
    }

    #[test]
    fn manifests_no_kustomization_names_stand_alone() {
        let svc = "apiVersion: v1\nkind: Service\nmetadata: { name: metrics }\n";
        let u = units(&[
            ("default/kustomization.yaml", "resources: [../rbac, ../manager]\n"),
            ("rbac/kustomization.yaml", "resources: [role.yaml]\n"),
            ("rbac/role.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: a }\n"),
            ("rbac/auth_proxy_service.yaml", svc),
            (
                "manager/kustomization.yaml",
                "resources:\n  - manager.yaml\nconfigMapGenerator:\n  - name: c\n    files: [cfg=conf/app.yaml]\n",
            ),
            ("manager/manager.yaml", svc),
            ("manager/conf/app.yaml", svc),
            ("default/manager_auth_proxy_patch.yaml", svc),
        ]);
        assert_eq!(u[0], u[2], "a base's resources are the overlay's");
        assert_eq!(u[0], u[5]);
        assert_eq!(u[0], u[6], "a file a generator reads is named");
        assert!(u.iter().filter(|x| **x == u[3]).count() == 1, "the unlisted Service is alone: {u:?}");
        assert!(u.iter().filter(|x| **x == u[7]).count() == 1, "the unlisted patch is alone: {u:?}");
    }

    #[test]
    fn variants_that_define_the_same_objects_stay_apart() {
        let files: Vec<SourceFile> =
            ["cd/jenkins.yml", "sts/jenkins.yml", "common/ns.yml"].iter().map(|p| SourceFile::new(*p, "")).collect();
        let kinds = vec![Kind::Kubernetes; 3];
        let namespaced = [
            (0, "jenkins", "StatefulSet", "master"),
            (1, "jenkins", "StatefulSet", "master"),
            (2, "jenkins", "ServiceAccount", "build"),
        ];
        let u = assign(&files, &kinds, &namespaced);
        assert_ne!(u[0], u[1], "two variants of one app");
        assert_eq!(u[0], u[2], "a part that adds something joins");
    }

    #[test]
    fn plain_directories_in_one_namespace_are_one_unit() {
        let files = [
            ("deploy/webapp/frontend/hpa.yaml", ""),
            ("deploy/webapp/backend/deployment.yaml", ""),
            ("examples/a/deploy.yaml", ""),
            ("examples/b/deploy.yaml", ""),
            ("overlays/dev/kustomization.yaml", "resources: []\n"),
            ("overlays/prod/kustomization.yaml", "resources: []\n"),
        ];
        let u =
            units_in(&files, &[(0, "webapp"), (1, "webapp"), (2, "default"), (3, "default"), (4, "shop"), (5, "shop")]);
        assert_eq!(u[0], u[1], "one namespace, applied together");
        assert_ne!(u[2], u[3], "`default` says nothing");
        assert_ne!(u[4], u[5], "overlays are alternatives, whatever namespace they share");
    }

    #[test]
    fn sibling_directories_are_apart_and_a_directory_is_together() {
        let u =
            units(&[("examples/a/deploy.yaml", ""), ("examples/a/service.yaml", ""), ("examples/b/deploy.yaml", "")]);
        assert_eq!(u[0], u[1]);
        assert_ne!(u[0], u[2]);
    }

    #[test]
    fn a_kustomization_roots_its_subdirectories_and_joins_its_bases() {
        let u = units(&[
            ("app/base/kustomization.yaml", "resources: [deploy.yaml, svc/]\n"),
            ("app/base/deploy.yaml", ""),
            ("app/base/svc/service.yaml", ""),
            ("app/overlays/prod/kustomization.yaml", "resources: [../../base, hpa.yaml]\n"),
            ("app/overlays/prod/hpa.yaml", ""),
            ("app/overlays/dev/kustomization.yaml", "resources:\n  - github.com/x/y?ref=v1\n"),
            ("other/deploy.yaml", ""),
        ]);
        assert_eq!(u[1], u[2], "a subdirectory belongs to the kustomization above it");
        assert_eq!(u[1], u[4], "an overlay joins its base");
        assert_ne!(u[4], u[5], "another overlay, with nothing in common, stays apart");
        assert_ne!(u[1], u[6]);
    }

    #[test]
    fn a_compose_project_and_a_chart_are_units() {
        let u = units(&[
            ("svc/compose.yaml", "services: {}\n"),
            ("svc/nginx/nginx.conf", ""),
            ("chart/Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n"),
            ("chart/crds/crd.yaml", ""),
        ]);
        assert_eq!(u[0], u[1]);
        assert_eq!(u[2], u[3]);
        assert_ne!(u[0], u[2]);
    }

    #[test]
    fn paths_that_climb_out_are_ignored() {
        assert_eq!(normalize("a/../../b"), None);
        assert_eq!(normalize("a/./b/../c").as_deref(), Some("a/c"));
    }
}
