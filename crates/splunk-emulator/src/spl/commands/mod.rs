//! The commands that transform a stream of rows. Generating commands live in the executor,
//! which knows the dataset.

pub(crate) mod charting;
pub(crate) mod ordering;
pub(crate) mod stats;
pub(crate) mod streaming;
pub(crate) mod top;

use crate::spl::Row;

/// A lazy stream of rows, owned so a search job can consume it from anywhere.
pub(crate) type Rows = Box<dyn Iterator<Item = Row> + Send>;
