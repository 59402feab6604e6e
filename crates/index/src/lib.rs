//! rvdb-index
