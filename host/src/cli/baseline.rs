//! `coevo baseline`: reference methods a new one is measured against, on the same data, split
//! and features.

use anyhow::Context;
use clap::Subcommand;
use coevo::data::{DataSource, Holdout, Normalise, ResidentData, Splits};
use coevo::seed;
use coevo::session::{ElasticNetReport, Session};
use coevo::train::elastic_net::ElasticNetOptions;
use serde::Serialize;

use super::{Global, output};

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// ElasticNet regression (epigenetic clocks): fitted on the training split, α and the L1
    /// ratio chosen on validation, scored on the test split.
    Elasticnet {
        /// The data set, as KIND=PATH[?options] (its options select the features).
        #[arg(long)]
        data: DataSource,
        /// Penalty α; repeat to search several (default: a grid from 0.003 to 1).
        #[arg(long)]
        alpha: Vec<f64>,
        /// L1 ratio in [0, 1]; repeat to search several (default: 0.1, 0.5, 0.9).
        #[arg(long)]
        l1_ratio: Vec<f64>,
        /// Share of the training samples held out for validation.
        #[arg(long, default_value_t = 0.1)]
        validation: f64,
        /// Seed of the validation split (as `coevo run --seed`, so a script's split is the same).
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

#[derive(Serialize)]
struct BaselineResult {
    command: &'static str,
    data: DataSource,
    #[serde(flatten)]
    report: ElasticNetReport,
}

pub fn run(command: BaselineCommand, global: &Global) -> anyhow::Result<()> {
    let BaselineCommand::Elasticnet {
        data,
        alpha,
        l1_ratio,
        validation,
        seed: run_seed,
    } = command;
    let dataset = data.load().with_context(|| format!("loading {data}"))?;
    let holdout = Holdout::Fraction(validation);
    let splits = Splits::of(&dataset, holdout, seed::derive(run_seed, "split", 0))
        .context("--validation")?;
    let device = burn::tensor::Device::flex();
    let resident = ResidentData::upload(&dataset, &splits.validation, Normalise::Auto, &device);
    let session = Session::new(resident, device, run_seed);
    let options = ElasticNetOptions {
        alphas: alpha,
        l1_ratios: l1_ratio,
        max_iterations: None,
    };
    let report = session.elastic_net(&options)?;
    let result = BaselineResult {
        command: "baseline elasticnet",
        data,
        report,
    };
    output::emit(global.json, &result, |r| {
        let t = &r.report.test;
        println!(
            "ElasticNet (alpha {}, l1_ratio {}, {} non-zero weights), fitted {} grid points in {:.1} s",
            r.report.alpha,
            r.report.l1_ratio,
            r.report.nonzero,
            r.report.grid.len(),
            r.report.fit_seconds
        );
        println!(
            "test: MAE {:.3}, median AE {:.3}, RMSE {:.3}, R² {:.3}, Pearson r {:.3} ({} samples)",
            t.mae.unwrap_or(f64::NAN),
            t.median_ae.unwrap_or(f64::NAN),
            t.rmse.unwrap_or(f64::NAN),
            t.r2.unwrap_or(f64::NAN),
            t.pearson.unwrap_or(f64::NAN),
            t.samples
        );
    })
}
