//! Support code for weft's end-to-end tests.
