//! CIFAR-10 and CIFAR-100 in their official binary layout (Krizhevsky, "Learning Multiple Layers
//! of Features from Tiny Images", 2009).
//!
//! A record is the label byte(s) then 3,072 pixel bytes: the red plane, then green, then blue,
//! each 32 rows of 32. That is already the `[C, H, W]` order models take, so pixels are copied
//! as they are. The binary layout is read rather than the Python one because it needs no
//! unpickling, and the official archive is read in memory so a user need not unpack it.

use std::path::Path;

use super::cifar_files::Files;
use super::{DataError, Dataset, Inputs, Samples, Targets, Task};

/// Shape of one CIFAR image: 3 colour planes of 32×32.
pub const CIFAR_SHAPE: [usize; 3] = [3, 32, 32];

/// Pixel bytes per record.
const PIXELS: usize = 3 * 32 * 32;

/// CIFAR-10's class names, used when `batches.meta.txt` is not beside the batches.
const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// CIFAR-100's number of superclasses (its coarse labels).
const CIFAR100_COARSE: usize = 20;

/// The two sets differ only in labels per record, file names and class counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Variant {
    Ten,
    Hundred,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Self::Ten => "cifar10",
            Self::Hundred => "cifar100",
        }
    }

    /// The folder the official archive unpacks to.
    pub(super) fn folder(self) -> &'static str {
        match self {
            Self::Ten => "cifar-10-batches-bin",
            Self::Hundred => "cifar-100-binary",
        }
    }

    /// The official archive's file name.
    pub(super) fn archive(self) -> &'static str {
        match self {
            Self::Ten => "cifar-10-binary.tar.gz",
            Self::Hundred => "cifar-100-binary.tar.gz",
        }
    }

    pub(super) fn train_files(self) -> &'static [&'static str] {
        match self {
            Self::Ten => &[
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin",
            ],
            Self::Hundred => &["train.bin"],
        }
    }

    pub(super) fn test_file(self) -> &'static str {
        match self {
            Self::Ten => "test_batch.bin",
            Self::Hundred => "test.bin",
        }
    }

    /// The text file of class names, one a line, in label order.
    pub(super) fn names_file(self) -> &'static str {
        match self {
            Self::Ten => "batches.meta.txt",
            Self::Hundred => "fine_label_names.txt",
        }
    }

    /// Classes of the target labels (CIFAR-100's fine labels).
    fn classes(self) -> usize {
        match self {
            Self::Ten => 10,
            Self::Hundred => 100,
        }
    }

    /// Label bytes before the pixels: CIFAR-100 has coarse then fine.
    fn label_bytes(self) -> usize {
        match self {
            Self::Ten => 1,
            Self::Hundred => 2,
        }
    }

    fn record_len(self) -> usize {
        self.label_bytes() + PIXELS
    }

    /// Every member this loader reads, to pick them out of an archive.
    pub(super) fn wanted(self) -> Vec<&'static str> {
        let mut names = self.train_files().to_vec();
        names.extend([self.test_file(), self.names_file()]);
        names
    }
}

/// Loads CIFAR-10 from `cifar-10-batches-bin/`, a folder holding it, or the official
/// `cifar-10-binary.tar.gz` (the archive itself or a folder holding it).
pub fn load_cifar10(path: &Path) -> Result<Dataset, DataError> {
    load(path, Variant::Ten)
}

/// Loads CIFAR-100 from its binary folder (`train.bin`, `test.bin`), a folder holding
/// `cifar-100-binary/`, or the official `cifar-100-binary.tar.gz`.
///
/// Targets are the 100 fine labels; the 20 coarse labels are in [`Samples::coarse`].
pub fn load_cifar100(path: &Path) -> Result<Dataset, DataError> {
    load(path, Variant::Hundred)
}

fn load(path: &Path, variant: Variant) -> Result<Dataset, DataError> {
    let files = Files::locate(path, variant)?;
    let train = read_part(&files, variant.train_files(), variant)?;
    let test = read_part(&files, &[variant.test_file()], variant)?;
    Ok(Dataset {
        name: variant.name().to_owned(),
        task: Task::Classification {
            classes: variant.classes(),
        },
        sample_shape: CIFAR_SHAPE.to_vec(),
        class_names: class_names(&files, variant)?,
        train,
        test,
        target_transform: None,
        preparation: None,
    })
}

/// The records of the files `names`, concatenated in that order.
fn read_part(files: &Files, names: &[&str], variant: Variant) -> Result<Samples, DataError> {
    let mut part = Part::default();
    for name in names {
        let (path, bytes) = files.get(name)?;
        part.append(&path, &bytes, variant)?;
    }
    Ok(part.into_samples(variant))
}

/// Records as they accumulate over the files of one part.
#[derive(Debug, Default)]
struct Part {
    pixels: Vec<u8>,
    labels: Vec<u32>,
    coarse: Vec<u32>,
}

impl Part {
    fn append(&mut self, path: &Path, bytes: &[u8], variant: Variant) -> Result<(), DataError> {
        let record_len = variant.record_len();
        let records = bytes.len() / record_len;
        let rest = bytes.len() % record_len;
        if rest != 0 {
            return Err(DataError::Truncated {
                path: path.to_owned(),
                record: Some(records),
                expected: record_len,
                found: rest,
            });
        }
        self.pixels.reserve(records * PIXELS);
        for (index, record) in bytes.chunks_exact(record_len).enumerate() {
            let (labels, pixels) = record.split_at(variant.label_bytes());
            let fine = labels[labels.len() - 1];
            check_label(path, index, fine, variant.classes())?;
            if variant == Variant::Hundred {
                check_label(path, index, labels[0], CIFAR100_COARSE)?;
                self.coarse.push(u32::from(labels[0]));
            }
            self.labels.push(u32::from(fine));
            self.pixels.extend_from_slice(pixels);
        }
        Ok(())
    }

    fn into_samples(self, variant: Variant) -> Samples {
        Samples {
            inputs: Inputs::U8(self.pixels),
            targets: Targets::Classes(self.labels),
            coarse: (variant == Variant::Hundred).then_some(self.coarse),
        }
    }
}

fn check_label(path: &Path, record: usize, label: u8, classes: usize) -> Result<(), DataError> {
    if usize::from(label) < classes {
        return Ok(());
    }
    Err(DataError::LabelOutOfRange {
        path: path.to_owned(),
        record,
        label: u32::from(label),
        classes,
    })
}

/// Class names from the names file where there is one; CIFAR-10's well-known names otherwise.
fn class_names(files: &Files, variant: Variant) -> Result<Vec<String>, DataError> {
    let Some((path, bytes)) = files.get_optional(variant.names_file())? else {
        return Ok(match variant {
            Variant::Ten => CIFAR10_CLASSES.iter().map(|&n| n.to_owned()).collect(),
            // A hundred names are not worth carrying; the file ships with the data.
            Variant::Hundred => Vec::new(),
        });
    };
    let names: Vec<String> = String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if names.len() != variant.classes() {
        return Err(DataError::SizeMismatch {
            path,
            what: "class names".to_owned(),
            expected: variant.classes(),
            found: names.len(),
        });
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    /// One record: label bytes, then a pixel pattern that tells records and planes apart.
    fn record(labels: &[u8], seed: u8) -> Vec<u8> {
        let mut bytes = labels.to_vec();
        bytes.extend((0..PIXELS).map(|i| seed.wrapping_add((i / 1024) as u8 * 100)));
        bytes
    }

    /// A CIFAR-10 folder with `per_batch` records in each file; label = record index % 10.
    fn write_cifar10(dir: &Path, per_batch: usize) {
        let names = Variant::Ten.train_files().iter().chain([&"test_batch.bin"]);
        for (file, name) in names.enumerate() {
            let bytes: Vec<u8> = (0..per_batch)
                .flat_map(|i| record(&[(i % 10) as u8], (file * per_batch + i) as u8))
                .collect();
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }

    #[test]
    fn cifar10_folder_loads_records_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        write_cifar10(dir.path(), 3);
        let data = load_cifar10(dir.path()).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (15, 3));
        assert_eq!(data.sample_shape, vec![3, 32, 32]);
        assert_eq!(data.class_names[0], "airplane");
        let Inputs::U8(pixels) = &data.train.inputs else {
            panic!("CIFAR pixels are bytes");
        };
        // Record 4 is the second of batch 2: seed 4; its green plane starts at 1024.
        assert_eq!(pixels[4 * PIXELS], 4);
        assert_eq!(pixels[4 * PIXELS + 1024], 104);
        assert_eq!(data.train.targets, Targets::Classes([0, 1, 2].repeat(5)));
        assert!(data.train.coarse.is_none());
    }

    #[test]
    fn truncated_record_names_file_and_record() {
        let dir = tempfile::tempdir().unwrap();
        write_cifar10(dir.path(), 2);
        let test = dir.path().join("test_batch.bin");
        let mut bytes = std::fs::read(&test).unwrap();
        bytes.truncate(PIXELS + 1 + 100);
        std::fs::write(&test, bytes).unwrap();
        let error = load_cifar10(dir.path()).unwrap_err();
        assert!(
            matches!(
                error,
                DataError::Truncated {
                    record: Some(1),
                    expected: 3073,
                    found: 100,
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("test_batch.bin") && message.contains("record 1"),
            "{message}"
        );
    }

    #[test]
    fn label_out_of_range_names_file_record_and_label() {
        let dir = tempfile::tempdir().unwrap();
        write_cifar10(dir.path(), 2);
        let mut bytes = record(&[3], 0);
        bytes.extend(record(&[10], 1));
        std::fs::write(dir.path().join("data_batch_3.bin"), bytes).unwrap();
        let error = load_cifar10(dir.path()).unwrap_err();
        assert!(
            matches!(
                error,
                DataError::LabelOutOfRange {
                    record: 1,
                    label: 10,
                    classes: 10,
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("data_batch_3.bin") && message.contains("label 10"),
            "{message}"
        );
    }

    #[test]
    fn cifar100_reads_coarse_then_fine_labels() {
        let dir = tempfile::tempdir().unwrap();
        let train: Vec<u8> = [(19, 99), (0, 5), (7, 42)]
            .iter()
            .enumerate()
            .flat_map(|(i, &(coarse, fine))| record(&[coarse, fine], i as u8))
            .collect();
        std::fs::write(dir.path().join("train.bin"), train).unwrap();
        std::fs::write(dir.path().join("test.bin"), record(&[1, 2], 9)).unwrap();
        let names: String = (0..100).map(|i| format!("class_{i}\n")).collect();
        std::fs::write(dir.path().join("fine_label_names.txt"), names).unwrap();

        let data = load_cifar100(dir.path()).unwrap();
        assert_eq!(data.task, Task::Classification { classes: 100 });
        assert_eq!(data.train.targets, Targets::Classes(vec![99, 5, 42]));
        assert_eq!(data.train.coarse, Some(vec![19, 0, 7]));
        assert_eq!(data.test.coarse, Some(vec![1]));
        assert_eq!(data.class_names[42], "class_42");
        let Inputs::U8(pixels) = &data.train.inputs else {
            panic!("CIFAR pixels are bytes");
        };
        assert_eq!(
            (pixels.len(), pixels[PIXELS], pixels[2 * PIXELS + 2048]),
            (3 * PIXELS, 1, 202)
        );
    }

    #[test]
    fn cifar100_coarse_label_out_of_range_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("train.bin"), record(&[20, 3], 0)).unwrap();
        std::fs::write(dir.path().join("test.bin"), record(&[1, 2], 0)).unwrap();
        let error = load_cifar100(dir.path()).unwrap_err();
        assert!(
            matches!(
                error,
                DataError::LabelOutOfRange {
                    label: 20,
                    classes: 20,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("train.bin"), "{error}");
    }

    /// Packs `folder` into `archive` as `cifar-10-batches-bin/<file>` members, like the original.
    fn pack(folder: &Path, archive: &Path) {
        let gz = GzEncoder::new(std::fs::File::create(archive).unwrap(), Compression::fast());
        let mut tar = tar::Builder::new(gz);
        tar.append_dir_all("cifar-10-batches-bin", folder).unwrap();
        tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    }

    #[test]
    fn cifar10_archive_loads_like_the_folder() {
        let unpacked = tempfile::tempdir().unwrap();
        write_cifar10(unpacked.path(), 4);
        std::fs::write(
            unpacked.path().join("batches.meta.txt"),
            "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n",
        )
        .unwrap();
        let expected = load_cifar10(unpacked.path()).unwrap();
        assert_eq!(expected.class_names[9], "j");

        let downloads = tempfile::tempdir().unwrap();
        let archive = downloads.path().join("cifar-10-binary.tar.gz");
        pack(unpacked.path(), &archive);
        assert_eq!(load_cifar10(&archive).unwrap(), expected);
        // The folder the archive was downloaded to works too.
        assert_eq!(load_cifar10(downloads.path()).unwrap(), expected);
    }

    #[test]
    fn error_inside_an_archive_names_archive_and_member() {
        let unpacked = tempfile::tempdir().unwrap();
        write_cifar10(unpacked.path(), 1);
        std::fs::write(unpacked.path().join("data_batch_2.bin"), [0u8; 10]).unwrap();
        let downloads = tempfile::tempdir().unwrap();
        let archive = downloads.path().join("cifar-10-binary.tar.gz");
        pack(unpacked.path(), &archive);
        let error = load_cifar10(&archive).unwrap_err();
        assert!(
            matches!(
                error,
                DataError::Truncated {
                    record: Some(0),
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("cifar-10-binary.tar.gz/cifar-10-batches-bin/data_batch_2.bin"),
            "{message}"
        );
    }

    #[test]
    fn a_folder_without_cifar_is_a_missing_file_error() {
        let dir = tempfile::tempdir().unwrap();
        let error = load_cifar10(dir.path()).unwrap_err();
        assert!(matches!(error, DataError::MissingFile { .. }), "{error:?}");
        assert!(error.to_string().contains("data_batch_1.bin"), "{error}");
    }

    #[test]
    fn real_cifar10_has_50000_and_10000_balanced_records() {
        let Some(dir) = crate::testing::shared_data("cifar-10-batches-bin") else {
            return;
        };
        let start = std::time::Instant::now();
        let data = load_cifar10(&dir).unwrap();
        eprintln!("CIFAR-10 loaded in {:.2?}", start.elapsed());
        assert_eq!((data.train.len(), data.test.len()), (50_000, 10_000));
        assert_eq!(data.train.class_counts(10), vec![5_000; 10]);
        assert_eq!(data.test.class_counts(10), vec![1_000; 10]);
        assert_eq!(data.train.inputs.len(), 50_000 * PIXELS);
        assert_eq!(
            data.class_names,
            CIFAR10_CLASSES.map(str::to_owned).to_vec()
        );
    }
}
