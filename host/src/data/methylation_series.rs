//! GEO series-matrix files (`GSE*_series_matrix.txt[.gz]`), as GEO publishes them.
//!
//! The file is tab-separated, text cells in double quotes. Metadata lines start with `!`:
//! `!Sample_geo_accession` names the samples, and `!Sample_characteristics_ch1` lines (there are
//! usually several, one per characteristic) hold `key: value` entries, one per sample. The ages
//! are the entries whose key is the configured one (`age` by default; GEO submitters also write
//! `age (years)` or `age_years`). The beta values are the rows between
//! `!series_matrix_table_begin` and `!series_matrix_table_end`: a header `"ID_REF"` then the
//! sample ids, then one CpG id and its values per row; `null` or an empty cell is missing.

use std::path::Path;

use super::DataError;
use super::methylation_table::{Table, clean, is_missing, transpose};

const ACCESSION: &str = "!Sample_geo_accession";
const CHARACTERISTICS: &str = "!Sample_characteristics_ch1";
const TABLE_BEGIN: &str = "!series_matrix_table_begin";
const TABLE_END: &str = "!series_matrix_table_end";

/// Reads a series matrix; ages are the characteristics entries whose key is `age_key`
/// (compared without case or surrounding blanks).
pub(super) fn read_series_matrix(
    path: &Path,
    text: &str,
    age_key: &str,
) -> Result<Table, DataError> {
    let mut lines = (1..).zip(text.lines());
    let mut accessions: Option<Vec<String>> = None;
    // Per sample: the age text and its line, from whichever characteristics line has it.
    let mut ages: Vec<Option<(String, usize)>> = Vec::new();
    let mut table_start = None;
    for (line_no, line) in lines.by_ref() {
        let mut cells = line.split('\t');
        let key = cells.next().unwrap_or_default().trim();
        if key == ACCESSION {
            accessions = Some(cells.map(|c| clean(c).to_owned()).collect());
        } else if key == CHARACTERISTICS {
            for (i, entry) in cells.enumerate() {
                let Some((k, v)) = clean(entry).split_once(':') else {
                    continue;
                };
                if k.trim().eq_ignore_ascii_case(age_key.trim()) {
                    if ages.len() <= i {
                        ages.resize(i + 1, None);
                    }
                    ages[i] = Some((v.trim().to_owned(), line_no));
                }
            }
        } else if key.eq_ignore_ascii_case(TABLE_BEGIN) {
            table_start = Some(line_no);
            break;
        }
    }
    if table_start.is_none() {
        let what = format!("no `{TABLE_BEGIN}` line: not a complete series matrix");
        return Err(DataError::malformed(path, what));
    }
    let (header_line, header) = lines
        .by_ref()
        .find(|(_, l)| !l.trim().is_empty())
        .ok_or_else(|| DataError::malformed(path, "the series matrix table is empty"))?;
    let samples: Vec<String> = header
        .split('\t')
        .skip(1)
        .map(|c| clean(c).to_owned())
        .collect();
    if samples.is_empty() {
        let what = format!("line {header_line}: the table's header names no samples");
        return Err(DataError::malformed(path, what));
    }
    if let Some(accessions) = &accessions
        && accessions != &samples
    {
        let what = format!(
            "line {header_line}: the table's samples differ from `{ACCESSION}`; the ages could \
             not be matched to them"
        );
        return Err(DataError::malformed(path, what));
    }
    let ages = sample_ages(path, &samples, &ages, age_key)?;

    let (mut cpg_ids, mut site_major) = (Vec::new(), Vec::new());
    let mut ended = false;
    for (line_no, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        if line.trim().eq_ignore_ascii_case(TABLE_END) {
            ended = true;
            break;
        }
        let mut cells = line.split('\t');
        cpg_ids.push(clean(cells.next().unwrap_or_default()).to_owned());
        let mut count = 0;
        for cell in cells {
            count += 1;
            site_major.push(parse_value(path, line_no, count + 1, cell)?);
        }
        if count != samples.len() {
            return Err(DataError::SizeMismatch {
                path: path.to_owned(),
                what: format!("values on line {line_no} (the table's header has samples)"),
                expected: samples.len(),
                found: count,
            });
        }
    }
    if !ended {
        let what = format!("no `{TABLE_END}` line: the file is cut short");
        return Err(DataError::malformed(path, what));
    }
    let values = transpose(&site_major, cpg_ids.len(), samples.len());
    Ok(Table {
        path: path.to_owned(),
        samples,
        cpg_ids,
        ages,
        values,
    })
}

/// Each sample's age, or an error naming the first sample without one.
fn sample_ages(
    path: &Path,
    samples: &[String],
    found: &[Option<(String, usize)>],
    age_key: &str,
) -> Result<Vec<f32>, DataError> {
    if let Some(i) = (0..samples.len()).find(|&i| found.get(i).is_none_or(Option::is_none)) {
        let what = format!(
            "sample {} has no `{age_key}: …` entry in its `{CHARACTERISTICS}` lines (set the \
             key with age_key=…)",
            samples[i]
        );
        return Err(DataError::malformed(path, what));
    }
    let texts: Vec<&str> = found
        .iter()
        .take(samples.len())
        .map(|a| a.as_ref().map_or("", |(t, _)| t.as_str()))
        .collect();
    let place = |i: usize| match &found[i] {
        Some((_, line)) => format!("line {line}"),
        None => "no line".to_owned(),
    };
    Table::parse_ages(path, samples, &texts, place)
}

/// A beta value; missing ones are NaN, other text an error naming the cell.
fn parse_value(path: &Path, line: usize, column: usize, cell: &str) -> Result<f32, DataError> {
    let text = clean(cell);
    match text.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ if is_missing(text) => Ok(f32::NAN),
        _ => Err(DataError::NotANumber {
            path: path.to_owned(),
            line,
            column,
            text: cell.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MATRIX: &str = "!Series_title\t\"A test series\"\n\
        !Sample_title\t\"brain 1\"\t\"brain 2\"\t\"brain 3\"\n\
        !Sample_geo_accession\t\"GSM1\"\t\"GSM2\"\t\"GSM3\"\n\
        !Sample_characteristics_ch1\t\"tissue: DLPFC\"\t\"tissue: DLPFC\"\t\"tissue: DLPFC\"\n\
        !Sample_characteristics_ch1\t\"age: 41.5\"\t\"sex: F\"\t\"Age: -0.4\"\n\
        !Sample_characteristics_ch1\t\"sex: M\"\t\"age: 12\"\t\"sex: M\"\n\
        !series_matrix_table_begin\n\
        \"ID_REF\"\t\"GSM1\"\t\"GSM2\"\t\"GSM3\"\n\
        \"cg01\"\t0.1\t0.2\t0.3\n\
        \"cg02\"\tnull\t0.5\t\n\
        \"cg03\"\t0.7\tNA\t0.9\n\
        !series_matrix_table_end\n";

    fn read(text: &str, key: &str) -> Result<Table, DataError> {
        read_series_matrix(Path::new("GSE1_series_matrix.txt"), text, key)
    }

    #[test]
    fn reads_ages_from_any_characteristics_line_and_missing_values_as_nan() {
        let table = read(MATRIX, "age").unwrap();
        assert_eq!(table.samples, vec!["GSM1", "GSM2", "GSM3"]);
        assert_eq!(table.cpg_ids, vec!["cg01", "cg02", "cg03"]);
        assert_eq!(table.ages, vec![41.5, 12.0, -0.4]);
        let expected = [0.1, f32::NAN, 0.7, 0.2, 0.5, f32::NAN, 0.3, f32::NAN, 0.9];
        assert_eq!(table.values.len(), expected.len());
        for (v, e) in table.values.iter().zip(expected) {
            assert!(v == &e || (v.is_nan() && e.is_nan()), "{v} against {e}");
        }
    }

    #[test]
    fn a_sample_without_an_age_or_with_text_is_named() {
        let error = read(MATRIX, "age (years)").unwrap_err().to_string();
        assert!(
            error.contains("sample GSM1") && error.contains("age_key"),
            "{error}"
        );
        let text = MATRIX.replace("age: 12", "age: twelve");
        let error = read(&text, "age").unwrap_err().to_string();
        assert!(
            error.contains("sample GSM2")
                && error.contains("\"twelve\"")
                && error.contains("line 6"),
            "{error}"
        );
    }

    #[test]
    fn a_cut_or_inconsistent_table_is_an_error() {
        let cut = MATRIX.replace("!series_matrix_table_end\n", "");
        assert!(
            read(&cut, "age")
                .unwrap_err()
                .to_string()
                .contains("cut short")
        );
        let short = MATRIX.replace("\"cg03\"\t0.7\tNA\t0.9", "\"cg03\"\t0.7\tNA");
        let error = read(&short, "age").unwrap_err();
        assert!(
            matches!(
                error,
                DataError::SizeMismatch {
                    expected: 3,
                    found: 2,
                    ..
                }
            ),
            "{error:?}"
        );
        let text = MATRIX.replace("\t0.5\t", "\thigh\t");
        let error = read(&text, "age").unwrap_err();
        assert!(
            matches!(
                &error,
                DataError::NotANumber {
                    line: 10,
                    column: 3,
                    ..
                }
            ),
            "{error:?}"
        );
    }
}
