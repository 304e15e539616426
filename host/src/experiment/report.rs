//! `coevo report`: a Markdown summary of a run with plots of its metrics over steps.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::plot::{Series, line_plot};
use super::run_dir::RunDir;

/// Writes `report.md` and `plots/` in the run directory; returns the report's path.
pub fn write(run: &RunDir) -> Result<PathBuf, String> {
    run.write_csv().map_err(|e| e.to_string())?;
    let metrics = run.metrics();
    let series = collect(&metrics);
    let plots = run.path("plots");
    std::fs::create_dir_all(&plots).map_err(|e| format!("{}: {e}", plots.display()))?;
    let mut text = String::new();
    let config = run.read_json("config.json").unwrap_or(Value::Null);
    let summary = run.read_json("summary.json").unwrap_or(Value::Null);
    let _ = writeln!(text, "# Run {}\n", folder_name(run.root()));
    let _ = writeln!(
        text,
        "- script: `{}`",
        config["script"].as_str().unwrap_or("?")
    );
    let _ = writeln!(
        text,
        "- seed: {}, device: {}",
        config["seed"],
        config["device"].as_str().unwrap_or("?")
    );
    let _ = writeln!(
        text,
        "- status: {}",
        summary["status"].as_str().unwrap_or("running or stopped")
    );
    if let Some(error) = summary["error"].as_str() {
        let _ = writeln!(text, "- error:\n\n```text\n{error}\n```");
    }
    let events = run.events();
    let count = |kind: &str| events.iter().filter(|e| e["kind"] == kind).count();
    let _ = writeln!(
        text,
        "- script reloads: {}, failed reloads: {}, plugin swaps: {}, checkpoints kept in `checkpoints/`",
        count("reload"),
        count("reload_failed"),
        count("plugin_swap")
    );
    if let Some(results) = summary.get("results").filter(|r| !r.is_null()) {
        let _ = writeln!(
            text,
            "\n## Results\n\n```json\n{}\n```",
            serde_json::to_string_pretty(results).unwrap_or_default()
        );
    }
    let _ = writeln!(
        text,
        "\n## Metrics\n\n{} records in `metrics.jsonl` (and `metrics.csv`).\n",
        metrics.len()
    );
    if !series.is_empty() {
        let _ = writeln!(
            text,
            "| metric | points | first | last | min | max |\n|---|---:|---:|---:|---:|---:|"
        );
    }
    for s in series.values() {
        let values: Vec<f64> = s.points.iter().map(|p| p.1).collect();
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let _ = writeln!(
            text,
            "| {} | {} | {:.4} | {:.4} | {:.4} | {:.4} |",
            s.name,
            values.len(),
            values[0],
            values[values.len() - 1],
            min,
            max
        );
    }
    // A single point is a number, not a curve, and a counter a staircase: the table above
    // has both.
    for s in series
        .values()
        .filter(|s| s.points.len() > 1 && !is_counter(s))
    {
        let stem = plots.join(sanitise(&s.name));
        line_plot(std::slice::from_ref(s), &s.name, &stem)?;
        let file = folder_name(&stem);
        let _ = writeln!(
            text,
            "\n### {}\n\n![{}](plots/{file}.png) ([SVG](plots/{file}.svg))",
            s.name, s.name
        );
    }
    fitness_plots(&series, &plots, &mut text)?;
    figures(run, &mut text);
    let path = run.path("report.md");
    crate::checkpoint::write_atomic(&path, text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// A search's fitness series over generations (best, mean, …), one plot per plugin.
fn fitness_plots(
    series: &BTreeMap<String, Series>,
    plots: &Path,
    text: &mut String,
) -> Result<(), String> {
    let mut by_plugin: BTreeMap<&str, Vec<Series>> = BTreeMap::new();
    for s in series.values() {
        if let Some((plugin, metric)) = s.name.split_once('.')
            && s.x == "generation"
            && metric.contains("fitness")
            && s.points.len() > 1
        {
            let mut named = s.clone();
            named.name = metric.to_string();
            by_plugin.entry(plugin).or_default().push(named);
        }
    }
    for (plugin, group) in by_plugin.into_iter().filter(|(_, g)| g.len() > 1) {
        let title = format!("{plugin}: fitness per generation");
        let stem = plots.join(sanitise(&format!("{plugin}_fitness")));
        line_plot(&group, &title, &stem)?;
        let file = folder_name(&stem);
        let _ = writeln!(
            text,
            "\n### {title}\n\n![{title}](plots/{file}.png) ([SVG](plots/{file}.svg))"
        );
    }
    Ok(())
}

/// Writes `comparison.md` and `plots/` in `out`: every metric two or more of `runs` measured,
/// their series overlaid in one plot per metric (each named by its run's folder), and a table
/// of each run's last value. Returns the comparison's path.
pub fn compare(runs: &[RunDir], out: &Path) -> Result<PathBuf, String> {
    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| format!("{}: {e}", plots.display()))?;
    let names: Vec<String> = runs.iter().map(|r| folder_name(r.root())).collect();
    let per_run: Vec<BTreeMap<String, Series>> =
        runs.iter().map(|r| collect(&r.metrics())).collect();
    let mut metrics: BTreeMap<&str, Vec<(usize, &Series)>> = BTreeMap::new();
    for (i, series) in per_run.iter().enumerate() {
        for (metric, s) in series {
            metrics.entry(metric).or_default().push((i, s));
        }
    }
    let mut text = format!("# Comparison of {} runs\n\n", runs.len());
    for (name, run) in names.iter().zip(runs) {
        let _ = writeln!(text, "- `{name}`: {}", run.root().display());
    }
    let _ = write!(text, "\n| metric |");
    for name in &names {
        let _ = write!(text, " {name} |");
    }
    let _ = write!(text, "\n|---|{}\n", "---:|".repeat(names.len()));
    let shared: Vec<(&str, &Vec<(usize, &Series)>)> = (metrics.iter())
        .filter(|(_, s)| s.len() > 1)
        .map(|(m, s)| (*m, s))
        .collect();
    for (metric, series) in &shared {
        let _ = write!(text, "| {metric} |");
        for i in 0..runs.len() {
            match series.iter().find(|(k, _)| *k == i) {
                Some((_, s)) => {
                    let last = s.points.last().map_or(f64::NAN, |p| p.1);
                    let _ = write!(text, " {last:.4} |");
                }
                None => text.push_str(" |"),
            }
        }
        text.push('\n');
    }
    for (metric, series) in shared {
        if series
            .iter()
            .all(|(_, s)| s.points.len() < 2 || is_counter(s))
        {
            continue;
        }
        let overlaid: Vec<Series> = (series.iter())
            .map(|(i, s)| Series {
                name: names[*i].clone(),
                ..(*s).clone()
            })
            .collect();
        let stem = plots.join(sanitise(metric));
        line_plot(&overlaid, metric, &stem)?;
        let file = folder_name(&stem);
        let _ = writeln!(
            text,
            "\n### {metric}\n\n![{metric}](plots/{file}.png) ([SVG](plots/{file}.svg))"
        );
    }
    let path = out.join("comparison.md");
    crate::checkpoint::write_atomic(&path, text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

fn folder_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The figures the script drew itself (`plot_curves`, `plot_heatmap`) under `figures/`.
fn figures(run: &RunDir, text: &mut String) {
    let Ok(entries) = std::fs::read_dir(run.path("figures")) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    if names.is_empty() {
        return;
    }
    names.sort();
    let _ = writeln!(text, "\n## Figures\n");
    for name in names {
        let _ = writeln!(text, "### {name}\n\n![{name}](figures/{name})\n");
    }
}

/// Fields that say where a record is rather than what was measured: they are the x of the
/// others, never plotted against step themselves.
const POSITIONS: [&str; 6] = [
    "step",
    "plugin",
    "plugin_step",
    "epoch",
    "batch_epoch",
    "generation",
];

/// Numeric fields of the metric records as series by name (a plugin's records are prefixed
/// with the plugin's name), each over the position its records give: the fraction of epochs
/// for the loss every few steps, the epoch for what training logs after each epoch, the
/// generation for a search's records, else the step. A position that starts again (a second
/// training call's epoch 1) continues from where the last one ended, so a run reads left to
/// right.
fn collect(records: &[Value]) -> BTreeMap<String, Series> {
    let mut series: BTreeMap<String, Series> = BTreeMap::new();
    // Per series: the offset added to its position, and the last raw position.
    let mut offsets: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for record in records {
        let Some(step) = record["step"].as_f64() else {
            continue;
        };
        let (x_name, raw) = ["batch_epoch", "epoch", "generation"]
            .into_iter()
            .find_map(|k| record[k].as_f64().map(|v| (k, v)))
            .unwrap_or(("step", step));
        let x_name = if x_name == "batch_epoch" {
            "epoch"
        } else {
            x_name
        };
        let prefix = record["plugin"]
            .as_str()
            .map(|p| format!("{p}."))
            .unwrap_or_default();
        for (key, value) in record.as_object().into_iter().flatten() {
            if POSITIONS.contains(&key.as_str()) {
                continue;
            }
            if let Some(v) = value.as_f64().filter(|v| v.is_finite()) {
                let name = format!("{prefix}{key}");
                let (offset, last) = offsets
                    .entry(name.clone())
                    .or_insert((0.0, f64::NEG_INFINITY));
                if raw < *last {
                    *offset += *last;
                }
                *last = raw;
                let x = *offset + raw;
                series
                    .entry(name.clone())
                    .or_insert_with(|| Series {
                        name,
                        x: x_name.to_string(),
                        points: Vec::new(),
                    })
                    .points
                    .push((x, v));
            }
        }
    }
    series
}

/// A count that only grows in whole numbers (samples seen, networks trained): the table has
/// its last value, and a plot of it would show a staircase.
fn is_counter(series: &Series) -> bool {
    let values = series.points.iter().map(|p| p.1);
    values.clone().all(|v| v.fract() == 0.0)
        && values.clone().zip(values.skip(1)).all(|(a, b)| b >= a)
}

fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn epochs_are_the_x_of_what_training_logs_and_a_second_call_continues_them() {
        let records: Vec<Value> = [1, 2, 1, 2]
            .iter()
            .enumerate()
            .map(|(step, &epoch)| json!({"step": step, "epoch": epoch, "train_loss": 1.0 / (step + 1) as f64}))
            .collect();
        let series = collect(&records);
        assert!(!series.contains_key("epoch"), "a position is not a metric");
        let loss = &series["train_loss"];
        assert_eq!(loss.x, "epoch");
        let xs: Vec<f64> = loss.points.iter().map(|p| p.0).collect();
        assert_eq!(xs, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn a_searchs_fitness_is_drawn_per_generation_in_one_plot() {
        let records: Vec<Value> = (0..3)
            .map(|g| {
                json!({"step": g, "plugin": "mega", "generation": g,
                       "fitness_max": 0.5 + 0.1 * f64::from(g), "fitness_mean": 0.4})
            })
            .collect();
        let series = collect(&records);
        assert_eq!(series["mega.fitness_max"].x, "generation");
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        fitness_plots(&series, dir.path(), &mut text).unwrap();
        assert!(dir.path().join("mega_fitness.png").exists(), "{text}");
        assert!(text.contains("mega: fitness per generation"));
    }

    #[test]
    fn counters_are_tabled_not_plotted() {
        let series = |values: &[f64]| Series {
            name: "n".into(),
            x: "step".into(),
            points: values
                .iter()
                .enumerate()
                .map(|(i, &v)| (i as f64, v))
                .collect(),
        };
        assert!(is_counter(&series(&[1.0, 2.0, 2.0, 5.0])));
        assert!(!is_counter(&series(&[1.0, 2.5, 3.0])), "not whole numbers");
        assert!(!is_counter(&series(&[5.0, 3.0, 4.0])), "falls");
    }
}
