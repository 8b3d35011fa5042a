use berth_diagnostics::render_human;

use crate::Outcome;
use crate::cli::{PlanArgs, PlanFormat};
use crate::output;

pub fn run(args: &PlanArgs, color: bool) -> anyhow::Result<Outcome> {
    let file = super::read_spec(&args.file)?;
    let loaded = berth_spec::load(&file.text, args.env.as_deref());
    super::known_environment(&file.name, &loaded.diagnostics)?;
    output::stderr(&render_human(&file, &loaded.diagnostics, output::color_choice(color)));
    let Some(spec) = loaded.spec else {
        output::stderr(&format!(
            "{}: no plan, the spec has errors ({})\n",
            file.name,
            berth_diagnostics::summary_line(&loaded.diagnostics)
        ));
        return Ok(Outcome::Findings);
    };
    let plan = berth_plan::build(&spec, args.env.as_deref());
    let text = match args.output {
        PlanFormat::Json => format!("{}\n", serde_json::to_string_pretty(&plan)?),
        PlanFormat::Yaml => serde_saphyr::to_string(&plan)?,
    };
    output::stdout(&text)?;
    Ok(Outcome::Ok)
}
