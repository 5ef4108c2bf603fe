//! Black-box tests of the NetSuite simulator over HTTP, driven as a client would drive it.

mod activity;
mod common;
mod concurrency;
mod matrix;
mod oauth;
mod records;
mod suiteql;
