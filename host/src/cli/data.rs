//! `coevo data`: fetch the public data sets, describe local ones.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use coevo::data::{
    DataKind, DataSource, DatasetInfo, Downloader, Preparation, Task, fetch_from, official,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::{Global, output};

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download a data set's official files, verify their checksums, resume partial downloads.
    Fetch {
        /// cifar10, cifar100, mnist or fashion-mnist.
        kind: DataKind,
        /// Folder to put the files in (default: data/<kind>).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Download from this address instead of the official one (a mirror).
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Load a data set and describe it.
    Info {
        /// The data set, as KIND=PATH.
        source: DataSource,
    },
}

#[derive(Serialize)]
struct FetchResult {
    command: &'static str,
    source: DataSource,
    files: Vec<String>,
}

#[derive(Serialize)]
struct InfoResult {
    command: &'static str,
    #[serde(flatten)]
    info: DatasetInfo,
    class_names: Vec<String>,
    train_per_class: Vec<usize>,
    test_per_class: Vec<usize>,
    /// What preparing the samples did (methylation), its fields at the top level.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    preparation: Option<Preparation>,
}

pub fn run(command: DataCommand, global: &Global) -> anyhow::Result<()> {
    match command {
        DataCommand::Fetch {
            kind,
            dir,
            base_url,
        } => {
            let mut remote = official(kind).with_context(|| {
                format!("{kind} has no official download; point --data at your own files")
            })?;
            if let Some(base_url) = base_url {
                remote.base_url = base_url;
            }
            let dir = dir.unwrap_or_else(|| PathBuf::from("data").join(kind.as_str()));
            let bar = ProgressBar::with_draw_target(
                None,
                if global.quiet {
                    ProgressDrawTarget::hidden()
                } else {
                    ProgressDrawTarget::stderr()
                },
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            let source = fetch_from(kind, &remote, &dir, &Downloader::default(), &mut |p| {
                bar.set_message(p.file.to_string());
                if let Some(total) = p.total {
                    bar.set_length(total);
                }
                bar.set_position(p.done);
            })?;
            bar.finish_and_clear();
            let result = FetchResult {
                command: "data fetch",
                files: remote
                    .files
                    .iter()
                    .map(|f| dir.join(&f.name).display().to_string())
                    .collect(),
                source,
            };
            output::emit(global.json, &result, |r| {
                println!(
                    "{} files verified in {}; use --data {}",
                    r.files.len(),
                    dir.display(),
                    r.source
                );
            })
        }
        DataCommand::Info { source } => {
            let data = source.load().with_context(|| format!("loading {source}"))?;
            let classes = match data.task {
                Task::Classification { classes } => classes,
                Task::Regression => 0,
            };
            let result = InfoResult {
                command: "data info",
                info: DatasetInfo::from(&data),
                class_names: data.class_names.clone(),
                train_per_class: data.train.class_counts(classes),
                test_per_class: data.test.class_counts(classes),
                preparation: data.preparation.clone(),
            };
            output::emit(global.json, &result, |r| {
                println!(
                    "{}: {:?}, samples of shape {:?}",
                    r.info.name, r.info.task, r.info.sample_shape
                );
                println!("{} training and {} test samples", r.info.train, r.info.test);
                if !r.class_names.is_empty() {
                    println!("classes: {}", r.class_names.join(", "));
                }
                if let Some(p) = &r.preparation {
                    println!(
                        "{} of {} CpG sites kept ({:?} order); {} dropped for missing values; {} \
                         missing values filled; target: {}",
                        p.cpgs,
                        p.cpgs_in_files,
                        p.order,
                        p.dropped_cpgs,
                        p.missing_values,
                        p.target
                    );
                }
            })
        }
    }
}
