//! The `topoplace._core` extension module.
