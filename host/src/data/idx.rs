//! IDX files, the format of MNIST (LeCun et al., "Gradient-based learning applied to document
//! recognition", 1998) and of Fashion-MNIST (Xiao et al., 2017), plain or gzip'd.
//!
//! An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
//! dimensions), one big-endian `u32` per dimension, then the values. Only unsigned bytes
//! (type 0x08) occur in these data sets, so the magic number fixes both the type and the
//! dimension count: 0x0803 for images (count, rows, columns), 0x0801 for labels (count).
//! Image sizes are taken from the header rather than assumed, so other IDX image sets of
//! any size load too.

use std::path::Path;

use super::read::{find_plain_or_gz, read_maybe_gzip};
use super::{DataError, Dataset, Inputs, Samples, Targets, Task};

/// Magic number of an IDX file of unsigned bytes in 3 dimensions (images).
const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes in 1 dimension (labels).
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Fashion-MNIST's class names, in label order (from its official description).
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// MNIST's classes are the digits.
pub const MNIST_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// The images of one IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows of one image.
    pub rows: usize,
    /// Columns of one image.
    pub cols: usize,
    /// `count × rows × cols` bytes, row-major.
    pub pixels: Vec<u8>,
}

/// Reads an IDX images file (magic 0x00000803), gzip'd or not.
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    let bytes = read_maybe_gzip(path)?;
    let (dims, data) = parse_header(path, &bytes, IMAGES_MAGIC)?;
    // The magic number was checked, so there are exactly three dimensions.
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        let what = format!("images of {rows}x{cols} pixels");
        return Err(DataError::malformed(path, what));
    }
    check_length(path, data, count, rows.saturating_mul(cols))?;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: data.to_vec(),
    })
}

/// Reads an IDX labels file (magic 0x00000801), gzip'd or not; each label must be below
/// `classes`.
pub fn read_idx_labels(path: &Path, classes: usize) -> Result<Vec<u32>, DataError> {
    let bytes = read_maybe_gzip(path)?;
    let (dims, data) = parse_header(path, &bytes, LABELS_MAGIC)?;
    check_length(path, data, dims[0], 1)?;
    data.iter()
        .enumerate()
        .map(|(record, &label)| {
            if usize::from(label) < classes {
                Ok(u32::from(label))
            } else {
                Err(DataError::LabelOutOfRange {
                    path: path.to_owned(),
                    record,
                    label: u32::from(label),
                    classes,
                })
            }
        })
        .collect()
}

/// Checks the magic number and returns the dimensions and the data after the header.
fn parse_header<'a>(
    path: &Path,
    bytes: &'a [u8],
    magic: u32,
) -> Result<(Vec<usize>, &'a [u8]), DataError> {
    let found = read_u32(path, bytes, 0, 4)?;
    if found != magic {
        return Err(DataError::BadMagic {
            path: path.to_owned(),
            expected: magic,
            found,
        });
    }
    let ndims = (magic & 0xff) as usize;
    let header_len = 4 + 4 * ndims;
    let dims = (0..ndims)
        .map(|d| read_u32(path, bytes, 4 + 4 * d, header_len).map(|v| v as usize))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((dims, &bytes[header_len..]))
}

/// The big-endian `u32` at `offset`; a truncated-header error (of `header_len`) past the end.
fn read_u32(path: &Path, bytes: &[u8], offset: usize, header_len: usize) -> Result<u32, DataError> {
    let truncated = || DataError::Truncated {
        path: path.to_owned(),
        record: None,
        expected: header_len,
        found: bytes.len(),
    };
    let word = bytes.get(offset..offset + 4).ok_or_else(truncated)?;
    let word: [u8; 4] = word.try_into().map_err(|_| truncated())?;
    Ok(u32::from_be_bytes(word))
}

/// Checks that `data` holds exactly `count` records of `record_len` bytes.
fn check_length(
    path: &Path,
    data: &[u8],
    count: usize,
    record_len: usize,
) -> Result<(), DataError> {
    // Header values are untrusted: a corrupt count must give an error, not an overflow.
    let Some(expected) = count.checked_mul(record_len) else {
        let what = format!("header declares {count} records of {record_len} bytes");
        return Err(DataError::malformed(path, what));
    };
    if data.len() < expected {
        return Err(DataError::Truncated {
            path: path.to_owned(),
            record: Some(data.len() / record_len),
            expected: record_len,
            found: data.len() % record_len,
        });
    }
    if data.len() > expected {
        return Err(DataError::SizeMismatch {
            path: path.to_owned(),
            what: format!("bytes after the header for {count} records of {record_len}"),
            expected,
            found: data.len(),
        });
    }
    Ok(())
}

/// Loads MNIST from a folder with the four official files (each plain or `.gz`).
pub fn load_mnist(dir: &Path) -> Result<Dataset, DataError> {
    load_idx_folder(dir, "mnist", &MNIST_CLASSES)
}

/// Loads Fashion-MNIST from a folder with the four official files (each plain or `.gz`).
pub fn load_fashion_mnist(dir: &Path) -> Result<Dataset, DataError> {
    load_idx_folder(dir, "fashion-mnist", &FASHION_MNIST_CLASSES)
}

/// Loads a folder holding `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte` (each plain or `.gz`) as a
/// classification set with one class per name in `class_names`.
pub fn load_idx_folder(dir: &Path, name: &str, class_names: &[&str]) -> Result<Dataset, DataError> {
    let classes = class_names.len();
    let (train, shape) = read_part(dir, "train", classes)?;
    let (test, test_shape) = read_part(dir, "t10k", classes)?;
    if test_shape != shape {
        return Err(DataError::SizeMismatch {
            path: find_plain_or_gz(dir, "t10k-images-idx3-ubyte")?,
            what: format!("pixels per test image (training images are {shape:?})"),
            expected: shape.iter().product(),
            found: test_shape.iter().product(),
        });
    }
    Ok(Dataset {
        name: name.to_owned(),
        task: Task::Classification { classes },
        sample_shape: shape.to_vec(),
        class_names: class_names.iter().map(|&n| n.to_owned()).collect(),
        train,
        test,
        target_transform: None,
        preparation: None,
    })
}

/// One part (`train` or `t10k`): its samples and the `[1, rows, cols]` sample shape.
fn read_part(dir: &Path, prefix: &str, classes: usize) -> Result<(Samples, [usize; 3]), DataError> {
    let images_path = find_plain_or_gz(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find_plain_or_gz(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = read_idx_images(&images_path)?;
    let labels = read_idx_labels(&labels_path, classes)?;
    if labels.len() != images.count {
        return Err(DataError::SizeMismatch {
            path: labels_path,
            what: format!("labels for the images of {}", images_path.display()),
            expected: images.count,
            found: labels.len(),
        });
    }
    let samples = Samples {
        inputs: Inputs::U8(images.pixels),
        targets: Targets::Classes(labels),
        coarse: None,
    };
    Ok((samples, [1, images.rows, images.cols]))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::PathBuf;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
        bytes.extend_from_slice(data);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// A folder of `train` + `test` 2×3 images (pixel = image index) labelled index % 10;
    /// training files gzip'd, test files plain, as a user's half-unpacked folder might be.
    fn write_folder(dir: &Path, train: u32, test: u32) {
        for (prefix, count, zip) in [("train", train, true), ("t10k", test, false)] {
            let pixels: Vec<u8> = (0..count * 6).map(|i| (i / 6) as u8).collect();
            let labels: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
            let files = [
                (
                    "images-idx3-ubyte",
                    idx(IMAGES_MAGIC, &[count, 2, 3], &pixels),
                ),
                ("labels-idx1-ubyte", idx(LABELS_MAGIC, &[count], &labels)),
            ];
            for (kind, bytes) in files {
                let (name, bytes) = if zip {
                    (format!("{prefix}-{kind}.gz"), gzip(&bytes))
                } else {
                    (format!("{prefix}-{kind}"), bytes)
                };
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    }

    #[test]
    fn folder_loads_with_the_shape_from_the_header() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path(), 12, 4);
        let data = load_mnist(dir.path()).unwrap();
        assert_eq!(data.sample_shape, vec![1, 2, 3]);
        assert_eq!((data.train.len(), data.test.len()), (12, 4));
        assert_eq!(data.train.inputs.len(), 12 * 6);
        assert_eq!(data.test.targets, Targets::Classes(vec![0, 1, 2, 3]));
        let Inputs::U8(pixels) = &data.train.inputs else {
            panic!("IDX pixels are bytes");
        };
        assert_eq!(&pixels[66..72], &[11; 6]);
        assert_eq!(data.class_names[7], "7");
    }

    #[test]
    fn wrong_magic_names_file_expected_and_found() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path(), 3, 3);
        // An images file where the labels should be: a classic mix-up.
        let wrong = idx(IMAGES_MAGIC, &[3, 1, 1], &[0, 1, 2]);
        std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), wrong).unwrap();
        let error = load_fashion_mnist(dir.path()).unwrap_err();
        assert!(
            matches!(
                error,
                DataError::BadMagic {
                    expected: 0x801,
                    found: 0x803,
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("t10k-labels-idx1-ubyte"), "{message}");
        assert!(
            message.contains("0x00000801") && message.contains("0x00000803"),
            "{message}"
        );
    }

    #[test]
    fn images_and_labels_count_mismatch_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path(), 3, 3);
        let labels = idx(LABELS_MAGIC, &[2], &[0, 1]);
        std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), labels).unwrap();
        let error = load_fashion_mnist(dir.path()).unwrap_err();
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
        let message = error.to_string();
        assert!(message.contains("t10k-labels-idx1-ubyte"), "{message}");
        assert!(message.contains("t10k-images-idx3-ubyte"), "{message}");
    }

    #[test]
    fn label_out_of_range_names_file_record_and_label() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path(), 3, 3);
        let labels = idx(LABELS_MAGIC, &[3], &[0, 1, 12]);
        std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), labels).unwrap();
        let error = load_mnist(dir.path()).unwrap_err();
        assert!(
            matches!(
                error,
                DataError::LabelOutOfRange {
                    record: 2,
                    label: 12,
                    classes: 10,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("t10k-labels-idx1-ubyte"),
            "{error}"
        );
    }

    #[test]
    fn truncated_images_name_the_incomplete_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images");
        std::fs::write(&path, idx(IMAGES_MAGIC, &[3, 2, 2], &[0; 10])).unwrap();
        let error = read_idx_images(&path).unwrap_err();
        assert!(
            matches!(
                error,
                DataError::Truncated {
                    record: Some(2),
                    expected: 4,
                    found: 2,
                    ..
                }
            ),
            "{error:?}"
        );
        std::fs::write(&path, &IMAGES_MAGIC.to_be_bytes()[..]).unwrap();
        let error = read_idx_images(&path).unwrap_err();
        assert!(
            matches!(error, DataError::Truncated { record: None, .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("the header"), "{error}");
        // A corrupt header declaring more bytes than memory can hold is an error, not a panic.
        let huge = idx(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[0; 4]);
        std::fs::write(&path, huge).unwrap();
        assert!(read_idx_images(&path).is_err());
    }

    #[test]
    fn bundled_fashion_mnist_slice_loads() {
        let dir = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../data/fashion-mnist-10k"
        ));
        let data = load_fashion_mnist(&dir).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (10_000, 2_000));
        assert_eq!(data.sample_shape, vec![1, 28, 28]);
        assert!(data.train.class_counts(10).iter().all(|&n| n > 0));
        assert!(data.test.class_counts(10).iter().all(|&n| n > 0));
        assert_eq!(data.class_names[9], "Ankle boot");
    }

    #[test]
    fn real_fashion_mnist_has_60000_and_10000_images() {
        let Some(dir) = crate::testing::shared_data("fashion-mnist") else {
            return;
        };
        let start = std::time::Instant::now();
        let data = load_fashion_mnist(&dir).unwrap();
        eprintln!("Fashion-MNIST loaded in {:.2?}", start.elapsed());
        assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
        assert_eq!(data.sample_shape, vec![1, 28, 28]);
        assert_eq!(data.train.class_counts(10), vec![6_000; 10]);
        assert_eq!(data.test.class_counts(10), vec![1_000; 10]);
    }
}
