//! DNA methylation beta values with chronological age: an epigenetic-clock regression set
//! (Horvath, "DNA methylation age of human tissues and cell types", 2013).
//!
//! The path is either a folder holding one training and one test table (`*train*` and
//! `*test*`), or one file whose test split is held out by a seeded fraction
//! (`test_fraction`, `seed`). A table is TSV or CSV in either common layout, or a GEO series
//! matrix, plain or gzip'd (see [`super::methylation_table`], [`super::methylation_series`]).
//! Each sample becomes a 1-channel sequence of its CpG sites' beta values, `[1, sites]`, and
//! its age is the target. Train and test must list the same sites in the same order: a model's
//! input position `i` must mean the same site in both, and reordering silently would hide a
//! mismatch in the data. Missing values, site selection and the age transform follow
//! ([`super::methylation_prepare`]), from the training split's statistics only.

use std::path::{Path, PathBuf};

use super::methylation_options::MethylationOptions;
use super::methylation_prepare::prepare;
use super::methylation_table::{Table, read_table};
use super::{DataError, Dataset, Inputs, Samples, Splits, Targets, Task};
use crate::data::Holdout;

/// File name endings read as tables in a folder (one file given by path may be named anyhow,
/// a series matrix's `.txt.gz` say).
const TABLE_SUFFIXES: [&str; 4] = [".tsv", ".tsv.gz", ".csv", ".csv.gz"];

/// Loads the `*train*` and `*test*` tables of `dir` with the default options.
pub fn load_methylation(dir: &Path) -> Result<Dataset, DataError> {
    load_methylation_with(dir, &MethylationOptions::default())
}

/// Loads a folder's train and test tables, or one file split by `options.test_fraction`.
pub fn load_methylation_with(
    path: &Path,
    options: &MethylationOptions,
) -> Result<Dataset, DataError> {
    let (train, test) = match path.is_dir() {
        true => read_pair(
            &find_table(path, "train")?,
            &find_table(path, "test")?,
            options,
        )?,
        false => split_table(read_table(path, &options.age_key)?, options)?,
    };
    dataset(train, test, options)
}

/// Loads a training and a test table given by path, with the default options.
pub fn load_methylation_files(train: &Path, test: &Path) -> Result<Dataset, DataError> {
    let options = MethylationOptions::default();
    let (train, test) = read_pair(train, test, &options)?;
    dataset(train, test, &options)
}

/// The prepared tables as a regression set.
fn dataset(
    mut train: Table,
    mut test: Table,
    options: &MethylationOptions,
) -> Result<Dataset, DataError> {
    let preparation = prepare(&mut train, &mut test, options)?;
    Ok(Dataset {
        name: "methylation".to_owned(),
        task: Task::Regression,
        sample_shape: vec![1, train.cpg_ids.len()],
        class_names: Vec::new(),
        train: samples(train),
        test: samples(test),
        target_transform: options.age_transform,
        preparation: Some(preparation),
    })
}

fn read_pair(
    train: &Path,
    test: &Path,
    options: &MethylationOptions,
) -> Result<(Table, Table), DataError> {
    // The two tables are independent and parsing is CPU-bound: read them side by side.
    let (train, test) = std::thread::scope(|scope| {
        let test = scope.spawn(|| read_table(test, &options.age_key));
        let train = read_table(train, &options.age_key);
        let test = test
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (train, test)
    });
    let (train, test) = (train?, test?);
    check_same_sites(&train, &test)?;
    Ok((train, test))
}

/// One table as a training and a test part, the test part a seeded share of the samples.
fn split_table(table: Table, options: &MethylationOptions) -> Result<(Table, Table), DataError> {
    let n = table.ages.len();
    let split = Splits::new(
        n,
        Holdout::Fraction(options.test_fraction),
        options.seed,
        None,
    )
    .map_err(|e| DataError::malformed(&table.path, format!("test_fraction: {e}")))?;
    let part = |rows: &[usize]| {
        let sites = table.cpg_ids.len();
        Table {
            path: table.path.clone(),
            samples: rows.iter().map(|&i| table.samples[i].clone()).collect(),
            cpg_ids: table.cpg_ids.clone(),
            ages: rows.iter().map(|&i| table.ages[i]).collect(),
            values: rows
                .iter()
                .flat_map(|&i| table.values[i * sites..(i + 1) * sites].iter().copied())
                .collect(),
        }
    };
    Ok((part(&split.train), part(&split.validation)))
}

/// The one table in `dir` whose name contains `part` (case-insensitively).
fn find_table(dir: &Path, part: &str) -> Result<PathBuf, DataError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(DataError::io(dir))? {
        let path = entry.map_err(DataError::io(dir))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let is_table = TABLE_SUFFIXES.iter().any(|s| name.ends_with(s));
        if is_table && name.contains(part) && path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(DataError::MissingFile {
            path: dir.to_owned(),
            what: format!("a *{part}*.tsv[.gz] or *{part}*.csv[.gz] table"),
        }),
        _ => {
            let names: Vec<_> = found.iter().filter_map(|p| p.file_name()).collect();
            let what = format!("several {part} tables, expected one: {names:?}");
            Err(DataError::malformed(dir, what))
        }
    }
}

fn check_same_sites(train: &Table, test: &Table) -> Result<(), DataError> {
    if train.cpg_ids.len() != test.cpg_ids.len() {
        return Err(DataError::SizeMismatch {
            path: test.path.clone(),
            what: format!("CpG sites (as in {})", train.path.display()),
            expected: train.cpg_ids.len(),
            found: test.cpg_ids.len(),
        });
    }
    let differ = train
        .cpg_ids
        .iter()
        .zip(&test.cpg_ids)
        .position(|(a, b)| a != b);
    if let Some(i) = differ {
        let what = format!(
            "CpG site {} is {:?}, but in {} it is {:?}; both tables must list the same sites in \
             the same order",
            i + 1,
            test.cpg_ids[i],
            train.path.display(),
            train.cpg_ids[i]
        );
        return Err(DataError::malformed(&test.path, what));
    }
    Ok(())
}

fn samples(table: Table) -> Samples {
    Samples {
        inputs: Inputs::F32(table.values),
        targets: Targets::Values(table.ages),
        coarse: None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    const TRAIN: &str = "\tA\tB\tC\ncg1\t0.1\t0.2\t0.3\ncg2\t0.4\t0.5\t0.6\nAge\t1\t-0.3\t50\n";

    fn write_gz(path: &Path, text: &str) {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        std::fs::write(path, encoder.finish().unwrap()).unwrap();
    }

    #[test]
    fn folder_with_train_and_test_tables_loads_as_regression() {
        let dir = tempfile::tempdir().unwrap();
        write_gz(&dir.path().join("set_train.tsv.gz"), TRAIN);
        // The test table in the other layout, as a CSV: only the sites' order must agree.
        let test = "sample,Age,cg1,cg2\nD,7,0.7,0.8\n";
        std::fs::write(dir.path().join("Set_TEST.csv"), test).unwrap();
        std::fs::write(dir.path().join("notes_train.txt"), "not a table").unwrap();
        let data = load_methylation(dir.path()).unwrap();
        assert_eq!(data.task, Task::Regression);
        assert_eq!(data.sample_shape, vec![1, 2]);
        assert_eq!((data.train.len(), data.test.len()), (3, 1));
        assert_eq!(data.train.targets, Targets::Values(vec![1.0, -0.3, 50.0]));
        assert_eq!(
            data.train.inputs,
            Inputs::F32(vec![0.1, 0.4, 0.2, 0.5, 0.3, 0.6])
        );
        assert_eq!(data.test.inputs, Inputs::F32(vec![0.7, 0.8]));
    }

    #[test]
    fn different_sites_in_train_and_test_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("train.tsv"), TRAIN).unwrap();
        let test = "\tD\ncg2\t0.1\ncg1\t0.2\nAge\t3\n";
        std::fs::write(dir.path().join("test.tsv"), test).unwrap();
        let error = load_methylation(dir.path()).unwrap_err();
        assert!(matches!(error, DataError::Malformed { .. }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains("test.tsv") && message.contains("\"cg2\""),
            "{message}"
        );
    }

    #[test]
    fn missing_or_ambiguous_tables_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a_train.tsv"), TRAIN).unwrap();
        let error = load_methylation(dir.path()).unwrap_err();
        assert!(matches!(error, DataError::MissingFile { .. }), "{error:?}");
        assert!(error.to_string().contains("*test*"), "{error}");
        std::fs::write(dir.path().join("b_train.csv"), TRAIN).unwrap();
        let error = load_methylation(dir.path()).unwrap_err();
        assert!(
            error.to_string().contains("several train tables"),
            "{error}"
        );
    }

    #[test]
    fn one_file_is_split_by_a_seeded_fraction_and_prepared_from_its_training_part() {
        let dir = tempfile::tempdir().unwrap();
        // 20 samples as rows; site cg1 is the age itself, cg2 noise, cg3 missing in most.
        let mut text = String::from("id,age,cg1,cg2,cg3\n");
        for i in 0..20 {
            let cg3 = if i % 4 == 0 { "0.5" } else { "NA" };
            text += &format!(
                "S{i},{i},{},{},{cg3}\n",
                i as f32 / 20.0,
                (i * 7 % 5) as f32 / 5.0
            );
        }
        let path = dir.path().join("all.csv.gz");
        write_gz(&path, &text);
        let options = MethylationOptions::parse("test_fraction=0.25&seed=9&features=1").unwrap();
        let data = load_methylation_with(&path, &options).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (15, 5));
        assert_eq!(data.sample_shape, vec![1, 1]);
        let prep = data.preparation.clone().unwrap();
        assert_eq!(
            (prep.dropped_cpgs, prep.cpgs_in_files, prep.cpgs),
            (1, 3, 1)
        );
        assert_eq!(prep.missing_values, 15);
        // The one site kept is cg1, whose value is age / 20.
        let (Inputs::F32(x), Targets::Values(y)) = (&data.test.inputs, &data.test.targets) else {
            panic!("methylation is real-valued");
        };
        for (x, y) in x.iter().zip(y) {
            assert!((x * 20.0 - y).abs() < 1e-5, "{x} for age {y}");
        }
        let again = load_methylation_with(&path, &options).unwrap();
        assert_eq!(
            again.test.targets, data.test.targets,
            "the same seed, the same split"
        );
        let other = MethylationOptions {
            seed: 10,
            ..options
        };
        let other = load_methylation_with(&path, &other).unwrap();
        assert_ne!(other.test.targets, data.test.targets);
    }

    #[test]
    fn real_methylation_set_has_472_and_203_samples_of_7503_sites() {
        let Some(dir) = crate::testing::shared_data("methylation") else {
            return;
        };
        let start = std::time::Instant::now();
        let data = load_methylation(&dir).unwrap();
        eprintln!("methylation loaded in {:.2?}", start.elapsed());
        assert_eq!((data.train.len(), data.test.len()), (472, 203));
        assert_eq!(data.sample_shape, vec![1, 7_503]);
        assert_eq!(data.train.inputs.len(), 472 * 7_503);
        let Targets::Values(ages) = &data.train.targets else {
            panic!("methylation targets are ages");
        };
        assert!(ages.iter().all(|a| a.is_finite()));
        assert!(
            ages.iter().any(|&a| a < 0.0),
            "prenatal samples have negative ages"
        );
        let Inputs::F32(betas) = &data.test.inputs else {
            panic!("beta values are reals");
        };
        assert!(betas.iter().all(|b| (0.0..=1.0).contains(b)));
    }
}
