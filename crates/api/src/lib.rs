//! rvdb-api
