//! Moving values between host vectors and device tensors, written once.

use burn::tensor::{Device, Int, Tensor, TensorData};

/// A tensor's values as `f32`, whatever its float type.
pub fn to_f32<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec()
        .expect("a float tensor converts to f32")
}

/// An integer tensor's values.
pub fn to_i64<const D: usize>(t: Tensor<D, Int>) -> Vec<i64> {
    t.into_data()
        .convert::<i64>()
        .try_to_vec()
        .expect("an int tensor converts to i64")
}

/// A 1-D tensor of `values` on `device`.
pub fn vector(values: Vec<f32>, device: &Device) -> Tensor<1> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

/// A 1-D integer tensor of `values` on `device`.
pub fn int_vector(values: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}
