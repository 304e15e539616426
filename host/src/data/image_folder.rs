//! A user's own images: `root/train/<class>/*.png|jpg|jpeg` and `root/test/<class>/*`, one
//! sub-folder per class, the layout torchvision's `ImageFolder` made common.
//!
//! Classes are the sorted folder names and files are read in name order, so the same folder
//! always gives the same labels and sample order on every machine (directory listings come in
//! no defined order). Every image is decoded to 8-bit RGB — grey images too — so one model
//! shape fits all, and all images must share one size because models take fixed shapes;
//! resizing silently would hide a mistake in the data.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use image::RgbImage;

use super::{DataError, Dataset, Inputs, Samples, Targets, Task};

/// File extensions read as images (compared case-insensitively).
const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Loads `root/train` and `root/test`; the data set is named after `root`.
pub fn load_image_folder(root: &Path) -> Result<Dataset, DataError> {
    let train_dir = root.join("train");
    let test_dir = root.join("test");
    let classes = class_folders(&train_dir)?;
    let test_classes = class_folders(&test_dir)?;
    check_same_classes(&test_dir, &classes, &test_classes)?;

    let mut size = None;
    let train = read_part(&train_dir, &classes, &mut size, true)?;
    let test = read_part(&test_dir, &classes, &mut size, false)?;
    let (width, height) = size.map_or((0, 0), |(size, _)| size);
    let name = root.file_name().map_or_else(
        || "image-folder".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(Dataset {
        name,
        task: Task::Classification {
            classes: classes.len(),
        },
        sample_shape: vec![3, height as usize, width as usize],
        class_names: classes,
        train,
        test,
        target_transform: None,
        preparation: None,
    })
}

/// Sorted names of the sub-folders of `dir`.
fn class_folders(dir: &Path) -> Result<Vec<String>, DataError> {
    if !dir.is_dir() {
        return Err(DataError::MissingFile {
            path: dir.to_owned(),
            what: "a folder with one sub-folder of images per class".to_owned(),
        });
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(DataError::io(dir))? {
        let entry = entry.map_err(DataError::io(dir))?;
        if entry.path().is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    if names.is_empty() {
        return Err(DataError::malformed(dir, "no class sub-folders"));
    }
    Ok(names)
}

/// Train and test must name the same classes, or labels would mean different things.
fn check_same_classes(test_dir: &Path, train: &[String], test: &[String]) -> Result<(), DataError> {
    if train == test {
        return Ok(());
    }
    let train: BTreeSet<_> = train.iter().collect();
    let test: BTreeSet<_> = test.iter().collect();
    let only_train: Vec<_> = train.difference(&test).collect();
    let only_test: Vec<_> = test.difference(&train).collect();
    let what = format!(
        "class folders differ from train's: only in train {only_train:?}, only in test {only_test:?}"
    );
    Err(DataError::malformed(test_dir, what))
}

/// The images of every class folder under `dir`, class by class, files in name order.
///
/// `size` holds the first image's size and path; every later image must match it.
fn read_part(
    dir: &Path,
    classes: &[String],
    size: &mut Option<((u32, u32), PathBuf)>,
    need_images: bool,
) -> Result<Samples, DataError> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (label, class) in (0u32..).zip(classes) {
        let files = image_files(&dir.join(class))?;
        if need_images && files.is_empty() {
            let what = format!("no {} images", EXTENSIONS.join("/"));
            return Err(DataError::malformed(dir.join(class), what));
        }
        for path in files {
            let image = decode(&path)?;
            check_size(&path, image.dimensions(), size)?;
            push_planes(&mut pixels, &image);
            labels.push(label);
        }
    }
    Ok(Samples {
        inputs: Inputs::U8(pixels),
        targets: Targets::Classes(labels),
        coarse: None,
    })
}

/// Image files of `dir` (by extension), sorted by name.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(DataError::io(dir))? {
        let path = entry.map_err(DataError::io(dir))?.path();
        let is_image = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
        if is_image && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn decode(path: &Path) -> Result<RgbImage, DataError> {
    let reader = image::ImageReader::open(path).map_err(DataError::io(path))?;
    // The content decides the format: a PNG saved as `.jpg` still loads.
    let reader = reader.with_guessed_format().map_err(DataError::io(path))?;
    let image = reader.decode().map_err(|source| DataError::Image {
        path: path.to_owned(),
        source,
    })?;
    Ok(image.to_rgb8())
}

fn check_size(
    path: &Path,
    found: (u32, u32),
    size: &mut Option<((u32, u32), PathBuf)>,
) -> Result<(), DataError> {
    match size {
        None => {
            *size = Some((found, path.to_owned()));
            Ok(())
        }
        Some((expected, _)) if *expected == found => Ok(()),
        Some((expected, reference)) => Err(DataError::ImageSizeMismatch {
            path: path.to_owned(),
            found,
            reference: reference.clone(),
            expected: *expected,
        }),
    }
}

/// Appends `image` as three planes (R, G, B), the `[C, H, W]` order models take; decoders
/// give interleaved RGB triples.
fn push_planes(pixels: &mut Vec<u8>, image: &RgbImage) {
    let raw = image.as_raw();
    pixels.reserve(raw.len());
    for channel in 0..3 {
        pixels.extend(raw.iter().skip(channel).step_by(3));
    }
}

#[cfg(test)]
mod tests {
    use image::{GrayImage, Luma, Rgb};

    use super::*;

    /// A `width × height` image whose pixel (x, y) is (x, y, seed).
    fn save(path: &Path, width: u32, height: u32, seed: u8) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        RgbImage::from_fn(width, height, |x, y| Rgb([x as u8, y as u8, seed]))
            .save(path)
            .unwrap();
    }

    /// Two classes, `cat` and `ant` (listed out of order on purpose), two train images each.
    fn write_folder(root: &Path) {
        for class in ["cat", "ant"] {
            for (file, seed) in [("b.png", 2), ("a.png", 1)] {
                save(&root.join("train").join(class).join(file), 4, 3, seed);
            }
            save(&root.join("test").join(class).join("x.png"), 4, 3, 9);
        }
    }

    #[test]
    fn classes_sorted_files_in_name_order_pixels_as_planes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("bugs");
        write_folder(&root);
        let data = load_image_folder(&root).unwrap();
        assert_eq!(data.name, "bugs");
        assert_eq!(data.class_names, vec!["ant", "cat"]);
        assert_eq!(data.sample_shape, vec![3, 3, 4]);
        assert_eq!(data.train.targets, Targets::Classes(vec![0, 0, 1, 1]));
        assert_eq!(data.test.len(), 2);
        let Inputs::U8(pixels) = &data.train.inputs else {
            panic!("images are bytes");
        };
        // First image is ant/a.png (seed 1): R plane = x, G plane = y, B plane = 1.
        assert_eq!(&pixels[..4], &[0, 1, 2, 3]);
        assert_eq!(&pixels[12..20], &[0, 0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(&pixels[24..36], &[1; 12]);
        assert_eq!(pixels[36 + 24], 2, "second image is ant/b.png");
    }

    #[test]
    fn grey_and_jpeg_images_become_three_channels() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path());
        let grey = dir.path().join("train/cat/c.PNG");
        GrayImage::from_pixel(4, 3, Luma([77])).save(&grey).unwrap();
        save(&dir.path().join("train/cat/d.jpg"), 4, 3, 50);
        std::fs::write(dir.path().join("train/cat/notes.txt"), "not an image").unwrap();
        let data = load_image_folder(dir.path()).unwrap();
        assert_eq!(data.train.len(), 6);
        assert_eq!(data.train.inputs.len(), 6 * 36);
    }

    #[test]
    fn an_image_of_another_size_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path());
        let odd = dir.path().join("test/cat/y.png");
        save(&odd, 5, 3, 0);
        let error = load_image_folder(dir.path()).unwrap_err();
        assert!(
            matches!(
                &error,
                DataError::ImageSizeMismatch { path, found: (5, 3), expected: (4, 3), .. }
                    if *path == odd
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("y.png") && message.contains("5x3"),
            "{message}"
        );
        assert!(
            message.contains("4x3") && message.contains("a.png"),
            "{message}"
        );
    }

    #[test]
    fn different_class_folders_in_train_and_test_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path());
        save(&dir.path().join("test/bee/z.png"), 4, 3, 0);
        let error = load_image_folder(dir.path()).unwrap_err();
        assert!(matches!(error, DataError::Malformed { .. }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains("test") && message.contains("\"bee\""),
            "{message}"
        );
    }

    #[test]
    fn an_undecodable_image_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path());
        let broken = dir.path().join("train/ant/c.png");
        std::fs::write(&broken, b"\x89PNG\r\n\x1a\n broken").unwrap();
        let error = load_image_folder(dir.path()).unwrap_err();
        assert!(matches!(error, DataError::Image { .. }), "{error:?}");
        assert!(error.to_string().contains("c.png"), "{error}");
    }
}
