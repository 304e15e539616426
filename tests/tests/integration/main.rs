//! Integration tests of coevo as a whole, in one test binary.

mod torch_roundtrip;
mod training;
