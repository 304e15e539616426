//! Named architectures, each written as a [`ModelSpec`] so that they are data like any other.

use super::spec::{Init, Layer, ModelSpec};

/// Presets by name, with a line on each.
pub const PRESETS: &[(&str, &str)] = &[
    ("mlp", "two hidden layers of 256 and 128 ReLU units"),
    (
        "lenet300_100",
        "LeCun et al.'s LeNet-300-100: two hidden layers of 300 and 100 ReLU units",
    ),
    (
        "lenet5",
        "LeNet-5 as in Table S1 of Brazowski & Schneidman: conv 6@5x5, pool, conv 16@5x5, pool, conv 120@5x5, fc 84, fc",
    ),
    (
        "vgg9",
        "VGG-9 as in Table S2: 64-M-128-M-256-256-M-512-512-M-512-512-M, batch norm and ReLU, one fc",
    ),
    (
        "resnet20",
        "He et al.'s CIFAR ResNet with 3x3 blocks per stage (16, 32, 64 channels)",
    ),
    (
        "resnet56",
        "He et al.'s CIFAR ResNet with 3x9 blocks per stage",
    ),
    (
        "cnn1d",
        "a small 1-D CNN for sequences such as methylation beta values",
    ),
];

/// A preset name that does not exist, or does not fit the data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PresetError {
    /// No preset of that name.
    #[error(
        "unknown model preset `{0}`; presets: mlp, lenet300_100, lenet5, vgg9, resnet20, resnet56, cnn1d"
    )]
    Unknown(String),
    /// A width multiplier that is not a positive number.
    #[error("width {0}: a preset's width multiplier must be a positive number")]
    Width(f64),
    /// The preset needs another input rank.
    #[error("preset `{name}` needs {needs} input, the data has shape {input:?}")]
    Input {
        /// The preset.
        name: String,
        /// What it needs, in words.
        needs: &'static str,
        /// The data's sample shape.
        input: Vec<usize>,
    },
}

/// The preset `name` for samples of shape `input` and `outputs` output units.
pub fn preset(name: &str, input: &[usize], outputs: usize) -> Result<ModelSpec, PresetError> {
    let image = |needs| match *input {
        [_, _, _] => Ok(()),
        _ => Err(PresetError::Input {
            name: name.to_string(),
            needs,
            input: input.to_vec(),
        }),
    };
    let mut spec = match name {
        "mlp" => ModelSpec::new(input.to_vec(), mlp(256, 128, outputs)),
        "lenet300_100" => ModelSpec::new(input.to_vec(), mlp(300, 100, outputs)),
        "lenet5" => {
            image("an image [C, H, W]")?;
            let mut spec = ModelSpec::new(input.to_vec(), lenet5(input, outputs));
            spec.init = Init::Xavier;
            spec
        }
        "vgg9" => {
            image("an image [C, H, W]")?;
            ModelSpec::new(input.to_vec(), vgg9(outputs))
        }
        "resnet20" | "resnet56" => {
            image("an image [C, H, W]")?;
            let blocks = if name == "resnet20" { 3 } else { 9 };
            ModelSpec::new(input.to_vec(), resnet(blocks, outputs))
        }
        "cnn1d" => match *input {
            [_, _] => ModelSpec::new(input.to_vec(), cnn1d(outputs)),
            _ => {
                return Err(PresetError::Input {
                    name: name.into(),
                    needs: "a sequence [C, L]",
                    input: input.to_vec(),
                });
            }
        },
        other => return Err(PresetError::Unknown(other.to_string())),
    };
    spec.layers.shrink_to_fit();
    Ok(spec)
}

/// `spec` with every hidden layer `width` times as wide: the output channels of each
/// convolution and the units of each linear layer but the last (the head keeps its outputs),
/// rounded, at least one. Residual blocks widen body and shortcut alike, so they still add up.
pub fn widen(spec: &ModelSpec, width: f64) -> Result<ModelSpec, PresetError> {
    if !(width.is_finite() && width > 0.0) {
        return Err(PresetError::Width(width));
    }
    let scale = |out: usize| ((out as f64 * width).round() as usize).max(1);
    fn widen_all(layers: &mut [Layer], scale: &dyn Fn(usize) -> usize) {
        for layer in layers {
            match layer {
                Layer::Conv1d { out, .. }
                | Layer::Conv2d { out, .. }
                | Layer::Linear { out, .. } => {
                    *out = scale(*out);
                }
                Layer::Residual { body, shortcut } => {
                    widen_all(body, scale);
                    widen_all(shortcut, scale);
                }
                _ => {}
            }
        }
    }
    let mut wide = spec.clone();
    let head = wide.layers.iter().rposition(|l| {
        matches!(
            l,
            Layer::Linear { .. } | Layer::Conv1d { .. } | Layer::Conv2d { .. }
        )
    });
    // The head and whatever follows it (an activation, say) keep their sizes.
    let end = head.unwrap_or(0);
    widen_all(&mut wide.layers[..end], &scale);
    Ok(wide)
}

fn conv2d(out: usize, kernel: usize, stride: usize, padding: usize, bias: bool) -> Layer {
    Layer::Conv2d {
        out,
        kernel,
        stride,
        padding,
        bias,
    }
}

fn conv1d(out: usize, kernel: usize, padding: usize) -> Layer {
    Layer::Conv1d {
        out,
        kernel,
        stride: 1,
        padding,
        bias: false,
    }
}

fn bn() -> Layer {
    Layer::BatchNorm {
        eps: 1e-5,
        momentum: 0.1,
    }
}

fn linear(out: usize) -> Layer {
    Layer::Linear { out, bias: true }
}

fn mlp(first: usize, second: usize, outputs: usize) -> Vec<Layer> {
    vec![
        Layer::Flatten,
        linear(first),
        Layer::Relu,
        linear(second),
        Layer::Relu,
        linear(outputs),
    ]
}

/// LeNet-5 expects 32x32 images; smaller ones (28x28 MNIST) are zero-padded up to it in the
/// first convolution, as LeCun et al. padded MNIST.
fn lenet5(input: &[usize], outputs: usize) -> Vec<Layer> {
    let side = input[1].min(input[2]);
    let padding = 32usize.saturating_sub(side) / 2;
    vec![
        conv2d(6, 5, 1, padding, true),
        Layer::Relu,
        Layer::MaxPool2d {
            kernel: 2,
            stride: None,
        },
        conv2d(16, 5, 1, 0, true),
        Layer::Relu,
        Layer::MaxPool2d {
            kernel: 2,
            stride: None,
        },
        conv2d(120, 5, 1, 0, true),
        Layer::Relu,
        Layer::Flatten,
        linear(84),
        Layer::Relu,
        linear(outputs),
    ]
}

fn vgg9(outputs: usize) -> Vec<Layer> {
    let mut layers = Vec::new();
    for stage in [&[64][..], &[128], &[256, 256], &[512, 512], &[512, 512]] {
        for &channels in stage {
            layers.extend([conv2d(channels, 3, 1, 1, false), bn(), Layer::Relu]);
        }
        layers.push(Layer::MaxPool2d {
            kernel: 2,
            stride: None,
        });
    }
    layers.extend([Layer::GlobalAvgPool, linear(outputs)]);
    layers
}

/// He et al. (2016), section 4.2: 6n+2 layers; projection shortcuts (1x1 conv + batch norm)
/// where the shape changes.
fn resnet(blocks_per_stage: usize, outputs: usize) -> Vec<Layer> {
    let mut layers = vec![conv2d(16, 3, 1, 1, false), bn(), Layer::Relu];
    let mut channels = 16;
    for (stage, width) in [16, 32, 64].into_iter().enumerate() {
        for block in 0..blocks_per_stage {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            let shortcut = if stride != 1 || channels != width {
                vec![conv2d(width, 1, stride, 0, false), bn()]
            } else {
                Vec::new()
            };
            let body = vec![
                conv2d(width, 3, stride, 1, false),
                bn(),
                Layer::Relu,
                conv2d(width, 3, 1, 1, false),
                bn(),
            ];
            layers.push(Layer::Residual { body, shortcut });
            layers.push(Layer::Relu);
            channels = width;
        }
    }
    layers.extend([Layer::GlobalAvgPool, linear(outputs)]);
    layers
}

fn cnn1d(outputs: usize) -> Vec<Layer> {
    let mut layers = Vec::new();
    for channels in [8, 16, 32] {
        layers.extend([
            conv1d(channels, 7, 3),
            bn(),
            Layer::Relu,
            Layer::MaxPool1d {
                kernel: 4,
                stride: None,
            },
        ]);
    }
    layers.extend([
        Layer::Flatten,
        Layer::Dropout { p: 0.2 },
        linear(64),
        Layer::Relu,
        linear(outputs),
    ]);
    layers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Layout;

    fn count(name: &str, input: &[usize], outputs: usize) -> usize {
        Layout::build(&preset(name, input, outputs).unwrap())
            .unwrap()
            .param_count()
    }

    #[test]
    fn parameter_counts_match_the_papers() {
        // LeNet-5 on CIFAR-10: 456 + 2,416 + 48,120 + 10,164 + 850.
        assert_eq!(count("lenet5", &[3, 32, 32], 10), 62_006);
        // The same network on 28x28 Fashion-MNIST, padded in the first convolution.
        assert_eq!(count("lenet5", &[1, 28, 28], 10), 61_706);
        // LeNet-300-100 on 28x28: 235,500 + 30,100 + 1,010 (Han et al.'s 267K).
        assert_eq!(count("lenet300_100", &[1, 28, 28], 10), 266_610);
        // He et al.'s 0.27M and 0.85M (269,722 and 853,018 with identity shortcuts), plus
        // 2,752 for the two projection shortcuts (1x1 conv and batch norm).
        assert_eq!(count("resnet20", &[3, 32, 32], 10), 269_722 + 2_752);
        assert_eq!(count("resnet56", &[3, 32, 32], 10), 853_018 + 2_752);
        // VGG-9: eight 3x3 convolutions without bias, their batch norms, one fc to 100 classes.
        assert_eq!(count("vgg9", &[3, 32, 32], 100), 9_217_728 + 5_504 + 51_300);
    }

    #[test]
    fn a_wider_preset_has_the_parameters_its_widths_give() {
        let wide = |name: &str, width: f64| {
            let spec = widen(&preset(name, &[3, 32, 32], 10).unwrap(), width).unwrap();
            Layout::build(&spec).unwrap()
        };
        // LeNet-5 ×2: conv 12@5x5, conv 32@5x5, conv 240@5x5, fc 168, head 10.
        let lenet = wide("lenet5", 2.0);
        let by_hand = (3 * 25 * 12 + 12)
            + (12 * 25 * 32 + 32)
            + (32 * 25 * 240 + 240)
            + (240 * 168 + 168)
            + (168 * 10 + 10);
        assert_eq!(lenet.param_count(), by_hand);
        assert_eq!(lenet.outputs(), 10, "the head keeps its outputs");
        // The MLP ×4: 1,024 and 512 hidden units.
        let mlp = wide("mlp", 4.0);
        assert_eq!(
            mlp.param_count(),
            (3072 * 1024 + 1024) + (1024 * 512 + 512) + (512 * 10 + 10)
        );
        // ×1 changes nothing; a residual network still adds its shortcuts up when widened.
        assert_eq!(
            wide("resnet20", 1.0).param_count(),
            count("resnet20", &[3, 32, 32], 10)
        );
        assert!(wide("resnet20", 2.0).param_count() > 3 * count("resnet20", &[3, 32, 32], 10));
        assert!(matches!(
            widen(&preset("mlp", &[3, 32, 32], 10).unwrap(), 0.0),
            Err(PresetError::Width(_))
        ));
    }

    #[test]
    fn every_preset_builds_for_its_kind_of_input() {
        for (name, _) in PRESETS {
            let input: &[usize] = if *name == "cnn1d" {
                &[1, 7503]
            } else {
                &[3, 32, 32]
            };
            let spec = preset(name, input, 10).unwrap();
            assert_eq!(Layout::build(&spec).unwrap().outputs(), 10, "{name}");
        }
        assert!(matches!(
            preset("cnn1d", &[3, 32, 32], 1),
            Err(PresetError::Input { .. })
        ));
        assert!(matches!(
            preset("alexnet", &[3, 32, 32], 1),
            Err(PresetError::Unknown(_))
        ));
    }
}
