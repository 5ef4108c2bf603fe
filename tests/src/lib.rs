//! End-to-end tests that span the whole product (see `tests/`): convergence of the sync engine
//! against the simulators under webhook chaos. The tests that run the `weft` binary itself live
//! in `host/cli/tests/`, where Cargo provides the binary's path.
