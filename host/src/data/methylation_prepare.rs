//! From two read tables to what a model learns from, every statistic taken from the training
//! split alone so that nothing of the test split leaks into the inputs:
//!
//! 1. CpG sites missing in more than `max_missing` of the training samples are dropped; the
//!    remaining missing values, in both splits, become the site's training mean.
//! 2. Optionally, the ages become Horvath-transformed values (metrics stay in years).
//! 3. Optionally, the `K` sites most correlated (|Pearson r|) with the learnt target are kept,
//!    ordered by that correlation or by genomic position from a platform annotation, so that
//!    neighbouring inputs of a 1-D convolution are related sites.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use super::DataError;
use super::methylation_options::{FeatureOrder, MethylationOptions};
use super::methylation_table::{Table, clean};
use super::read::read_maybe_gzip;

/// What preparing a methylation set did, as `coevo data info` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preparation {
    /// Missing beta values found in the files (both splits).
    pub missing_values: usize,
    /// CpG sites dropped for missing in more than `max_missing` of the training samples.
    pub dropped_cpgs: usize,
    /// Sites the files hold.
    pub cpgs_in_files: usize,
    /// Sites the inputs hold, after dropping and selection.
    pub cpgs: usize,
    /// The order of those sites.
    pub order: FeatureOrder,
    /// The learnt target, `age` or `horvath(age)`.
    pub target: &'static str,
}

/// Drops, fills, transforms and selects in place; see the module docs.
pub(super) fn prepare(
    train: &mut Table,
    test: &mut Table,
    options: &MethylationOptions,
) -> Result<Preparation, DataError> {
    let cpgs_in_files = train.cpg_ids.len();
    let missing_values = count_missing(train) + count_missing(test);
    let means = training_means(train);
    let n = train.ages.len().max(1) as f64;
    let keep: Vec<usize> = (0..cpgs_in_files)
        .filter(|&j| means[j].1 as f64 / n <= options.max_missing && means[j].0.is_finite())
        .collect();
    let dropped_cpgs = cpgs_in_files - keep.len();
    let fill: Vec<f32> = means.iter().map(|&(mean, _)| mean).collect();
    for table in [&mut *train, &mut *test] {
        fill_missing(table, &fill);
    }
    if let Some(transform) = options.age_transform {
        for table in [&mut *train, &mut *test] {
            for (age, sample) in table.ages.iter_mut().zip(&table.samples) {
                *age = transform.forward(*age).ok_or_else(|| {
                    let what = format!(
                        "sample {sample} has age {age}, where the age transform is undefined \
                         (it needs an age above −1 year)"
                    );
                    DataError::malformed(&table.path, what)
                })?;
            }
        }
    }
    let order = match options.features {
        Some(k) => select(train, &keep, k, options)?,
        None => match options.order {
            FeatureOrder::File => keep,
            _ => select(train, &keep, keep.len(), options)?,
        },
    };
    for table in [&mut *train, &mut *test] {
        keep_columns(table, &order);
    }
    if order.is_empty() {
        let what = format!(
            "no CpG site is left: every site is missing in more than max_missing = {} of the \
             training samples",
            options.max_missing
        );
        return Err(DataError::malformed(&train.path, what));
    }
    Ok(Preparation {
        missing_values,
        dropped_cpgs,
        cpgs_in_files,
        cpgs: order.len(),
        order: options.order,
        target: match options.age_transform {
            Some(_) => "horvath(age)",
            None => "age",
        },
    })
}

fn count_missing(table: &Table) -> usize {
    table.values.iter().filter(|v| v.is_nan()).count()
}

/// Per site: the mean of its present training values (NaN when none is), and how many are
/// missing.
fn training_means(train: &Table) -> Vec<(f32, usize)> {
    let sites = train.cpg_ids.len();
    let mut sums = vec![(0.0f64, 0usize); sites];
    for row in train.values.chunks_exact(sites.max(1)) {
        for (sum, &v) in sums.iter_mut().zip(row) {
            if !v.is_nan() {
                sum.0 += f64::from(v);
                sum.1 += 1;
            }
        }
    }
    let samples = train.ages.len();
    sums.into_iter()
        .map(|(sum, present)| match present {
            0 => (f32::NAN, samples),
            _ => ((sum / present as f64) as f32, samples - present),
        })
        .collect()
}

fn fill_missing(table: &mut Table, means: &[f32]) {
    for row in table.values.chunks_exact_mut(means.len().max(1)) {
        for (v, &mean) in row.iter_mut().zip(means) {
            if v.is_nan() {
                *v = mean;
            }
        }
    }
}

/// Keeps the columns `order` (indices into the current sites), in that order.
fn keep_columns(table: &mut Table, order: &[usize]) {
    let sites = table.cpg_ids.len();
    let mut values = Vec::with_capacity(table.ages.len() * order.len());
    for row in table.values.chunks_exact(sites.max(1)) {
        values.extend(order.iter().map(|&j| row[j]));
    }
    table.values = values;
    table.cpg_ids = order.iter().map(|&j| table.cpg_ids[j].clone()).collect();
}

/// The `k` sites of `candidates` most correlated with the training targets, in the configured
/// order.
fn select(
    train: &Table,
    candidates: &[usize],
    k: usize,
    options: &MethylationOptions,
) -> Result<Vec<usize>, DataError> {
    let r = correlations(train);
    let mut ranked = candidates.to_vec();
    ranked.sort_by(|&a, &b| r[b].abs().total_cmp(&r[a].abs()).then(a.cmp(&b)));
    ranked.truncate(k);
    match (options.order, &options.annotation) {
        (FeatureOrder::Position, Some(path)) => {
            let positions = read_annotation(path)?;
            // Sites the annotation lacks go last, still by correlation.
            ranked.sort_by(|&a, &b| {
                let (pa, pb) = (
                    positions.get(&train.cpg_ids[a]),
                    positions.get(&train.cpg_ids[b]),
                );
                match (pa, pb) {
                    (Some(pa), Some(pb)) => pa.cmp(pb),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                }
            });
        }
        (FeatureOrder::File, _) => ranked.sort_unstable(),
        _ => {}
    }
    Ok(ranked)
}

/// Pearson's r of every site with the targets, over the training samples (0 for a constant
/// site).
fn correlations(train: &Table) -> Vec<f64> {
    let sites = train.cpg_ids.len();
    let n = train.ages.len() as f64;
    let age_mean = train.ages.iter().map(|&a| f64::from(a)).sum::<f64>() / n.max(1.0);
    let (mut sx, mut sxx, mut sxy) = (vec![0.0; sites], vec![0.0; sites], vec![0.0; sites]);
    let mut syy = 0.0;
    for (row, &age) in train.values.chunks_exact(sites.max(1)).zip(&train.ages) {
        let y = f64::from(age) - age_mean;
        syy += y * y;
        for j in 0..sites {
            let x = f64::from(row[j]);
            sx[j] += x;
            sxx[j] += x * x;
            sxy[j] += x * y;
        }
    }
    (0..sites)
        .map(|j| {
            // Σy = 0 after centring, so Σ(x − x̄)(y − ȳ) = Σxy.
            let var_x = sxx[j] - sx[j] * sx[j] / n.max(1.0);
            let denom = (var_x * syy).sqrt();
            if denom > 0.0 { sxy[j] / denom } else { 0.0 }
        })
        .collect()
}

/// A platform annotation (Illumina's manifest or any table with an id column and `CHR` and
/// `MAPINFO`): CpG id → (chromosome rank, position). Lines before the header (the manifest's
/// `[Heading]` block) are skipped.
fn read_annotation(path: &Path) -> Result<HashMap<String, (u32, u64)>, DataError> {
    let bytes = read_maybe_gzip(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = (1..).zip(text.lines());
    let (header_line, header) = lines
        .by_ref()
        .find(|(_, l)| l.to_ascii_uppercase().contains("MAPINFO"))
        .ok_or_else(|| DataError::malformed(path, "no header line with CHR and MAPINFO columns"))?;
    let delimiter = if header.contains('\t') { '\t' } else { ',' };
    let columns: Vec<String> = header
        .split(delimiter)
        .map(|c| clean(c).to_ascii_uppercase())
        .collect();
    let find = |names: &[&str]| columns.iter().position(|c| names.contains(&c.as_str()));
    let (Some(id), Some(chr), Some(pos)) = (
        find(&["ILMNID", "ID", "NAME", "ID_REF", "PROBE_ID"]),
        find(&["CHR", "CHROMOSOME"]),
        find(&["MAPINFO", "POSITION"]),
    ) else {
        let what =
            format!("line {header_line}: expected an id column (IlmnID or ID), CHR and MAPINFO");
        return Err(DataError::malformed(path, what));
    };
    let mut positions = HashMap::new();
    for (_, line) in lines {
        if line.starts_with('[') {
            break; // The manifest's [Controls] block.
        }
        let cells: Vec<&str> = line.split(delimiter).map(clean).collect();
        let (Some(&name), Some(&c), Some(&p)) = (cells.get(id), cells.get(chr), cells.get(pos))
        else {
            continue;
        };
        if let (Some(rank), Ok(p)) = (chromosome_rank(c), p.parse::<u64>()) {
            positions.insert(name.to_owned(), (rank, p));
        }
    }
    Ok(positions)
}

/// 1–22, then X, Y and M, with or without a `chr` prefix.
fn chromosome_rank(name: &str) -> Option<u32> {
    let name = name.strip_prefix("chr").unwrap_or(name);
    match name {
        "X" => Some(23),
        "Y" => Some(24),
        "M" | "MT" => Some(25),
        n => n.parse().ok().filter(|&c| (1..=22).contains(&c)),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn table(ages: Vec<f32>, sites: &[&str], values: Vec<f32>) -> Table {
        Table {
            path: PathBuf::from("t.tsv"),
            samples: (1..=ages.len()).map(|i| format!("S{i}")).collect(),
            cpg_ids: sites.iter().map(|s| (*s).to_owned()).collect(),
            ages,
            values,
        }
    }

    #[test]
    fn sites_missing_too_often_are_dropped_and_the_rest_filled_with_training_means() {
        let nan = f32::NAN;
        // Four training samples × three sites: site b is missing in 2 of 4, site c in 1.
        let mut train = table(
            vec![10.0, 20.0, 30.0, 40.0],
            &["a", "b", "c"],
            vec![0.1, nan, 0.5, 0.2, 0.9, nan, 0.3, nan, 0.7, 0.4, 0.8, 0.6],
        );
        let mut test = table(vec![50.0], &["a", "b", "c"], vec![nan, 0.1, nan]);
        let options = MethylationOptions {
            max_missing: 0.3,
            ..MethylationOptions::default()
        };
        let prep = prepare(&mut train, &mut test, &options).unwrap();
        assert_eq!(
            (prep.missing_values, prep.dropped_cpgs, prep.cpgs),
            (5, 1, 2)
        );
        assert_eq!(train.cpg_ids, vec!["a", "c"]);
        // c's training mean is (0.5 + 0.7 + 0.6) / 3 = 0.6; a's is 0.25.
        assert_eq!(train.values, vec![0.1, 0.5, 0.2, 0.6, 0.3, 0.7, 0.4, 0.6]);
        assert_eq!(test.values, vec![0.25, 0.6]);
    }

    #[test]
    fn the_most_correlated_sites_are_kept_by_correlation_or_by_position() {
        // Site c follows age exactly, a against it, b is noise.
        let mut train = table(
            vec![1.0, 2.0, 3.0, 4.0],
            &["a", "b", "c"],
            vec![0.9, 0.5, 0.1, 0.7, 0.1, 0.2, 0.5, 0.6, 0.3, 0.3, 0.2, 0.4],
        );
        let mut test = table(vec![5.0], &["a", "b", "c"], vec![0.1, 0.2, 0.3]);
        let options = MethylationOptions {
            features: Some(2),
            order: FeatureOrder::Correlation,
            ..MethylationOptions::default()
        };
        let (mut tr, mut te) = (train.clone(), test.clone());
        prepare(&mut tr, &mut te, &options).unwrap();
        assert_eq!(
            tr.cpg_ids,
            vec!["a", "c"],
            "|r| 1 for both, ties by file order"
        );
        assert_eq!(te.values, vec![0.1, 0.3]);

        let dir = tempfile::tempdir().unwrap();
        let annotation = dir.path().join("manifest.csv");
        let text = "[Heading]\nDescriptor,x\n[Assay]\nIlmnID,Name,CHR,MAPINFO\nc,c,1,500\na,a,X,10\nb,b,1,900\n[Controls]\n";
        std::fs::write(&annotation, text).unwrap();
        let options = MethylationOptions {
            features: Some(2),
            order: FeatureOrder::Position,
            annotation: Some(annotation),
            ..MethylationOptions::default()
        };
        prepare(&mut train, &mut test, &options).unwrap();
        assert_eq!(train.cpg_ids, vec!["c", "a"], "chromosome 1 before X");
    }

    #[test]
    fn an_age_the_transform_cannot_take_names_the_sample() {
        let mut train = table(vec![30.0, -1.5], &["a"], vec![0.1, 0.2]);
        let mut test = table(vec![5.0], &["a"], vec![0.3]);
        let options = MethylationOptions {
            age_transform: Some(super::super::age_transform::TargetTransform::HORVATH),
            ..MethylationOptions::default()
        };
        let error = prepare(&mut train, &mut test, &options)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("sample S2") && error.contains("-1.5"),
            "{error}"
        );
    }
}
