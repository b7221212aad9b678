//! qtloop (work in progress).
pub mod core;
pub mod error;
pub use error::{Error, Result};
