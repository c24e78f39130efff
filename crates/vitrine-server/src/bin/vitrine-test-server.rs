//! `vitrine` built with the `test-clock` feature, for the browser tests only: the same program,
//! under another name so that it never takes the real binary's place in the target directory.

include!("../main.rs");
