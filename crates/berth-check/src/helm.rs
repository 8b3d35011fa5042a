//! Helm charts among the checked files. A chart is a directory with a
//! `Chart.yaml`. Its `templates/` hold Go templates: YAML only after helm
//! fills them in, so parsing one gives parse errors (`{{ }}` is not YAML),
//! and one that happens to parse is still not the object helm installs.
//! Rendering needs the helm program and the user's values, and this crate
//! runs no programs, so templates are skipped and the report says so. Its
//! `files/` are data the templates embed: a berth spec there is the copy the
//! chart ships for its jobs, not a deployment of its own.

/// Where a file sits in a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Under `templates/`.
    Template,
    /// Under `files/`.
    Data,
    /// `values.yaml` (or `values-prod.yaml`) beside `Chart.yaml`: input to
    /// the templates, whatever it looks like (a `services:` map is no
    /// compose file).
    Values,
}

/// The charts among a set of paths.
#[derive(Debug, Default)]
pub struct Charts {
    /// Each chart's directory with a trailing `/` (empty for a chart at the
    /// root), `/`-separated.
    roots: Vec<String>,
}

fn normalized(path: &str) -> String {
    path.replace('\\', "/")
}

impl Charts {
    /// The charts whose `Chart.yaml` is among `paths`.
    pub fn find<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let mut roots: Vec<String> = paths
            .into_iter()
            .map(normalized)
            .filter_map(|p| {
                let (dir, name) = p.rsplit_once('/').unwrap_or(("", p.as_str()));
                (name == "Chart.yaml").then(|| if dir.is_empty() { String::new() } else { format!("{dir}/") })
            })
            .collect();
        roots.sort();
        roots.dedup();
        Self { roots }
    }

    /// The chart `path` belongs to (an index, stable for this set) and where
    /// in it, if it is a template or chart data. A subchart
    /// (`charts/<name>/` with its own `Chart.yaml`) is a chart of its own:
    /// the innermost chart decides.
    pub fn part(&self, path: &str) -> Option<(usize, Part)> {
        let path = normalized(path);
        let (index, root) =
            self.roots.iter().enumerate().filter(|(_, r)| path.starts_with(r.as_str())).max_by_key(|(_, r)| r.len())?;
        let inside = &path[root.len()..];
        if inside.starts_with("templates/") {
            Some((index, Part::Template))
        } else if inside.starts_with("files/") {
            Some((index, Part::Data))
        } else if !inside.contains('/')
            && inside.starts_with("values")
            && (inside.ends_with(".yaml") || inside.ends_with(".yml"))
        {
            Some((index, Part::Values))
        } else {
            None
        }
    }

    /// The chart whose `Chart.yaml` is `path`.
    pub fn chart_of(&self, path: &str) -> Option<usize> {
        let path = normalized(path);
        let dir = path.strip_suffix("Chart.yaml")?;
        self.roots.iter().position(|r| r == dir)
    }

    /// The chart's directory as a user would type it.
    pub fn dir(&self, index: usize) -> &str {
        self.roots.get(index).map_or(".", |r| match r.trim_end_matches('/') {
            "" => ".",
            dir => dir,
        })
    }

    pub fn len(&self) -> usize {
        self.roots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_and_data_of_the_innermost_chart() {
        let charts = Charts::find(["deploy/helm/chart/Chart.yaml", "deploy/helm/chart/charts/db/Chart.yaml", "x.yaml"]);
        assert_eq!(charts.len(), 2);
        let outer = charts.chart_of("deploy/helm/chart/Chart.yaml").unwrap();
        let inner = charts.chart_of("deploy/helm/chart/charts/db/Chart.yaml").unwrap();
        assert_ne!(outer, inner);
        assert_eq!(charts.part("deploy/helm/chart/templates/web.yaml"), Some((outer, Part::Template)));
        assert_eq!(charts.part("deploy/helm/chart/files/berth.yaml"), Some((outer, Part::Data)));
        assert_eq!(charts.part("deploy/helm/chart/charts/db/templates/db.yaml"), Some((inner, Part::Template)));
        assert_eq!(charts.part("deploy/helm/chart/values.yaml"), Some((outer, Part::Values)));
        assert_eq!(charts.part("deploy/helm/chart/values-prod.yml"), Some((outer, Part::Values)));
        assert_eq!(charts.part("deploy/helm/chart/ci/values.yaml"), None);
        assert_eq!(charts.part("deploy/kubernetes/templates/web.yaml"), None);
        assert_eq!(charts.dir(inner), "deploy/helm/chart/charts/db");
    }

    #[test]
    fn a_chart_at_the_root() {
        let charts = Charts::find(["Chart.yaml", "templates/web.yaml"]);
        assert_eq!(charts.part("templates/web.yaml"), Some((0, Part::Template)));
        assert_eq!(charts.part(r"templates\web.yaml"), Some((0, Part::Template)));
        assert_eq!(charts.chart_of("Chart.yaml"), Some(0));
        assert_eq!(charts.dir(0), ".");
        // Helm reads `Chart.yaml` only.
        assert!(Charts::find(["chart.yaml", "templates/web.yaml"]).is_empty());
    }
}
