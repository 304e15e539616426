//! One table of DNA methylation beta values with ages, TSV or CSV, plain or gzip'd.
//!
//! Two layouts are in common use and both are read:
//!
//! - **A, sites as rows** (GEO series matrices, the shared GSE74193 files): the header is an
//!   empty cell then sample ids; each further row is a CpG id then one value per sample; a row
//!   named `Age` holds the ages.
//! - **B, samples as rows** (what a data frame writes): a header of column names, one of them
//!   `age`, the others CpG ids, and optionally a first column of sample ids.
//!
//! The header decides: an `age` column means B, otherwise A (and an `Age` row must exist).
//! GEO's own series-matrix files (`!`-prefixed metadata, then the table) are read by
//! [`super::methylation_series`].
//!
//! A beta value may be missing (an empty cell, `NA`, `NaN` or `null`, as real series matrices
//! have): it is read as NaN, and [`super::methylation_prepare`] fills or drops it. An age may
//! not be missing: the error names the sample. The parser splits lines by hand rather than
//! through a CSV library: the tables are plain numbers, and a 7,500 × 472 table must load in a
//! fraction of a second.

use std::path::{Path, PathBuf};

use super::DataError;
use super::read::read_maybe_gzip;

/// The cells, sites and samples of one table, values sample-major (`samples × sites`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Table {
    /// The file, for error messages.
    pub path: PathBuf,
    /// Sample ids in row order of `values` (`sample N`, counted from 1, where the file has none).
    pub samples: Vec<String>,
    /// CpG site ids in column order of `values`.
    pub cpg_ids: Vec<String>,
    /// One age per sample (years; negative = before birth).
    pub ages: Vec<f32>,
    /// Beta values, one row of `cpg_ids.len()` per sample; NaN where a value is missing.
    pub values: Vec<f32>,
}

impl Table {
    /// The ages as numbers, or an error naming the first sample whose age is missing or not a
    /// number. `ages[i]` is the text of sample `i`'s age, `place(i)` where it is in the file.
    pub(super) fn parse_ages(
        path: &Path,
        samples: &[String],
        ages: &[&str],
        place: impl Fn(usize) -> String,
    ) -> Result<Vec<f32>, DataError> {
        ages.iter()
            .enumerate()
            .map(|(i, text)| match clean(text).parse::<f32>() {
                Ok(age) if age.is_finite() => Ok(age),
                _ => {
                    let what = match clean(text) {
                        text if is_missing(text) => "no age".to_owned(),
                        text => format!("the age {text:?}, not a number"),
                    };
                    let sample = samples.get(i).map_or("?", String::as_str);
                    let what = format!("sample {sample} ({}) has {what}", place(i));
                    Err(DataError::malformed(path, what))
                }
            })
            .collect()
    }
}

/// Reads a table in either layout; see the module docs.
pub(super) fn read_table(path: &Path, age_key: &str) -> Result<Table, DataError> {
    let bytes = read_maybe_gzip(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| DataError::malformed(path, format!("not UTF-8 text: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('!') {
        return super::methylation_series::read_series_matrix(path, text, age_key);
    }
    // Line numbers as an editor shows them: blank lines are skipped but still counted.
    let mut lines = (1..)
        .zip(text.lines())
        .filter(|(_, line)| !line.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| DataError::malformed(path, "empty table"))?;
    let delimiter = if header.contains('\t') { '\t' } else { ',' };
    let header: Vec<&str> = header.split(delimiter).map(clean).collect();
    let reader = Reader { path, delimiter };
    match header.iter().position(|h| h.eq_ignore_ascii_case("age")) {
        Some(age_column) => reader.samples_as_rows(&header, age_column, lines),
        None => reader.sites_as_rows(&header, lines),
    }
}

/// Parsing state shared by both layouts: the file and its delimiter.
struct Reader<'a> {
    path: &'a Path,
    delimiter: char,
}

impl Reader<'_> {
    /// Layout A: a CpG id then one value per sample on each line, ages on the `Age` line.
    fn sites_as_rows<'t>(
        &self,
        header: &[&str],
        lines: impl Iterator<Item = (usize, &'t str)>,
    ) -> Result<Table, DataError> {
        let samples: Vec<String> = header[1..].iter().map(|s| (*s).to_owned()).collect();
        if samples.is_empty() {
            return Err(DataError::malformed(
                self.path,
                "the header names no samples",
            ));
        }
        let (mut cpg_ids, mut site_major, mut ages) = (Vec::new(), Vec::new(), None);
        let mut row = Vec::with_capacity(samples.len());
        for (line_no, line) in lines {
            let mut cells = line.split(self.delimiter);
            let id = clean(cells.next().unwrap_or_default());
            if id.eq_ignore_ascii_case("age") {
                if ages.is_some() {
                    let what = format!("line {line_no}: a second Age row");
                    return Err(DataError::malformed(self.path, what));
                }
                let mut texts: Vec<&str> = cells.collect();
                if texts.len() > samples.len() {
                    return Err(self.row_length(line_no, header.len(), texts.len() + 1));
                }
                texts.resize(samples.len(), "");
                let place = |i: usize| format!("line {line_no}, column {}", i + 2);
                ages = Some(Table::parse_ages(self.path, &samples, &texts, place)?);
                continue;
            }
            row.clear();
            self.parse_cells(line_no, cells, header.len(), 1, &mut row)?;
            cpg_ids.push(id.to_owned());
            site_major.extend_from_slice(&row);
        }
        let ages = ages.ok_or_else(|| {
            DataError::malformed(self.path, "no `Age` row and no `age` column in the header")
        })?;
        let values = transpose(&site_major, cpg_ids.len(), samples.len());
        Ok(self.table(samples, cpg_ids, ages, values))
    }

    /// Layout B: one sample per line; an optional non-numeric first column of sample ids.
    fn samples_as_rows<'t>(
        &self,
        header: &[&str],
        age_column: usize,
        lines: impl Iterator<Item = (usize, &'t str)>,
    ) -> Result<Table, DataError> {
        let mut lines = lines.peekable();
        let first_cell = lines
            .peek()
            .and_then(|(_, line)| line.split(self.delimiter).next())
            .map(clean);
        let id_column = (age_column != 0
            && first_cell.is_some_and(|c| c.parse::<f32>().is_err() && !is_missing(c)))
        .then_some(0);
        let is_site = |c: usize| c != age_column && Some(c) != id_column;
        let cpg_ids = (0..header.len())
            .filter(|&c| is_site(c))
            .map(|c| header[c].to_owned())
            .collect();
        let (mut samples, mut ages, mut values) = (Vec::new(), Vec::new(), Vec::new());
        let mut cells: Vec<&str> = Vec::with_capacity(header.len());
        for (line_no, line) in lines {
            cells.clear();
            cells.extend(line.split(self.delimiter));
            if cells.len() > header.len() {
                return Err(self.row_length(line_no, header.len(), cells.len()));
            }
            let sample = match id_column {
                Some(c) => clean(cells[c]).to_owned(),
                None => format!("sample {}", samples.len() + 1),
            };
            samples.push(sample);
            let age = cells.get(age_column).copied().unwrap_or_default();
            let place = |_| format!("line {line_no}, column {}", age_column + 1);
            let at = samples.len() - 1;
            ages.push(Table::parse_ages(self.path, &samples[at..], &[age], place)?[0]);
            for column in (0..header.len()).filter(|&c| is_site(c)) {
                let cell = cells.get(column).copied();
                let cell = cell.ok_or_else(|| self.not_a_number(line_no, column + 1, ""))?;
                values.push(self.parse_cell(line_no, column + 1, cell)?);
            }
        }
        Ok(self.table(samples, cpg_ids, ages, values))
    }

    /// Parses the cells of one line (the first `first_column` cells already taken) into `out`,
    /// requiring exactly `columns` cells on the line in all.
    fn parse_cells<'t>(
        &self,
        line: usize,
        mut cells: impl Iterator<Item = &'t str>,
        columns: usize,
        first_column: usize,
        out: &mut Vec<f32>,
    ) -> Result<(), DataError> {
        let mut column = first_column;
        while let Some(cell) = cells.next() {
            column += 1;
            if column > columns {
                return Err(self.row_length(line, columns, column + cells.count()));
            }
            out.push(self.parse_cell(line, column, cell)?);
        }
        if column < columns {
            // A short line: its first absent cell is a missing value.
            return Err(self.not_a_number(line, column + 1, ""));
        }
        Ok(())
    }

    /// One finite number, or NaN for a missing value ([`is_missing`]); anything else
    /// (text, an infinity) is an error naming the cell.
    fn parse_cell(&self, line: usize, column: usize, cell: &str) -> Result<f32, DataError> {
        if let Ok(v) = cell.parse::<f32>()
            && v.is_finite()
        {
            return Ok(v);
        }
        let text = clean(cell);
        match text.parse::<f32>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ if is_missing(text) => Ok(f32::NAN),
            _ => Err(self.not_a_number(line, column, cell)),
        }
    }

    fn not_a_number(&self, line: usize, column: usize, text: &str) -> DataError {
        DataError::NotANumber {
            path: self.path.to_owned(),
            line,
            column,
            text: text.to_owned(),
        }
    }

    fn row_length(&self, line: usize, expected: usize, found: usize) -> DataError {
        DataError::SizeMismatch {
            path: self.path.to_owned(),
            what: format!("cells on line {line} (the header has {expected})"),
            expected,
            found,
        }
    }

    fn table(
        &self,
        samples: Vec<String>,
        cpg_ids: Vec<String>,
        ages: Vec<f32>,
        values: Vec<f32>,
    ) -> Table {
        Table {
            path: self.path.to_owned(),
            samples,
            cpg_ids,
            ages,
            values,
        }
    }
}

/// Whether a cleaned cell marks a missing value: empty, `NA`, `NaN` or `null` (any case).
pub(super) fn is_missing(cell: &str) -> bool {
    ["", "na", "nan", "null"]
        .iter()
        .any(|m| cell.eq_ignore_ascii_case(m))
}

/// A cell without surrounding blanks or double quotes (spreadsheets quote text cells).
pub(super) fn clean(cell: &str) -> &str {
    let cell = cell.trim();
    cell.strip_prefix('"')
        .and_then(|c| c.strip_suffix('"'))
        .unwrap_or(cell)
}

/// `rows × cols` row-major values as `cols × rows`.
pub(super) fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for (r, row) in values.chunks_exact(cols.max(1)).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_table_at(path: &Path) -> Result<Table, DataError> {
        read_table(path, "age")
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn sites_as_rows_gives_sample_major_values_and_the_age_row() {
        let dir = tempfile::tempdir().unwrap();
        let text =
            "\ts1\ts2\ts3\ncg1\t0.1\t0.2\t0.3\nAGE\t-0.5\t30\t61.25\r\ncg2\t0.4\t0.5\t0.6\n\n";
        let table = read_table_at(&write(dir.path(), "a.tsv", text)).unwrap();
        assert_eq!(table.cpg_ids, vec!["cg1", "cg2"]);
        assert_eq!(table.ages, vec![-0.5, 30.0, 61.25]);
        assert_eq!(table.values, vec![0.1, 0.4, 0.2, 0.5, 0.3, 0.6]);
    }

    #[test]
    fn samples_as_rows_with_and_without_an_id_column() {
        let dir = tempfile::tempdir().unwrap();
        let with_ids = "id,cg1,age,cg2\n\"GSM1\",0.1,40,0.2\nGSM2,0.3,-0.4,0.4\n";
        let table = read_table_at(&write(dir.path(), "b.csv", with_ids)).unwrap();
        assert_eq!(table.cpg_ids, vec!["cg1", "cg2"]);
        assert_eq!(table.ages, vec![40.0, -0.4]);
        assert_eq!(table.values, vec![0.1, 0.2, 0.3, 0.4]);

        let without_ids = "cg1\tcg2\tAge\n0.1\t0.2\t40\n";
        let table = read_table_at(&write(dir.path(), "c.tsv", without_ids)).unwrap();
        assert_eq!(table.cpg_ids, vec!["cg1", "cg2"]);
        assert_eq!((table.ages, table.values), (vec![40.0], vec![0.1, 0.2]));
    }

    #[test]
    fn a_non_numeric_value_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let text = "\ts1\ts2\ncg1\t0.1\t0.2\n\ncg2\t0.3\thigh\nAge\t1\t2\n";
        let path = write(dir.path(), "bad.tsv", text);
        let error = read_table_at(&path).unwrap_err();
        assert!(
            matches!(&error, DataError::NotANumber { line: 4, column: 3, text, .. } if text == "high"),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("bad.tsv"), "{message}");
        assert!(
            message.contains("line 4, column 3") && message.contains("\"high\""),
            "{message}"
        );
    }

    #[test]
    fn missing_values_are_nan_and_a_short_line_or_bad_age_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let text = ",a,b,c,d\ncg1,NaN,,null,NA\nAge,3,4,5,6\n";
        let table = read_table_at(&write(dir.path(), "n.csv", text)).unwrap();
        assert!(
            table.values.iter().all(|v| v.is_nan()),
            "{:?}",
            table.values
        );
        let short = read_table_at(&write(dir.path(), "s.csv", "id,cg1,age\nx,0.5\n")).unwrap_err();
        let message = short.to_string();
        assert!(
            message.contains("sample x") && message.contains("no age"),
            "{message}"
        );
        let text = "\tGSM1\tGSM2\ncg1\t0.1\t0.2\nAge\t30\tunknown\n";
        let error = read_table_at(&write(dir.path(), "a.tsv", text))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("sample GSM2")
                && error.contains("\"unknown\"")
                && error.contains("line 3"),
            "{error}"
        );
        let text = "id,cg1,age\nGSM7,0.5,NA\n";
        let error = read_table_at(&write(dir.path(), "b.csv", text))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("sample GSM7 (line 2, column 3) has no age"),
            "{error}"
        );
        let long =
            read_table_at(&write(dir.path(), "l.csv", ",a\ncg1,0.1,0.2\nAge,3\n")).unwrap_err();
        assert!(
            matches!(
                long,
                DataError::SizeMismatch {
                    expected: 2,
                    found: 3,
                    ..
                }
            ),
            "{long:?}"
        );
    }

    #[test]
    fn a_table_without_ages_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_table_at(&write(dir.path(), "x.tsv", "\ta\ncg1\t0.1\n")).unwrap_err();
        assert!(matches!(error, DataError::Malformed { .. }), "{error:?}");
        assert!(error.to_string().contains("x.tsv") && error.to_string().contains("Age"));
    }
}
