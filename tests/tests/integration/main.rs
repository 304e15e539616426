//! Integration tests of coevo as a whole, in one test binary.

// Helper functions of tests unwrap as the tests do: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod abi;
mod cest;
mod codeepnet;
mod colearn;
mod conformance;
mod darwin;
mod experiments;
mod plugins;
mod torch_roundtrip;
mod training;
