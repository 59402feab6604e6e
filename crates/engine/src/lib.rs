//! rvdb-engine
